// Counts the program's C++ allocations, so a test can show that answering makes none.
#include "tests/unit/server/ntp/allocations.hpp"

#include <cstdlib>
#include <new>

namespace test_allocations {
std::atomic<long> count{0};
}

void* operator new(std::size_t size) {
  test_allocations::count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc{};
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
