#pragma once
// A bounded single-producer, single-consumer ring: a worker hands events (such as a mixed
// client) to the control thread without locking or allocating. When full, new events are
// counted and dropped, never blocking the worker.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace io {

template <class T, std::size_t Capacity>
class EventRing {
  static_assert((Capacity & (Capacity - 1)) == 0, "Capacity must be a power of two");

 public:
  // Producer side.
  bool push(const T& event) {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) == Capacity) {
      overflowed_.store(overflowed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return false;
    }
    slots_[head & (Capacity - 1)] = event;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer side: calls take(event) for each waiting event; returns how many.
  template <class Take>
  std::size_t drain(Take&& take) {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::size_t count = static_cast<std::size_t>(head - tail);
    for (; tail != head; ++tail) take(slots_[tail & (Capacity - 1)]);
    tail_.store(tail, std::memory_order_release);
    return count;
  }

  std::uint64_t overflowed() const { return overflowed_.load(std::memory_order_relaxed); }

 private:
  std::array<T, Capacity> slots_{};
  alignas(64) std::atomic<std::uint64_t> head_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::atomic<std::uint64_t> overflowed_{0};
};

}  // namespace io
