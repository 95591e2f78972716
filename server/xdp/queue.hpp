#pragma once
// One AF_XDP socket on one receive queue of an interface, with its own UMEM: the frames the XDP
// program redirects come in on it, and replies, built in the same frames, leave through it.
// Used by one worker thread only; nothing here allocates once it is open.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace xdp {

// What the XDP program writes in front of each frame it redirects (program.bpf.c's struct).
struct FrameMetadata {
  std::uint64_t tai_ns;
  std::uint32_t magic;
  std::uint32_t pad;
};
inline constexpr std::uint32_t kMetadataMagic = 0x534d4541u;

struct ReceivedFrame {
  std::uint64_t address = 0;     // in the UMEM: hand it back with transmit() or release()
  std::span<std::byte> bytes;    // the frame as received, from its Ethernet header
  std::size_t capacity = 0;      // how long a frame written in its place may be
  std::uint64_t arrived_tai_ns = 0;  // CLOCK_TAI when the program ran; 0: none came
};

struct QueueOptions {
  std::string interface;
  unsigned queue = 0;
  bool zero_copy = false;  // else copy mode
  bool generic = false;    // the program runs in generic (skb) mode: copy mode only
  bool busy_poll = false;
};

class Queue {
 public:
  // Null with what failed in `error` and errno's value in `error_number` when the socket cannot be made.
  static std::unique_ptr<Queue> open(const QueueOptions& options, std::string& error, int& error_number);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue();

  int fd() const;
  unsigned queue() const { return options_.queue; }
  bool zero_copy() const { return zero_copy_; }

  // Up to out.size() received frames; each must go back through transmit() or release().
  unsigned receive(std::span<ReceivedFrame> out);
  void release(std::uint64_t address);
  // Queues a frame of `length` bytes to send; flush() sends what is queued.
  void transmit(std::uint64_t address, std::size_t length);
  // Sends the queued frames, takes back the sent ones and gives the free ones to the kernel to
  // fill. Returns how many queued frames could not be sent (the ring was full): they are freed.
  unsigned flush();
  // Until a frame may be waiting, or `timeout_ms` passed (busy polling: drives the queue once).
  void wait(int timeout_ms);

 private:
  explicit Queue(QueueOptions options);
  void refill();
  void reap_completions();

  struct Rings;
  QueueOptions options_;
  std::unique_ptr<Rings> rings_;
  std::byte* area_ = nullptr;
  std::size_t area_size_ = 0;
  bool zero_copy_ = false;
  std::vector<std::uint64_t> free_;  // frames neither with the kernel nor in use; sized once
  std::vector<std::uint64_t> pending_address_;  // queued by transmit(), not yet on the ring
  std::vector<std::uint32_t> pending_length_;
  unsigned in_flight_ = 0;  // on the TX ring, not yet completed
};

// Frames per socket, and their size: 4096 × 2 KiB = 8 MiB of UMEM per queue.
inline constexpr std::size_t kFrameSize = 2048;
inline constexpr std::size_t kFrames = 4096;

}  // namespace xdp
