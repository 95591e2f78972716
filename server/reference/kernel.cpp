#include "server/reference/kernel.hpp"

#include <sys/timex.h>

#include <algorithm>

#include "server/reference/clocks.hpp"

namespace reference {

KernelClockStatus read_kernel_clock_status() {
  timex tx{};
  const int state = ::adjtimex(&tx);
  KernelClockStatus status;
  status.synchronized = state != TIME_ERROR && state >= 0 && (tx.status & STA_UNSYNC) == 0;
  status.leap = state == TIME_OOP     ? KernelClockStatus::Leap::repeating
                : state == TIME_WAIT  ? KernelClockStatus::Leap::done
                : state == TIME_ERROR ? KernelClockStatus::Leap::hidden
                                      : KernelClockStatus::Leap::none;
  status.tai = tx.tai;
  status.armed = (tx.status & STA_INS) != 0 ? 1 : (tx.status & STA_DEL) != 0 ? -1 : 0;
  const bool nanoseconds = (tx.status & STA_NANO) != 0;
  status.time = leapdb::UtcTime{std::chrono::seconds{tx.time.tv_sec} +
                                (nanoseconds ? leapdb::Nanoseconds{tx.time.tv_usec}
                                             : std::chrono::microseconds{tx.time.tv_usec})};
  status.time_resolution = nanoseconds ? leapdb::Nanoseconds{1} : leapdb::Nanoseconds{1'000};
  status.max_error = leapdb::Nanoseconds{std::int64_t{tx.maxerror} * 1000};
  status.estimated_error = leapdb::Nanoseconds{std::int64_t{tx.esterror} * 1000};
  return status;
}

std::chrono::seconds kernel_leap_correction(leapdb::UtcTime reading, const leapdb::Leap& leap,
                                            const KernelClockStatus& later) {
  using std::chrono::seconds;
  const leapdb::UtcTime midnight = leap.effective;
  KernelClockStatus::Leap state = later.leap;
  if (state == KernelClockStatus::Leap::hidden) {
    // A clock error masks the leap state, not the TAI offset, which the kernel raises with
    // the repetition (adjtimex included, in the tick before the step).
    if (later.tai != leap.tai_utc) return seconds{0};  // not set, or not inserted yet
    state = later.time < midnight ? KernelClockStatus::Leap::repeating : KernelClockStatus::Leap::done;
  }
  switch (state) {
    case KernelClockStatus::Leap::repeating:
      // Past midnight while the kernel repeats 23:59:59: read in the tick before it stepped
      // back, so the reading is a second ahead of the kernel's own count.
      if (reading >= midnight) return seconds{-1};
      // Read earlier, so a reading no later than the kernel's clock was in the repetition too;
      // one past it was read in the first 23:59:59, before the kernel stepped back.
      return reading <= later.time + later.time_resolution ? seconds{1} : seconds{0};
    case KernelClockStatus::Leap::done:
      // The repetition has ended since a reading before midnight (the kernel's clock has
      // passed it again); a TIME_WAIT left over from an earlier leap leaves the clock before it.
      return reading < midnight && later.time >= midnight ? seconds{1} : seconds{0};
    case KernelClockStatus::Leap::none:
    case KernelClockStatus::Leap::hidden:
      break;
  }
  return seconds{0};
}

leapdb::TaiTime system_tai(const leapdb::LeapTable& table, leapdb::UtcTime reading, const KernelClockStatus& later) {
  const leapdb::TaiTime tai = table.to_tai(reading);
  for (const leapdb::Leap& leap : table.leaps) {
    if (leap.sign > 0 && reading >= leap.effective - std::chrono::seconds{1} &&
        reading < leap.effective + std::chrono::seconds{1}) {
      return tai + kernel_leap_correction(reading, leap, later);
    }
  }
  return tai;
}

std::vector<std::string> kernel_disagreements(const KernelClockStatus& status, const leapdb::LeapTable& table,
                                              leapdb::UtcTime now) {
  using namespace std::chrono;
  std::vector<std::string> problems;
  const int table_tai = table.tai_utc_at(now);
  if (status.tai != 0 && status.tai != table_tai) {
    problems.push_back("the kernel's TAI offset is " + std::to_string(status.tai) + " s, the leap table's " +
                       std::to_string(table_tai) + " s");
  }
  const auto midnight = floor<days>(now) + days{1};
  const leapdb::Leap* next = table.next_leap_after(now);
  const int tonight = next != nullptr && next->effective == midnight ? next->sign : 0;
  if (status.armed != 0 && status.armed != tonight) {
    problems.push_back(std::string{"the kernel is set to "} + (status.armed > 0 ? "insert" : "delete") +
                       " a second at " + leapdb::format_rfc3339(midnight) + ", which the leap table does not");
  }
  // Kernels are told of a leap on its day; in the last hours a synchronized one should know.
  if (tonight != 0 && status.armed == 0 && status.synchronized && now >= midnight - kKernelLeapArmingWindow &&
      status.leap != KernelClockStatus::Leap::repeating) {
    problems.push_back(std::string{"the leap table "} + (tonight > 0 ? "inserts" : "deletes") + " a second at " +
                       leapdb::format_rfc3339(midnight) +
                       " but the kernel was not told: whatever disciplines this clock may slew or smear it "
                       "itself, and a smear would then come on top");
  }
  return problems;
}

std::int8_t measure_precision() {
  timespec resolution{};
  ::clock_getres(CLOCK_REALTIME, &resolution);
  std::int64_t step = std::int64_t{resolution.tv_sec} * 1'000'000'000 + resolution.tv_nsec;
  // The smallest difference between two consecutive reads bounds what a timestamp can mean.
  std::int64_t cheapest_read = INT64_MAX;
  for (int i = 0; i < 100; ++i) {
    const auto a = realtime_now();
    const auto b = realtime_now();
    cheapest_read = std::min(cheapest_read, (b - a).count());
  }
  step = std::clamp<std::int64_t>(std::max(step, cheapest_read), 1, 1'000'000'000);
  // The smallest p with 2^p seconds >= step, i.e. the largest k = -p with step * 2^k <= 1 s.
  for (int k = 32; k > 0; --k) {
    if ((step << k) <= 1'000'000'000) return static_cast<std::int8_t>(-k);
  }
  return 0;
}

std::uint32_t encode_refid(const std::string& text) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto c = i < text.size() ? static_cast<unsigned char>(text[i]) : 0u;
    value = (value << 8) | c;
  }
  return value;
}

}  // namespace reference
