#include "server/nts/cookie_keeper.hpp"

namespace nts {
namespace {

std::int64_t whole_seconds(leapdb::Nanoseconds d) { return d.count() / 1'000'000'000; }

}  // namespace

std::optional<std::uint32_t> period_to_derive(std::optional<std::uint32_t> held, leapdb::Nanoseconds rotation,
                                              leapdb::UtcTime now, bool force) {
  const std::uint32_t period = cookie_period_at(whole_seconds(rotation), whole_seconds(now.time_since_epoch()));
  if (!force && held == period) return std::nullopt;
  return period;
}

bool CookieKeeper::rotate(std::span<const std::byte> secret, leapdb::Nanoseconds rotation, leapdb::UtcTime now,
                          bool force) {
  const std::optional<std::uint32_t> period = period_to_derive(period_, rotation, now, force);
  if (!period) return false;
  keys_ = cookie_keys_at(secret, whole_seconds(rotation), whole_seconds(now.time_since_epoch()));
  period_ = period;
  return true;
}

void CookieKeeper::clear() {
  keys_.clear();
  period_.reset();
}

}  // namespace nts
