// smeard built without libxdp, libbpf or clang: every xdp listener serves through sockets.
#include "server/xdp/attachment.hpp"

namespace xdp {

std::unique_ptr<Attachment> Attachment::open(const Settings&, const Target&, unsigned, Refusal& refusal) {
  refusal = {"unsupported", "this smeard was built without AF_XDP (clang, libxdp-dev and libbpf-dev were missing)"};
  return nullptr;
}
void Attachment::detach() {}
Attachment::~Attachment() = default;
unsigned receive_queues(const std::string&) { return 1; }

struct Queue::Rings {};
Queue::Queue(QueueOptions options) : options_(std::move(options)) {}
Queue::~Queue() = default;
std::unique_ptr<Queue> Queue::open(const QueueOptions&, std::string& error, int& error_number) {
  error = "built without AF_XDP";
  error_number = 0;
  return nullptr;
}
int Queue::fd() const { return -1; }
unsigned Queue::receive(std::span<ReceivedFrame>) { return 0; }
void Queue::release(std::uint64_t) {}
void Queue::transmit(std::uint64_t, std::size_t) {}
unsigned Queue::flush() { return 0; }
void Queue::wait(int) {}
void Queue::refill() {}
void Queue::reap_completions() {}

}  // namespace xdp
