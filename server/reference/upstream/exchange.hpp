#pragma once
// Pure. One client exchange with an upstream server, judged: is the reply ours, may its time
// be used, and what it measures. Our timestamps are on CLOCK_MONOTONIC_RAW, the axis the
// software clock (clock.hpp) lives on; the server's are UTC, taken to TAI through the leap
// table, so an offset is "server TAI minus raw" and no leap ever shows in it.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "leapdb/table.hpp"
#include "leapdb/time.hpp"
#include "server/ntp/packet.hpp"

namespace reference::upstream {

// A request in flight. The transmit timestamp is a random nonce the reply must echo (as
// chrony sends), so an off-path attacker cannot forge one; our real send time stays local.
struct Request {
  ntp::Timestamp nonce;
  leapdb::Nanoseconds sent_raw{0};
  leapdb::UtcTime sent_realtime{};
};

struct Measurement {
  leapdb::Nanoseconds raw{0};     // when: the middle of the exchange, on the raw axis
  leapdb::Nanoseconds offset{0};  // θ: server TAI minus raw there
  leapdb::Nanoseconds delay{0};   // δ: the round trip less the server's time, at least 0
  leapdb::Nanoseconds error{0};   // ε: both precisions and 15 ppm of the round trip
  leapdb::Nanoseconds system_offset{0};  // the server's UTC minus our CLOCK_REALTIME, for reports
  std::uint8_t stratum = 0;
  std::uint32_t reference_id = 0;
  ntp::LeapIndicator leap = ntp::LeapIndicator::none;
  leapdb::Nanoseconds root_delay{0};
  leapdb::Nanoseconds root_dispersion{0};
  std::int8_t precision = 0;

  // λ, RFC 5905's root distance: how far from the truth this sample may be.
  leapdb::Nanoseconds distance() const { return (delay + root_delay) / 2 + root_dispersion + error; }
};

enum class Verdict : std::uint8_t {
  sample,          // usable
  not_ours,        // too short, not server mode, or not echoing our nonce: ignored
  rate_limited,    // kiss-o'-death RATE: poll less often
  denied,          // kiss-o'-death DENY or RSTR: stop asking
  kiss_of_death,   // another kiss code: this reply carries no time
  unsynchronized,  // LI 3, stratum 16 or more, no reference time, or a root distance over 3 s
  missing_time,    // a zero receive or transmit timestamp: the server did not fill them in
  loop,            // above stratum 1, a refid that is one of our own addresses: it takes its time from us
  smeared,         // a refid that says the server smears: ntpd's 254.x.y.z, chrony's 127.127.1.255
  near_leap,       // the server's timestamps fall within a second of a leap: ambiguous UTC
  bogus,           // timestamps out of order
};
std::string_view to_string(Verdict verdict);

struct Judged {
  Verdict verdict = Verdict::not_ours;
  Measurement measurement;  // filled from `sample` on, where the header was readable
  std::string kiss;         // the kiss code, for the kiss-o'-death verdicts
};

// `received_raw`: the reply's arrival on the raw axis; `received_realtime` the same instant on
// CLOCK_REALTIME (the era pivot and the report's axis); `our_precision` log2 seconds;
// `own_reference_ids` the refids of our own addresses (reference_id() of each), for RFC 5905's
// loop check.
Judged judge(std::span<const std::byte> reply, const Request& request, leapdb::Nanoseconds received_raw,
             leapdb::UtcTime received_realtime, const leapdb::LeapTable& table, std::int8_t our_precision,
             std::span<const std::uint32_t> own_reference_ids = {});

// 2^precision seconds as nanoseconds, for precisions from -63 to 0 and more.
leapdb::Nanoseconds precision_span(std::int8_t precision);

}  // namespace reference::upstream
