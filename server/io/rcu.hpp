#pragma once
// Read-copy-update for one value: many reader threads, one writer (the control thread).
//
// Readers pay two stores to their own cache line and one load per batch: no locks, no
// reference counts, no writes to shared lines. The writer swaps in a new value and frees an
// old one only once every reader has either gone idle or started reading after the swap.
// Why it is safe: a reader announces the epoch it saw before loading the pointer, and the
// writer bumps the epoch after swapping the pointer; all of it is sequentially consistent, so
// a reader whose announcement the writer did not see must load the new pointer.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace io {

template <class T>
class RcuCell {
 public:
  RcuCell(std::size_t reader_count, std::unique_ptr<const T> initial)
      : slots_(std::make_unique<Slot[]>(reader_count)), slot_count_(reader_count), owned_(std::move(initial)) {
    current_.store(owned_.get());
  }
  RcuCell(const RcuCell&) = delete;
  RcuCell& operator=(const RcuCell&) = delete;

  class ReadGuard {
   public:
    ReadGuard(std::atomic<std::uint64_t>& slot, const T& value) : slot_(slot), value_(value) {}
    ReadGuard(const ReadGuard&) = delete;
    ReadGuard& operator=(const ReadGuard&) = delete;
    ~ReadGuard() { slot_.store(kIdle, std::memory_order_release); }
    const T& operator*() const { return value_; }
    const T* operator->() const { return &value_; }

   private:
    std::atomic<std::uint64_t>& slot_;
    const T& value_;
  };

  // Each reader thread uses its own index and holds at most one guard at a time.
  ReadGuard read(std::size_t reader) {
    std::atomic<std::uint64_t>& slot = slots_[reader].epoch;
    slot.store(epoch_.load());
    return ReadGuard{slot, *current_.load()};
  }

  // Writer side: only ever called from one thread.
  const T& current() const { return *owned_; }

  void publish(std::unique_ptr<const T> next) {
    current_.store(next.get());
    const std::uint64_t swapped_at = epoch_.fetch_add(1) + 1;
    retired_.emplace_back(swapped_at, std::move(owned_));
    owned_ = std::move(next);
    reclaim();
  }

  // Frees retired values no reader can still hold; returns how many remain.
  std::size_t reclaim() {
    std::erase_if(retired_, [this](const auto& entry) { return !possibly_read(entry.first); });
    return retired_.size();
  }

 private:
  static constexpr std::uint64_t kIdle = 0;

  bool possibly_read(std::uint64_t retired_at) const {
    for (std::size_t i = 0; i < slot_count_; ++i) {
      const std::uint64_t seen = slots_[i].epoch.load();
      if (seen != kIdle && seen < retired_at) return true;
    }
    return false;
  }

  struct alignas(64) Slot {
    std::atomic<std::uint64_t> epoch{kIdle};
  };

  std::unique_ptr<Slot[]> slots_;
  std::size_t slot_count_;
  alignas(64) std::atomic<const T*> current_{nullptr};
  std::atomic<std::uint64_t> epoch_{1};
  std::unique_ptr<const T> owned_;
  std::vector<std::pair<std::uint64_t, std::unique_ptr<const T>>> retired_;
};

}  // namespace io
