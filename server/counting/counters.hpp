#pragma once
// What smeard counts about the packets it serves, defined once: each worker bumps its own
// WorkerCounters (count() for a decision, count_sent() for a reply that left), and the control
// thread sums them into Totals for metrics, /status and the log line at exit.
//
// The hot path never locks or allocates: a counter has one writer, its worker, which bumps it
// with a relaxed load and store (no read-modify-write); readers may see it a little late.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "leapdb/time.hpp"
#include "server/ntp/responder.hpp"

namespace counting {

// Upper bounds of the processing-time histogram (kernel receive timestamp to transmit
// timestamp), in nanoseconds; one more bucket counts everything above. Dense from 1 µs to 1 ms,
// where a healthy server's p50 and p99 fall, so the quantiles read off it mean something.
inline constexpr std::array<std::int64_t, 21> kProcessingBoundsNs{
    1'000,   2'000,   3'000,   5'000,   7'500,   10'000,  15'000,    20'000,    30'000,    50'000,    75'000,
    100'000, 150'000, 200'000, 300'000, 500'000, 750'000, 1'000'000, 2'000'000, 5'000'000, 10'000'000};
inline constexpr std::size_t kProcessingBuckets = kProcessingBoundsNs.size() + 1;
inline constexpr std::size_t kAuthResults = 5;  // ntp::AuthResult's

using Counter = std::atomic<std::uint64_t>;

inline void bump(Counter& counter, std::uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct alignas(64) WorkerCounters {
  Counter requests{0};
  Counter replies{0};
  std::array<Counter, 8> requests_by_version{};  // NTP version field, 0..7
  std::array<Counter, 8> replies_by_version{};
  std::array<Counter, kProcessingBuckets> processing_buckets{};
  Counter processing_sum_ns{0};
  Counter send_errors{0};
  Counter receive_errors{0};
  std::array<Counter, ntp::kDropReasonCount> drops{};
  Counter kod_deny{0};
  Counter kod_rate{0};
  Counter crypto_nak{0};
  Counter nts_ok{0};                         // NTS requests answered with time (malformed ones: drops)
  Counter nts_nak{0};                        // NTS NAKs sent
  Counter ratelimit_leaked{0};               // over the limit, answered anyway
  std::array<Counter, kAuthResults> auth{};  // by ntp::AuthResult
  Counter pin_violations{0};
  Counter sticky_violations{0};
  Counter mixed_clients{0};
  Counter interleaved_replies{0};  // carried the kernel's transmit timestamp of the previous reply
  Counter tx_timestamps{0};        // kernel transmit timestamps read back
};

// A request's outcome and what was learned on the way. Sent or not, a reply is counted as
// one only by count_sent().
void count(const ntp::Decision& decision, WorkerCounters& counters);
void count(ntp::DropReason reason, WorkerCounters& counters);
// A reply that left: its NTP version, and the time from its request's receive timestamp to
// its transmit timestamp.
void count_sent(std::uint8_t version, leapdb::Nanoseconds processing, WorkerCounters& counters);

// Workers' counters summed, as plain numbers.
struct Totals {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::array<std::uint64_t, 8> requests_by_version{};
  std::array<std::uint64_t, 8> replies_by_version{};
  std::array<std::uint64_t, kProcessingBuckets> processing_buckets{};  // not cumulative
  std::uint64_t processing_sum_ns = 0;
  std::uint64_t send_errors = 0;
  std::uint64_t receive_errors = 0;
  std::array<std::uint64_t, ntp::kDropReasonCount> drops{};
  std::uint64_t kod_deny = 0;
  std::uint64_t kod_rate = 0;
  std::uint64_t crypto_nak = 0;
  std::uint64_t nts_ok = 0;
  std::uint64_t nts_nak = 0;
  std::uint64_t ratelimit_leaked = 0;
  std::array<std::uint64_t, kAuthResults> auth{};
  std::uint64_t pin_violations = 0;
  std::uint64_t sticky_violations = 0;
  std::uint64_t mixed_clients = 0;
  std::uint64_t interleaved_replies = 0;
  std::uint64_t tx_timestamps = 0;

  std::uint64_t dropped(ntp::DropReason reason) const { return drops[static_cast<std::size_t>(reason)]; }
  Totals& operator+=(const WorkerCounters& counters);
  friend bool operator==(const Totals&, const Totals&) = default;
};

}  // namespace counting
