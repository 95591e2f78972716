#pragma once
// smeard's XDP program on one interface, attached through a bpf_link (so a smeard that dies
// leaves nothing attached), and an AF_XDP socket on each of the interface's receive queues.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/xdp/queue.hpp"

struct bpf_object;

namespace xdp {

// What the configuration asks for (listeners[].xdp).
using Settings = config::Xdp;

// Which requests the program takes: UDP to this address and port.
struct Target {
  bool ipv6 = false;
  std::array<std::uint8_t, 16> address{};  // network order; IPv4 in the first 4 bytes
  std::uint16_t port = 0;
};

// Why a listener serves through sockets instead: a short code for metrics and a sentence.
struct Refusal {
  std::string reason;  // no_interface, no_privilege, busy, unsupported, error
  std::string problem;
};

class Attachment {
 public:
  // Loads and attaches the program and opens a socket on each of the first `queues` receive
  // queues (receive_queues(), counted once by the caller, which sized its readers by it), or says
  // why not (and leaves nothing).
  static std::unique_ptr<Attachment> open(const Settings& settings, const Target& target, unsigned queues,
                                          Refusal& refusal);
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  ~Attachment();  // detaches

  // The sockets, one per queue, for the workers to own; the attachment keeps the program.
  std::vector<std::unique_ptr<Queue>> take_queues() { return std::move(queues_); }
  const std::string& interface() const { return interface_; }
  bool generic() const { return generic_; }
  bool zero_copy() const { return zero_copy_; }
  // Detaches the program now; the sockets then receive nothing more.
  void detach();

 private:
  Attachment() = default;
  std::string interface_;
  ::bpf_object* object_ = nullptr;
  int link_fd_ = -1;
  bool generic_ = false;
  bool zero_copy_ = false;
  std::vector<std::unique_ptr<Queue>> queues_;
};

// The receive queues the kernel uses on `interface` (1 where it cannot tell).
unsigned receive_queues(const std::string& interface);

}  // namespace xdp
