#include "server/ntp/rate_limit.hpp"

#include <algorithm>
#include <bit>

namespace ntp {

RateTable::RateTable(std::size_t entries, std::uint64_t seed)
    : table_(std::make_unique<Entry[]>(std::bit_ceil(std::max(entries, kWays)))),
      set_mask_(std::bit_ceil(std::max(entries, kWays)) / kWays - 1),
      hash_(seed) {}

RateTable::Admission RateTable::admit(const std::array<std::uint8_t, 16>& ip, std::int64_t now_ns,
                                      std::int64_t interval_ns, unsigned burst) {
  const std::int64_t tolerance_ns = interval_ns * (static_cast<std::int64_t>(std::max(burst, 1u)) - 1);
  const std::uint64_t h = hash_(ip);
  const auto tag = static_cast<std::uint32_t>(h >> 32) | 1u;
  Entry* set = &table_[(h & set_mask_) * kWays];
  Entry* entry = nullptr;
  Entry* oldest = set;
  for (std::size_t way = 0; way < kWays; ++way) {
    if (set[way].tag == tag) {
      entry = &set[way];
      break;
    }
    if (set[way].tag == 0 || (oldest->tag != 0 && set[way].arrival_ns < oldest->arrival_ns)) oldest = &set[way];
  }
  const bool fresh = entry == nullptr;
  if (fresh) {
    entry = oldest;
    *entry = Entry{tag, 0, now_ns};
  }
  // No allowed request leaves the arrival time more than tolerance + interval ahead; beyond
  // that the clock went back.
  if (entry->arrival_ns - now_ns > tolerance_ns + interval_ns) entry->arrival_ns = now_ns + tolerance_ns;

  const std::int64_t arrival = std::max(entry->arrival_ns, now_ns);
  if (arrival - now_ns > tolerance_ns) return {*entry, false, fresh};
  entry->arrival_ns = arrival + interval_ns;
  return {*entry, true, fresh};
}

RateLimiter::RateLimiter(std::size_t entries, std::uint64_t seed)
    : table_(entries, seed), random_((seed ^ 0x9e3779b97f4a7c15ULL) | 1) {}  // xorshift's state must never be 0

RateLimiter::Verdict RateLimiter::check(const RateLimitSettings& settings, const ClientAddress& client,
                                        leapdb::UtcTime now) {
  const std::int64_t now_ns = now.time_since_epoch().count();
  const std::int64_t interval_ns = settings.interval_log2 >= 0 ? 1'000'000'000LL << settings.interval_log2
                                                               : 1'000'000'000LL >> -settings.interval_log2;
  const auto now_16 = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now_ns) / 62'500'000u);
  const auto interval_16 = static_cast<std::uint32_t>(interval_ns / 62'500'000);

  const RateTable::Admission admission = table_.admit(client.ip, now_ns, interval_ns, settings.burst);
  // A new address may be sent a KoD at once.
  if (admission.fresh) admission.entry.last_kod = now_16 - interval_16;
  if (admission.admitted) return Verdict::answer;
  // xorshift64: cheap; seeded at random per worker, so which requests leak cannot be aimed at.
  random_ ^= random_ << 13;
  random_ ^= random_ >> 7;
  random_ ^= random_ << 17;
  if (settings.leak != 0 && (random_ & ((1u << settings.leak) - 1)) == 0) return Verdict::leak;
  if (now_16 - admission.entry.last_kod >= std::max<std::uint32_t>(interval_16, 1)) {
    admission.entry.last_kod = now_16;
    return Verdict::kod;
  }
  return Verdict::drop;
}

}  // namespace ntp
