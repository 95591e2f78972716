#include "server/ntp/snapshot.hpp"

#include <algorithm>

namespace ntp {

leapdb::TaiTime ReferenceClock::to_tai(leapdb::UtcTime reading, std::chrono::seconds kernel_correction) const {
  if (kind == Kind::simulated) {
    const leapdb::Int128 elapsed = (reading - origin).count();
    // A fast simulation run for long enough stops at the edge of what leap data covers (2200)
    // rather than wrap; every 64-bit intermediate is exact up to there.
    const leapdb::Int128 sum = start.time_since_epoch().count() + elapsed * rate_numerator / rate_denominator;
    const leapdb::Int128 held = std::clamp<leapdb::Int128>(sum, leapdb::kEarliestTime.time_since_epoch().count(),
                                                           leapdb::kLatestTime.time_since_epoch().count());
    return leapdb::TaiTime{leapdb::Nanoseconds{static_cast<std::int64_t>(held)}};
  }
  return table->to_tai(reading) + kernel_correction + correction.of(reading);
}

const leapdb::Leap* ReferenceClock::inserted_leap_near(leapdb::UtcTime reading) const {
  if (kind != Kind::system) return nullptr;
  for (const leapdb::Leap& leap : table->leaps) {
    if (leap.sign > 0 && reading >= leap.effective - std::chrono::seconds{1} &&
        reading < leap.effective + std::chrono::seconds{1}) {
      return &leap;
    }
  }
  return nullptr;
}

ReferenceClock::Steady ReferenceClock::steady_around(leapdb::UtcTime reading) const {
  if (kind != Kind::system || inserted_leap_near(reading) != nullptr) return {};
  Steady span{leapdb::UtcTime::min(), leapdb::UtcTime::max(),
              table->to_tai(reading) - leapdb::TaiTime{reading.time_since_epoch()}, correction};
  for (const leapdb::Leap& leap : table->leaps) {
    // The last second before each leap: deleted (every reading in it maps to the next
    // midnight, no shift), or followed by the kernel's repeated one.
    const leapdb::UtcTime last_second = leap.effective - std::chrono::seconds{1};
    if (leap.sign < 0 && last_second <= reading && reading < leap.effective) return {};
    // Inserted: the kernel's step back may come a tick after midnight.
    const leapdb::UtcTime first_second_after = leap.effective + std::chrono::seconds{leap.sign > 0 ? 1 : 0};
    for (const leapdb::UtcTime edge : {last_second, leap.effective, first_second_after}) {
      if (edge <= reading) span.from = std::max(span.from, edge);
      if (edge > reading) span.until = std::min(span.until, edge);
    }
  }
  return span;
}

HeaderQuality header_quality(const ServedQuality& quality, leapdb::TaiTime received) {
  HeaderQuality out;
  out.root_delay = quality.root_delay;
  // Past MAXDISP / 15 ppm (12 days) the dispersion is capped anyway; the bound keeps the
  // product in range, and a request stamped before the update ages nothing.
  constexpr leapdb::Int128 kLongest = leapdb::Int128{1} << 50;  // 13 days of nanoseconds
  const leapdb::Int128 elapsed = std::clamp<leapdb::Int128>(
      leapdb::Int128{received.time_since_epoch().count()} - quality.last_update.time_since_epoch().count(), 0, kLongest);
  const leapdb::Nanoseconds dispersion =
      quality.dispersion + quality.dispersion_growth.over(leapdb::Nanoseconds{static_cast<std::int64_t>(elapsed)});
  out.root_dispersion = to_ntp_short(std::min(dispersion, kMaxDispersion));
  if (received < quality.synchronized_until) {
    out.stratum = quality.stratum;
    out.reference_id = quality.reference_id;
  } else if (quality.local_stratum != 0) {
    out.stratum = quality.local_stratum;
    out.reference_id = quality.local_stratum == 1 ? kLocalRefid : kLocalAddressRefid;
  } else {
    // Nothing bounds the error any more: the largest dispersion there is.
    out.unsynchronized = true;
    out.stratum = kUnsynchronizedStratum;
    out.reference_id = 0;
    out.root_dispersion = to_ntp_short(kMaxDispersion);
  }
  return out;
}

bool in_network(const Network& network, const std::array<std::uint8_t, 16>& address) {
  const unsigned whole = network.prefix_length / 8, rest = network.prefix_length % 8;
  if (!std::equal(network.network.begin(), network.network.begin() + whole, address.begin())) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (network.network[whole] & mask) == (address[whole] & mask);
}

bool in_any(const std::vector<Network>& networks, const std::array<std::uint8_t, 16>& address) {
  return std::ranges::any_of(networks, [&address](const Network& network) { return in_network(network, address); });
}

Snapshot true_utc_snapshot() {
  Snapshot s;
  s.quality.dispersion_growth = {};  // a perfect clock: what tests and the fuzzer start from
  auto made = smear::Smearer::make(*s.clock.table, smear::parse_profile("none").profile.value());
  s.timescales.push_back(TimescaleView{"utc", std::make_shared<const smear::Smearer>(std::move(*made.smearer)),
                                       RefidConvention::reference, false, {}, {}});
  s.listener_timescale.push_back(0);
  return s;
}

}  // namespace ntp
