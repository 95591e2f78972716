#include "server/ntp/responder.hpp"

#include <algorithm>
#include <type_traits>

namespace ntp {
namespace {

Decision drop(DropReason reason) { return Decision{Drop{reason}}; }

DropReason drop_reason_for(LayoutError error) {
  switch (error) {
    case LayoutError::too_short: return DropReason::too_short;
    case LayoutError::too_long: return DropReason::too_long;
    case LayoutError::not_word_aligned: return DropReason::not_word_aligned;
    case LayoutError::bad_extension_field: return DropReason::bad_extension_field;
    case LayoutError::bad_mac_length: return DropReason::bad_mac_length;
  }
  return DropReason::too_short;
}

// NTPv1 (RFC 1059) has no mode field: its requests arrive with mode 0 and are answered
// like client requests. Control (6) and private (7) modes are never answered: they were
// the amplification vectors of monlist and friends.
bool is_client_request(const Header& request) {
  return request.mode == Mode::client || (request.mode == Mode::unspecified && request.version == 1);
}

bool reflection_port(std::uint16_t port) { return port == 0 || port == 7 || port == 19; }

bool denied(const Access& access, const ClientAddress& client) {
  return in_any(access.deny, client.ip) || (!access.allow.empty() && !in_any(access.allow, client.ip));
}

AuthResult auth_result(Verdict verdict) {
  switch (verdict) {
    case Verdict::ok: return AuthResult::ok;
    case Verdict::unknown_key: return AuthResult::unknown_key;
    case Verdict::bad_length: return AuthResult::bad_length;
    case Verdict::bad_mac: return AuthResult::bad_mac;
  }
  return AuthResult::unknown_key;
}

const Pin* pin_of(const Policy& policy, const ClientAddress& client) {
  for (const Pin& pin : policy.pins) {
    if (in_network(pin, client.ip)) return &pin;
  }
  return nullptr;
}

}  // namespace

MacKey Decision::mac_key() const {
  if (const TimeReply* time = as<TimeReply>()) return time->mac_key;
  if (const KissOfDeath* kod = as<KissOfDeath>()) return kod->mac_key;
  return MacKey{};
}

std::size_t Decision::reply_length() const {
  return std::visit(
      [](const auto& reply) -> std::size_t {
        if constexpr (std::is_same_v<std::decay_t<decltype(reply)>, Drop>) {
          return 0;
        } else {
          return reply.length;
        }
      },
      outcome);
}

std::string_view to_string(DropReason reason) {
  switch (reason) {
    case DropReason::too_short: return "too_short";
    case DropReason::too_long: return "too_long";
    case DropReason::not_word_aligned: return "not_word_aligned";
    case DropReason::bad_extension_field: return "bad_extension_field";
    case DropReason::bad_mac_length: return "bad_mac_length";
    case DropReason::bad_version: return "bad_version";
    case DropReason::unsupported_mode: return "unsupported_mode";
    case DropReason::wrong_timescale: return "wrong_timescale";
    case DropReason::bad_source_port: return "bad_source_port";
    case DropReason::old_version: return "old_version";
    case DropReason::denied: return "denied";
    case DropReason::rate_limited: return "rate_limited";
    case DropReason::key_required: return "key_required";
    case DropReason::bad_nts: return "bad_nts";
    case DropReason::bad_frame: return "bad_frame";
    case DropReason::ip_options: return "ip_options";
    case DropReason::bad_checksum: return "bad_checksum";
  }
  return "unknown";
}

std::string_view to_string(AuthResult result) {
  switch (result) {
    case AuthResult::none: return "none";
    case AuthResult::ok: return "ok";
    case AuthResult::unknown_key: return "unknown_key";
    case AuthResult::bad_length: return "bad_length";
    case AuthResult::bad_mac: return "bad_mac";
  }
  return "unknown";
}

std::uint32_t ntpd_smear_refid(leapdb::Nanoseconds offset) {
  const leapdb::Int128 scaled = leapdb::Int128{offset.count()} * (1 << 22);
  const auto fixed = static_cast<std::int64_t>(scaled >= 0 ? (scaled + 500'000'000) / 1'000'000'000
                                                           : -((-scaled + 500'000'000) / 1'000'000'000));
  return 0xFE00'0000u | (static_cast<std::uint32_t>(fixed) & 0x00FF'FFFFu);
}

Decision handle(const Request& request, const Snapshot& snapshot, const Tables& tables,
                std::span<std::byte, kMaxReplyLength> reply) {
  if (request.bytes.size() < kHeaderLength) return drop(DropReason::too_short);
  if (reflection_port(request.client.port)) return drop(DropReason::bad_source_port);
  const Header in = decode_header(request.bytes.first<kHeaderLength>());
  if (in.version < 1 || in.version > 4) return drop(DropReason::bad_version);
  const Policy& policy = snapshot.policy;
  if (in.version < policy.access.min_version) return drop(DropReason::old_version);
  if (!is_client_request(in)) return drop(DropReason::unsupported_mode);
  const LayoutResult layout = parse_layout(request.bytes, in.version);
  if (!layout.layout) return drop(drop_reason_for(layout.error));
  const std::span<const std::byte> mac = layout.layout->mac;

  Decision decision;
  std::optional<Kiss> kiss;
  nts::RequestCheck nts = nts::RequestCheck::not_nts;
  MacKey mac_key;
  std::optional<nts::Request> nts_request;  // where NTS fields are checked; wipes the keys it opens
  const bool limiting = policy.rate_limit.enabled && tables.limiter != nullptr;
  if (denied(policy.access, request.client)) {
    // KoD DENY within the rate limit, so a spoofed flood cannot reflect off us at full rate.
    if (!policy.access.kod ||
        (limiting && tables.limiter->check(policy.rate_limit, request.client, request.reading) !=
                         RateLimiter::Verdict::answer)) {
      return drop(DropReason::denied);
    }
    kiss = Kiss::deny;
  }
  // Before the MAC, so a flood costs no digests.
  if (!kiss && limiting) {
    decision.rate = tables.limiter->check(policy.rate_limit, request.client, request.reading);
    if (decision.rate == RateLimiter::Verdict::drop) {
      decision.outcome = Drop{DropReason::rate_limited};
      return decision;
    }
    if (decision.rate == RateLimiter::Verdict::kod) kiss = Kiss::rate;
  }

  const std::uint8_t timescale_index = snapshot.listener_timescale[request.listener];
  const TimescaleView& timescale = snapshot.timescales[timescale_index];
  const Pin* pin = pin_of(policy, request.client);
  bool refused = false;
  if (!kiss) {
    const bool pinned_elsewhere = pin != nullptr && pin->timescale != timescale_index;
    decision.pin_violation = pinned_elsewhere;
    ClientHistory* history = tables.history;
    const ClientHistory::Place place =
        history != nullptr ? history->place(request.client, snapshot.history_generation) : ClientHistory::Place{};
    if (history != nullptr) {
      const ClientHistory::Seen seen = history->last(place, request.received);
      const bool elsewhere = seen.known && seen.timescale != timescale_index;
      decision.mixed = elsewhere && seen.age <= policy.mixed_window;
      decision.other_timescale = seen.timescale;
      decision.sticky_violation =
          elsewhere && pin == nullptr && policy.sticky.count() > 0 && seen.age <= policy.sticky;
    }

    // NTS (RFC 8915), before any MAC: the cookie names the timescale its holder was handed to at
    // key establishment, so another listener sends it back there with a NAK. That binds a client,
    // not an address, so it overrides stickiness: NTS clients behind one NAT address may each
    // keep their own timescale.
    if (!pinned_elsewhere && !snapshot.nts_keys.empty() && tables.nts_randomness != nullptr &&
        layout.layout->extension_count > 0) {
      nts = nts::check_request(request.bytes, layout.layout->extensions, snapshot.nts_keys, nts_request.emplace());
      if (nts == nts::RequestCheck::malformed) return drop(DropReason::bad_nts);
      if (nts == nts::RequestCheck::ok && nts_request->cookie.timescale_id != timescale.nts_id) {
        decision.pin_violation = true;
        nts = nts::RequestCheck::nak;
      }
      if (nts != nts::RequestCheck::not_nts) decision.sticky_violation = false;
    }
    refused = pinned_elsewhere || decision.sticky_violation;
    if (refused && !policy.deny) {
      decision.outcome = Drop{DropReason::wrong_timescale};
      return decision;
    }
    if (refused) kiss = Kiss::deny;

    // A MAC with a key we do not hold, or one that does not verify, is answered with a
    // crypto-NAK (RFC 5905 section 7.5), so an authenticating client learns why instead of
    // timing out; it carries a KoD header, so no client takes time from it.
    if (nts != nts::RequestCheck::not_nts) {
      // NTS authenticates this request (or failed to); a legacy MAC beside it means nothing.
    } else if (mac.size() > 4) {
      const auto covered = request.bytes.first(kHeaderLength + layout.layout->extensions.size());
      const Verification verification =
          tables.authenticator != nullptr ? tables.authenticator->verify(covered, mac) : Verification{};
      decision.auth = auth_result(verification.verdict);
      if (decision.auth == AuthResult::ok) {
        mac_key = verification.key;
      } else if (!refused) {
        kiss = Kiss::crypto_nak;
      }
    } else if (pin != nullptr && pin->key_required && !refused) {
      decision.outcome = Drop{DropReason::key_required};
      return decision;
    }
    // The client's timescale is remembered only when it is served: a refused request must
    // not move a stuck client.
    if (!kiss && nts != nts::RequestCheck::nak && history != nullptr) {
      history->record(place, timescale_index, request.received);
    }
  }

  const smear::Served served = timescale.smearer->at(request.received, timescale.steady);
  Header out;
  out.version = in.version;
  out.mode = Mode::server;
  out.poll = in.poll;
  out.precision = snapshot.precision;
  out.origin_time = in.transmit_time;
  out.receive_time = mark_receive(to_ntp(served.time));
  bool save_interleaved = false;
  std::optional<Timestamp> interleaved_transmit;
  if (kiss || nts == nts::RequestCheck::nak) {
    // KoD (RFC 5905 section 7.4): stratum 0, the kiss code as refid, leap "alarm".
    out.leap = LeapIndicator::unsynchronized;
    out.stratum = 0;
    out.reference_id = kiss ? static_cast<std::uint32_t>(*kiss) : nts::kKissNtsNak;
  } else {
    const HeaderQuality quality = header_quality(snapshot.quality, request.received);
    out.leap = quality.unsynchronized ? LeapIndicator::unsynchronized : static_cast<LeapIndicator>(served.leap_indicator);
    out.stratum = quality.stratum;
    out.root_delay = quality.root_delay;
    out.root_dispersion = quality.root_dispersion;
    out.reference_time = to_ntp(timescale.reference_time);
    out.reference_id = quality.reference_id;
    if (served.active && !quality.unsynchronized) {
      if (timescale.refid == RefidConvention::ntpd) out.reference_id = ntpd_smear_refid(served.offset);
      if (timescale.refid == RefidConvention::chrony) out.reference_id = kChronySmearRefid;
    }
    if (policy.interleaved && tables.interleaved != nullptr &&
        asks_interleaved(in.version, in.origin_time, in.receive_time, in.transmit_time)) {
      save_interleaved = true;
      interleaved_transmit = tables.interleaved->take(in.origin_time, request.client);
      // How the client tells an interleaved reply from a basic one (RFC 9769, section 2).
      if (interleaved_transmit) out.origin_time = in.receive_time;
    }
  }
  encode_header(out, reply.first<kHeaderLength>());

  // Extension fields we do not implement are ignored, as RFC 7822 asks; the MAC of an
  // authenticated reply is added by sign() once the transmit time is in.
  if (nts == nts::RequestCheck::nak) {
    decision.outcome = NtsNak{nts::write_nak(reply, nts_request->unique_id)};
    return decision;
  }
  if (nts == nts::RequestCheck::ok && !kiss) {
    TimeReply time;
    time.length = nts::write_reply(reply, request.bytes.size(), *nts_request, snapshot.nts_keys.front(),
                                   *tables.nts_randomness, time.nts.emplace());
    if (time.length == 0) return drop(DropReason::bad_nts);
    time.save_interleaved = save_interleaved;
    time.interleaved_transmit = interleaved_transmit;
    decision.outcome = time;
    return decision;
  }
  std::size_t length = kHeaderLength;
  if (mac_key) {
    length = kHeaderLength + mac_key.length();  // the request's MAC length: verify() accepted it
  } else if (decision.auth != AuthResult::none) {
    std::fill_n(reply.begin() + kHeaderLength, 4, std::byte{0});
    length = kHeaderLength + 4;
  }
  if (kiss) {
    decision.outcome = KissOfDeath{*kiss, length, mac_key};
  } else {
    decision.outcome = TimeReply{length, mac_key, std::nullopt, save_interleaved, interleaved_transmit};
  }
  return decision;
}

Timestamp stamp_transmit(std::span<std::byte, kMaxReplyLength> reply, leapdb::TaiTime transmit,
                         const TimescaleView& timescale) {
  const Timestamp written = transmit_timestamp(transmit, timescale);
  write_transmit(reply, written);
  return written;
}

Timestamp transmit_timestamp(leapdb::TaiTime transmit, const TimescaleView& timescale) {
  return mark_transmit(to_ntp(timescale.smearer->at(transmit, timescale.steady).time));
}

void write_transmit(std::span<std::byte, kMaxReplyLength> reply, Timestamp transmit) {
  encode_timestamp(transmit, reply.subspan<kTransmitTimeOffset, 8>());
}

Timestamp reply_receive(std::span<const std::byte> reply) {
  if (reply.size() < kHeaderLength) return Timestamp{};
  return decode_header(reply.first<kHeaderLength>()).receive_time;
}

void sign(std::span<std::byte, kMaxReplyLength> reply, const Decision& decision, Authenticator& authenticator) {
  if (const TimeReply* time = decision.as<TimeReply>(); time != nullptr && time->nts) {
    nts::seal_reply(reply, *time->nts);
  }
  const MacKey mac_key = decision.mac_key();
  if (!mac_key) return;
  authenticator.sign(mac_key, std::span{reply}.first(kHeaderLength),
                     std::span{reply}.subspan(kHeaderLength, mac_key.length()));
}

void forget_session_key(Decision& decision) {
  auto* time = std::get_if<TimeReply>(&decision.outcome);
  if (time != nullptr && time->nts) nts::wipe(time->nts->s2c);
}

}  // namespace ntp
