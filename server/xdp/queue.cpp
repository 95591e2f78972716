#include "server/xdp/queue.hpp"

#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xdp {
namespace {

constexpr std::uint32_t kRingSize = 2048;
constexpr std::uint64_t kFrameMask = ~static_cast<std::uint64_t>(kFrameSize - 1);
// Busy polling (preferred): how long one poll may spin, and how many frames it may take.
constexpr int kBusyPollMicroseconds = 20;
constexpr int kBusyPollBudget = 64;

#ifndef SO_PREFER_BUSY_POLL
constexpr int SO_PREFER_BUSY_POLL = 69;
#endif
#ifndef SO_BUSY_POLL_BUDGET
constexpr int SO_BUSY_POLL_BUDGET = 70;
#endif

}  // namespace

struct Queue::Rings {
  xsk_ring_prod fill{};
  xsk_ring_cons completion{};
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
  xsk_umem* umem = nullptr;
  xsk_socket* socket = nullptr;
};

Queue::Queue(QueueOptions options) : options_(std::move(options)), rings_(std::make_unique<Rings>()) {}

Queue::~Queue() {
  if (rings_->socket != nullptr) xsk_socket__delete(rings_->socket);
  if (rings_->umem != nullptr) xsk_umem__delete(rings_->umem);
  if (area_ != nullptr) ::munmap(area_, area_size_);
}

std::unique_ptr<Queue> Queue::open(const QueueOptions& options, std::string& error, int& error_number) {
  std::unique_ptr<Queue> queue{new Queue(options)};
  const auto fail = [&](const std::string& what, int number) {
    error_number = number;
    error = what;
    return nullptr;
  };
  queue->area_size_ = kFrames * kFrameSize;
  void* area = ::mmap(nullptr, queue->area_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                      -1, 0);
  if (area == MAP_FAILED) return fail("mmap of the UMEM", errno);
  queue->area_ = static_cast<std::byte*>(area);
  Rings& r = *queue->rings_;
  const xsk_umem_config umem_config{kRingSize, kRingSize, static_cast<std::uint32_t>(kFrameSize), 0, 0};
  if (const int e = xsk_umem__create(&r.umem, area, queue->area_size_, &r.fill, &r.completion, &umem_config); e != 0) {
    return fail("UMEM registration", -e);
  }
  xsk_socket_config socket_config{};
  socket_config.rx_size = kRingSize;
  socket_config.tx_size = kRingSize;
  socket_config.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // smeard attaches its own program
  socket_config.bind_flags =
      static_cast<std::uint16_t>((options.zero_copy ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP);
  if (const int e = xsk_socket__create(&r.socket, options.interface.c_str(), options.queue, r.umem, &r.rx, &r.tx,
                                       &socket_config);
      e != 0) {
    return fail(std::string{"AF_XDP socket on queue "} + std::to_string(options.queue) +
                    (options.zero_copy ? " (zero-copy)" : " (copy mode)"),
                -e);
  }
  xdp_options mode{};
  socklen_t length = sizeof mode;
  if (::getsockopt(queue->fd(), SOL_XDP, XDP_OPTIONS, &mode, &length) == 0) {
    queue->zero_copy_ = (mode.flags & XDP_OPTIONS_ZEROCOPY) != 0;
  }
  if (options.busy_poll) {
    const int on = 1, spin = kBusyPollMicroseconds, budget = kBusyPollBudget;
    if (::setsockopt(queue->fd(), SOL_SOCKET, SO_PREFER_BUSY_POLL, &on, sizeof on) != 0 ||
        ::setsockopt(queue->fd(), SOL_SOCKET, SO_BUSY_POLL, &spin, sizeof spin) != 0 ||
        ::setsockopt(queue->fd(), SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof budget) != 0) {
      return fail("busy polling", errno);
    }
  }
  queue->free_.reserve(kFrames);
  queue->pending_address_.reserve(kFrames);
  queue->pending_length_.reserve(kFrames);
  for (std::size_t i = kFrames; i-- > 0;) queue->free_.push_back(i * kFrameSize);
  queue->refill();
  return queue;
}

int Queue::fd() const { return xsk_socket__fd(rings_->socket); }

void Queue::refill() {
  if (free_.empty()) return;
  std::uint32_t index = 0;
  const auto spare = static_cast<std::uint32_t>(free_.size());
  // It may say more is free than asked about.
  const std::uint32_t room = std::min(xsk_prod_nb_free(&rings_->fill, spare), spare);
  const std::uint32_t n = xsk_ring_prod__reserve(&rings_->fill, room, &index);
  for (std::uint32_t i = 0; i < n; ++i) {
    *xsk_ring_prod__fill_addr(&rings_->fill, index + i) = free_.back();
    free_.pop_back();
  }
  xsk_ring_prod__submit(&rings_->fill, n);
}

void Queue::reap_completions() {
  std::uint32_t index = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&rings_->completion, kRingSize, &index);
  for (std::uint32_t i = 0; i < n; ++i) {
    free_.push_back(*xsk_ring_cons__comp_addr(&rings_->completion, index + i) & kFrameMask);
  }
  xsk_ring_cons__release(&rings_->completion, n);
  in_flight_ -= std::min(in_flight_, n);
}

unsigned Queue::receive(std::span<ReceivedFrame> out) {
  std::uint32_t index = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&rings_->rx, static_cast<std::uint32_t>(out.size()), &index);
  for (std::uint32_t i = 0; i < n; ++i) {
    const xdp_desc* desc = xsk_ring_cons__rx_desc(&rings_->rx, index + i);
    const std::uint64_t address = xsk_umem__add_offset_to_addr(desc->addr);
    const std::uint64_t offset = address & (kFrameSize - 1);
    std::byte* data = area_ + address;
    ReceivedFrame& frame = out[i];
    frame.address = address;
    frame.bytes = {data, std::min<std::size_t>(desc->len, kFrameSize - offset)};
    frame.capacity = kFrameSize - offset;
    frame.arrived_tai_ns = 0;
    if (offset >= sizeof(FrameMetadata)) {
      FrameMetadata meta{};
      std::memcpy(&meta, data - sizeof meta, sizeof meta);
      if (meta.magic == kMetadataMagic) frame.arrived_tai_ns = meta.tai_ns;
      // The frame comes back for other packets, which may carry no metadata.
      std::memset(data - sizeof meta, 0, sizeof meta);
    }
  }
  xsk_ring_cons__release(&rings_->rx, n);
  return n;
}

void Queue::release(std::uint64_t address) { free_.push_back(address & kFrameMask); }

void Queue::transmit(std::uint64_t address, std::size_t length) {
  pending_address_.push_back(address);
  pending_length_.push_back(static_cast<std::uint32_t>(length));
}

unsigned Queue::flush() {
  const auto queued = static_cast<std::uint32_t>(pending_address_.size());
  std::uint32_t index = 0;
  const std::uint32_t n = queued == 0 ? 0 : xsk_ring_prod__reserve(&rings_->tx, queued, &index);
  for (std::uint32_t i = 0; i < n; ++i) {
    xdp_desc* desc = xsk_ring_prod__tx_desc(&rings_->tx, index + i);
    desc->addr = pending_address_[i];
    desc->len = pending_length_[i];
    desc->options = 0;
  }
  xsk_ring_prod__submit(&rings_->tx, n);
  in_flight_ += n;
  for (std::uint32_t i = n; i < queued; ++i) release(pending_address_[i]);
  pending_address_.clear();
  pending_length_.clear();
  // In copy mode the kernel sends in this call; with zero-copy only when the driver asks.
  if (in_flight_ != 0 && (!zero_copy_ || xsk_ring_prod__needs_wakeup(&rings_->tx))) {
    (void)::sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);  // EAGAIN, EBUSY: next time
  }
  reap_completions();
  refill();
  return queued - n;
}

void Queue::wait(int timeout_ms) {
  if (in_flight_ != 0) flush();
  if (options_.busy_poll) {
    (void)::recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    return;
  }
  pollfd p{fd(), POLLIN, 0};
  (void)::poll(&p, 1, timeout_ms);
}

}  // namespace xdp
