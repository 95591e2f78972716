// Replaces operator new and delete for this test program (malloc and free, as
// tests/unit/server/ntp/allocations.cpp does for its own), so that delete can look at a block
// before it is freed: while it is still the program's to read. One Watch at a time, in a test
// that releases nothing from another thread meanwhile.
#include "tests/unit/server/nts/released.hpp"

#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {

struct State {
  std::atomic<bool> watching{false};
  std::array<std::byte, 64> pattern{};
  std::size_t pattern_length = 0;
  std::array<std::uintptr_t, 1024> released{};  // the first ones only
  std::size_t released_count = 0;
  std::size_t holding = 0;
};

State state;

void inspect(void* block, std::size_t size) {
  if (block == nullptr || !state.watching.load(std::memory_order_acquire)) return;
  if (state.released_count < state.released.size()) {
    state.released[state.released_count] = released::address_of(block);
  }
  ++state.released_count;
  const auto* begin = static_cast<const std::byte*>(block);
  const auto* end = begin + size;
  const auto pattern = std::span{state.pattern}.first(state.pattern_length);
  if (std::search(begin, end, pattern.begin(), pattern.end()) != end) ++state.holding;
}

}  // namespace

void* operator new(std::size_t size) {
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc{};
}
void operator delete(void* p) noexcept {
  inspect(p, p != nullptr ? ::malloc_usable_size(p) : 0);
  std::free(p);
}
void operator delete(void* p, std::size_t size) noexcept {
  inspect(p, size);
  std::free(p);
}

namespace released {

Watch::Watch(std::span<const std::byte> pattern) {
  state.pattern_length = std::min(pattern.size(), state.pattern.size());
  std::copy_n(pattern.begin(), state.pattern_length, state.pattern.begin());
  state.released_count = 0;
  state.holding = 0;
  state.watching.store(true, std::memory_order_release);
}

Watch::~Watch() { state.watching.store(false, std::memory_order_release); }

bool Watch::saw_release_of(std::uintptr_t address) const {
  const auto seen = std::span{state.released}.first(std::min(state.released_count, state.released.size()));
  return std::ranges::find(seen, address) != seen.end();
}

std::size_t Watch::blocks_holding_pattern() const { return state.holding; }

}  // namespace released
