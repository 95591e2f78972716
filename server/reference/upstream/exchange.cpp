#include "server/reference/upstream/exchange.hpp"

#include <algorithm>
#include <chrono>

#include "server/ntp/client.hpp"

namespace reference::upstream {

namespace {

// chrony's default maxdistance: a server that far from its own reference knows nothing useful.
constexpr leapdb::Nanoseconds kMaxRootDistance = std::chrono::seconds{3};
constexpr std::uint32_t kChronySmoothingRefid = 0x7F7F01FF;  // 127.127.1.255
constexpr std::uint32_t kNtpdSmearRefidByte = 0xFE;           // 254.x.y.z

std::string kiss_code(std::uint32_t reference_id) { return ntp::format_reference_id(0, reference_id); }

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::sample: return "sample";
    case Verdict::not_ours: return "not a reply to our request";
    case Verdict::rate_limited: return "kiss-o'-death RATE";
    case Verdict::denied: return "kiss-o'-death denying service";
    case Verdict::kiss_of_death: return "kiss-o'-death";
    case Verdict::unsynchronized: return "the server is unsynchronized";
    case Verdict::missing_time:
      return "a zero receive or transmit timestamp";
    case Verdict::loop:
      return "its refid is one of our own addresses: a timing loop";
    case Verdict::smeared: return "the server's refid says it smears";
    case Verdict::near_leap: return "within a second of a leap";
    case Verdict::bogus: return "timestamps out of order";
  }
  return "unknown";
}

leapdb::Nanoseconds precision_span(std::int8_t precision) {
  if (precision >= 0) return std::chrono::seconds{std::int64_t{1} << std::min<int>(precision, 30)};
  if (precision <= -30) return leapdb::Nanoseconds{1};
  return leapdb::Nanoseconds{1'000'000'000 >> -precision};
}

Judged judge(std::span<const std::byte> reply, const Request& request, leapdb::Nanoseconds received_raw,
             leapdb::UtcTime received_realtime, const leapdb::LeapTable& table, std::int8_t our_precision,
             std::span<const std::uint32_t> own_reference_ids) {
  Judged out;
  const ntp::ReplyCheck check = ntp::check_reply(reply, request.nonce);
  if (check.problem == ntp::ReplyProblem::too_short || check.problem == ntp::ReplyProblem::not_server_mode ||
      check.problem == ntp::ReplyProblem::origin_mismatch) {
    return out;
  }
  const ntp::Header& h = check.header;
  Measurement& m = out.measurement;
  m.stratum = h.stratum;
  m.reference_id = h.reference_id;
  m.leap = h.leap;
  m.root_delay = ntp::from_ntp_short(h.root_delay);
  m.root_dispersion = ntp::from_ntp_short(h.root_dispersion);
  m.precision = h.precision;
  if (check.problem == ntp::ReplyProblem::kiss_of_death) {
    out.kiss = kiss_code(h.reference_id);
    out.verdict = out.kiss == "RATE"                       ? Verdict::rate_limited
                  : out.kiss == "DENY" || out.kiss == "RSTR" ? Verdict::denied
                                                             : Verdict::kiss_of_death;
    return out;
  }
  if (h.leap == ntp::LeapIndicator::unsynchronized || h.stratum >= 16 || h.reference_time.is_zero() ||
      m.root_delay / 2 + m.root_dispersion > kMaxRootDistance) {
    out.verdict = Verdict::unsynchronized;
    return out;
  }
  if (h.receive_time.is_zero() || h.transmit_time.is_zero()) {
    out.verdict = Verdict::missing_time;
    return out;
  }
  // At strata 0 and 1 the refid is four ASCII characters, not an address.
  if (h.stratum >= 2 && std::ranges::find(own_reference_ids, h.reference_id) != own_reference_ids.end()) {
    out.verdict = Verdict::loop;
    return out;
  }
  if (h.reference_id == kChronySmoothingRefid || (h.stratum >= 2 && h.reference_id >> 24 == kNtpdSmearRefidByte)) {
    out.verdict = Verdict::smeared;
    return out;
  }

  const leapdb::UtcTime t2 = ntp::from_ntp(h.receive_time, received_realtime);
  const leapdb::UtcTime t3 = ntp::from_ntp(h.transmit_time, received_realtime);
  if (table.leap_within(t2, std::chrono::seconds{1}) || table.leap_within(t3, std::chrono::seconds{1})) {
    out.verdict = Verdict::near_leap;
    return out;
  }
  const leapdb::Nanoseconds round_trip = received_raw - request.sent_raw;
  const leapdb::Nanoseconds server_time = t3 - t2;
  const leapdb::Nanoseconds precisions = precision_span(h.precision) + precision_span(our_precision);
  if (round_trip < leapdb::Nanoseconds{0} || server_time < leapdb::Nanoseconds{0} ||
      round_trip - server_time < -precisions) {
    out.verdict = Verdict::bogus;
    return out;
  }
  const leapdb::Nanoseconds tai2 = table.to_tai(t2).time_since_epoch();
  const leapdb::Nanoseconds tai3 = table.to_tai(t3).time_since_epoch();
  m.raw = request.sent_raw + round_trip / 2;
  // Each half first, so nothing near 2^63 is summed.
  m.offset = (tai2 - request.sent_raw) / 2 + (tai3 - received_raw) / 2;
  m.delay = std::max(round_trip - server_time, leapdb::Nanoseconds{0});
  m.error = precisions + leapdb::Rate::from_ppb(15'000).over(round_trip);
  m.system_offset = ((t2 - request.sent_realtime) + (t3 - received_realtime)) / 2;
  out.verdict = Verdict::sample;
  return out;
}

}  // namespace reference::upstream
