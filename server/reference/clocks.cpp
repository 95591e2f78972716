#include "server/reference/clocks.hpp"

namespace reference {

ClockPair narrowest_pair(std::span<const ClockBracket> brackets) {
  const ClockBracket* best = &brackets.front();
  for (const ClockBracket& b : brackets) {
    if (b.raw_after - b.raw_before < best->raw_after - best->raw_before) best = &b;
  }
  const leapdb::Nanoseconds window = best->raw_after - best->raw_before;
  return ClockPair{best->realtime, best->raw_before + window / 2, window};
}

}  // namespace reference
