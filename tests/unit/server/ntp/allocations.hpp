#pragma once
// Every `new` in the test program (array forms included, which call it) is counted here.

#include <atomic>

namespace test_allocations {
extern std::atomic<long> count;
}
