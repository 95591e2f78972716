#include "server/counting/counters.hpp"

#include <algorithm>

namespace counting {
namespace {

std::uint64_t read(const Counter& counter) { return counter.load(std::memory_order_relaxed); }

template <std::size_t N>
void add(std::array<std::uint64_t, N>& sums, const std::array<Counter, N>& counters) {
  for (std::size_t i = 0; i < N; ++i) sums[i] += read(counters[i]);
}

}  // namespace

void count(ntp::DropReason reason, WorkerCounters& counters) { bump(counters.drops[static_cast<std::size_t>(reason)]); }

void count(const ntp::Decision& decision, WorkerCounters& counters) {
  if (decision.rate == ntp::RateLimiter::Verdict::leak) bump(counters.ratelimit_leaked);
  if (decision.auth != ntp::AuthResult::none) bump(counters.auth[static_cast<std::size_t>(decision.auth)]);
  if (decision.pin_violation) bump(counters.pin_violations);
  if (decision.sticky_violation) bump(counters.sticky_violations);
  if (decision.mixed) bump(counters.mixed_clients);
  if (const auto* drop = decision.as<ntp::Drop>()) count(drop->reason, counters);
  if (const auto* time = decision.as<ntp::TimeReply>()) {
    if (time->nts) bump(counters.nts_ok);
    if (time->interleaved_transmit) bump(counters.interleaved_replies);
  }
  if (decision.as<ntp::NtsNak>() != nullptr) bump(counters.nts_nak);
  if (const auto* kod = decision.as<ntp::KissOfDeath>()) {
    switch (kod->code) {
      case ntp::Kiss::deny:
        bump(counters.kod_deny);
        break;
      case ntp::Kiss::rate:
        bump(counters.kod_rate);
        break;
      case ntp::Kiss::crypto_nak:
        bump(counters.crypto_nak);
        break;
    }
  }
}

void count_sent(std::uint8_t version, leapdb::Nanoseconds processing, WorkerCounters& counters) {
  bump(counters.replies_by_version[version & 7u]);
  const std::int64_t ns = std::max<std::int64_t>(0, processing.count());
  const auto bucket = std::ranges::lower_bound(kProcessingBoundsNs, ns) - kProcessingBoundsNs.begin();
  bump(counters.processing_buckets[static_cast<std::size_t>(bucket)]);
  bump(counters.processing_sum_ns, static_cast<std::uint64_t>(ns));
}

Totals& Totals::operator+=(const WorkerCounters& counters) {
  requests += read(counters.requests);
  replies += read(counters.replies);
  add(requests_by_version, counters.requests_by_version);
  add(replies_by_version, counters.replies_by_version);
  add(processing_buckets, counters.processing_buckets);
  processing_sum_ns += read(counters.processing_sum_ns);
  send_errors += read(counters.send_errors);
  receive_errors += read(counters.receive_errors);
  add(drops, counters.drops);
  kod_deny += read(counters.kod_deny);
  kod_rate += read(counters.kod_rate);
  crypto_nak += read(counters.crypto_nak);
  nts_ok += read(counters.nts_ok);
  nts_nak += read(counters.nts_nak);
  ratelimit_leaked += read(counters.ratelimit_leaked);
  add(auth, counters.auth);
  pin_violations += read(counters.pin_violations);
  sticky_violations += read(counters.sticky_violations);
  mixed_clients += read(counters.mixed_clients);
  interleaved_replies += read(counters.interleaved_replies);
  tx_timestamps += read(counters.tx_timestamps);
  return *this;
}

}  // namespace counting
