#include "server/reference/system.hpp"

#include <sys/timex.h>

#include <algorithm>

#include "server/io/clock.hpp"
#include "server/ntp/timestamp.hpp"

namespace reference {

KernelClockStatus read_kernel_clock_status() {
  timex tx{};
  const int state = ::adjtimex(&tx);
  KernelClockStatus status;
  status.synchronized = state != TIME_ERROR && state >= 0 && (tx.status & STA_UNSYNC) == 0;
  status.max_error = leapdb::Nanoseconds{std::int64_t{tx.maxerror} * 1000};
  status.estimated_error = leapdb::Nanoseconds{std::int64_t{tx.esterror} * 1000};
  return status;
}

std::int8_t measure_precision() {
  timespec resolution{};
  ::clock_getres(CLOCK_REALTIME, &resolution);
  std::int64_t step = std::int64_t{resolution.tv_sec} * 1'000'000'000 + resolution.tv_nsec;
  // The smallest difference between two consecutive reads bounds what a timestamp can mean.
  std::int64_t cheapest_read = INT64_MAX;
  for (int i = 0; i < 100; ++i) {
    const auto a = io::realtime_now();
    const auto b = io::realtime_now();
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

ntp::Snapshot system_snapshot(const config::Reference& reference, const KernelClockStatus& status,
                              std::int8_t precision, leapdb::UtcTime now) {
  ntp::Snapshot snapshot;
  snapshot.stratum = 1;
  snapshot.precision = precision;
  snapshot.reference_id = encode_refid(reference.refid);
  snapshot.root_delay = 0;
  snapshot.root_dispersion = status.synchronized ? ntp::to_ntp_short(status.max_error) : 0;
  snapshot.reference_time = std::chrono::floor<std::chrono::seconds>(now);
  snapshot.leap = ntp::LeapIndicator::none;
  return snapshot;
}

}  // namespace reference
