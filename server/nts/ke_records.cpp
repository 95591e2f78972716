#include "server/nts/ke_records.hpp"

#include <algorithm>

namespace nts {
namespace {

constexpr std::uint16_t kCritical = 0x8000;

std::uint16_t get_u16(std::span<const std::byte> in, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(in[at]) << 8) | std::to_integer<unsigned>(in[at + 1]));
}

void put_u16(std::vector<std::byte>& out, std::uint16_t value) {
  out.push_back(static_cast<std::byte>(value >> 8));
  out.push_back(static_cast<std::byte>(value & 0xFF));
}

void put_record(std::vector<std::byte>& out, RecordType type, bool critical, std::span<const std::byte> body) {
  put_u16(out, static_cast<std::uint16_t>(static_cast<std::uint16_t>(type) | (critical ? kCritical : 0)));
  put_u16(out, static_cast<std::uint16_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

std::vector<std::byte> u16_body(std::uint16_t value) {
  std::vector<std::byte> body;
  put_u16(body, value);
  return body;
}

KeParse failed(KeError error, std::string detail) {
  KeParse p;
  p.status = KeParse::Status::error;
  p.error = error;
  p.detail = std::move(detail);
  return p;
}

}  // namespace

KeParse parse_ke_request(std::span<const std::byte> received, std::span<const Aead> supported) {
  KeParse result;
  bool seen_protocols = false, seen_aead = false;
  std::size_t at = 0;
  while (received.size() - at >= 4) {
    const std::uint16_t head = get_u16(received, at);
    const std::size_t length = get_u16(received, at + 2);
    if (received.size() - at - 4 < length) return result;  // the rest of the record has not arrived
    const auto body = received.subspan(at + 4, length);
    const bool critical = (head & kCritical) != 0;
    const auto type = static_cast<RecordType>(head & ~kCritical);
    at += 4 + length;
    switch (type) {
      case RecordType::end_of_message:
        if (length != 0) return failed(KeError::bad_request, "End of Message with a body");
        if (!seen_protocols) return failed(KeError::bad_request, "no Next Protocol Negotiation record");
        if (result.request.ntpv4 && !seen_aead) return failed(KeError::bad_request, "NTPv4 without an AEAD record");
        result.status = KeParse::Status::complete;
        result.length = at;
        return result;
      case RecordType::next_protocol:
        if (seen_protocols) return failed(KeError::bad_request, "two Next Protocol Negotiation records");
        if (length % 2 != 0) return failed(KeError::bad_request, "Next Protocol Negotiation of odd length");
        seen_protocols = true;
        for (std::size_t i = 0; i < length; i += 2) result.request.ntpv4 |= get_u16(body, i) == kNtpv4Protocol;
        break;
      case RecordType::aead_algorithm:
        if (seen_aead) return failed(KeError::bad_request, "two AEAD Algorithm Negotiation records");
        if (length % 2 != 0) return failed(KeError::bad_request, "AEAD Algorithm Negotiation of odd length");
        seen_aead = true;
        for (std::size_t i = 0; i < length && !result.request.aead; i += 2) {
          const auto aead = aead_from_number(get_u16(body, i));
          if (aead && std::ranges::find(supported, *aead) != supported.end()) result.request.aead = aead;
        }
        break;
      case RecordType::error:
      case RecordType::warning:
        return failed(KeError::bad_request, "an Error or Warning record from a client");
      case RecordType::new_cookie:
      case RecordType::ntpv4_server:
      case RecordType::ntpv4_port:
        break;  // a client may ask for a server or port; which listener serves it is ours to say
      default:
        if (critical) {
          return failed(KeError::unrecognized_critical_record,
                        "critical record of unknown type " + std::to_string(head & ~kCritical));
        }
        break;
    }
  }
  return result;
}

std::vector<std::byte> encode_ke_response(const KeResponse& response) {
  std::vector<std::byte> out;
  const bool agreed = response.ntpv4 && response.aead;
  put_record(out, RecordType::next_protocol, true,
             response.ntpv4 ? u16_body(kNtpv4Protocol) : std::vector<std::byte>{});
  // With NTPv4 the AEAD record is always there: empty when none of the client's is supported.
  if (response.ntpv4) {
    put_record(out, RecordType::aead_algorithm, true,
               response.aead ? u16_body(static_cast<std::uint16_t>(*response.aead)) : std::vector<std::byte>{});
  }
  if (agreed) {
    for (const auto& cookie : response.cookies) put_record(out, RecordType::new_cookie, false, cookie);
    if (!response.server.empty()) {
      put_record(out, RecordType::ntpv4_server, true,
                 std::span{reinterpret_cast<const std::byte*>(response.server.data()), response.server.size()});
    }
    if (response.port) put_record(out, RecordType::ntpv4_port, true, u16_body(*response.port));
  }
  put_record(out, RecordType::end_of_message, true, {});
  return out;
}

std::vector<std::byte> encode_ke_error(KeError error) {
  std::vector<std::byte> out;
  put_record(out, RecordType::error, true, u16_body(static_cast<std::uint16_t>(error)));
  put_record(out, RecordType::end_of_message, true, {});
  return out;
}

std::vector<std::byte> encode_ke_request(std::span<const Aead> offered) {
  std::vector<std::byte> out;
  put_record(out, RecordType::next_protocol, true, u16_body(kNtpv4Protocol));
  std::vector<std::byte> aeads;
  for (const Aead aead : offered) {
    aeads.push_back(static_cast<std::byte>(static_cast<std::uint16_t>(aead) >> 8));
    aeads.push_back(static_cast<std::byte>(static_cast<std::uint16_t>(aead) & 0xFF));
  }
  put_record(out, RecordType::aead_algorithm, true, aeads);
  put_record(out, RecordType::end_of_message, true, {});
  return out;
}

KeResponseParse parse_ke_response(std::span<const std::byte> received, std::span<const Aead> offered) {
  KeResponseParse result;
  const auto failed = [&](std::string detail) {
    result.status = KeResponseParse::Status::error;
    result.detail = std::move(detail);
    result.response = {};
    return result;
  };
  bool seen_protocol = false, seen_aead = false, seen_server = false, seen_port = false;
  std::size_t at = 0;
  while (received.size() - at >= 4) {
    const std::uint16_t head = get_u16(received, at);
    const std::size_t length = get_u16(received, at + 2);
    if (received.size() - at - 4 < length) return result;
    const auto body = received.subspan(at + 4, length);
    const auto type = static_cast<RecordType>(head & ~kCritical);
    at += 4 + length;
    switch (type) {
      case RecordType::end_of_message:
        if (!seen_protocol || !result.response.ntpv4) return failed("the server did not agree to NTPv4");
        if (!result.response.aead) return failed("the server agreed to none of the AEADs offered");
        if (result.response.cookies.empty()) return failed("the server sent no cookie");
        result.status = KeResponseParse::Status::complete;
        return result;
      case RecordType::next_protocol:
        if (seen_protocol) return failed("two Next Protocol Negotiation records");
        seen_protocol = true;
        if (length != 2 || get_u16(body, 0) != kNtpv4Protocol) return failed("the server did not agree to NTPv4");
        result.response.ntpv4 = true;
        break;
      case RecordType::aead_algorithm: {
        if (seen_aead) return failed("two AEAD Algorithm Negotiation records");
        seen_aead = true;
        const auto aead = length == 2 ? aead_from_number(get_u16(body, 0)) : std::nullopt;
        if (!aead || std::ranges::find(offered, *aead) == offered.end()) {
          return failed("the server agreed to none of the AEADs offered");
        }
        result.response.aead = aead;
        break;
      }
      case RecordType::error:
        return failed("the server answered with error " + (length == 2 ? std::to_string(get_u16(body, 0)) : "?"));
      case RecordType::warning:
        return failed("the server answered with warning " + (length == 2 ? std::to_string(get_u16(body, 0)) : "?"));
      case RecordType::new_cookie:
        if (length == 0) return failed("an empty cookie");
        result.response.cookies.emplace_back(body.begin(), body.end());
        break;
      case RecordType::ntpv4_server:
        if (seen_server) return failed("two NTPv4 Server Negotiation records");
        seen_server = true;
        if (length == 0 || length > 255 || !std::ranges::all_of(body, [](std::byte b) {
              const auto c = std::to_integer<unsigned>(b);
              return c > 0x20 && c < 0x7F;
            })) {
          return failed("an NTPv4 server name that is not printable ASCII");
        }
        result.response.server.assign(reinterpret_cast<const char*>(body.data()), body.size());
        break;
      case RecordType::ntpv4_port:
        if (seen_port) return failed("two NTPv4 Port Negotiation records");
        seen_port = true;
        if (length != 2) return failed("an NTPv4 Port Negotiation record of length " + std::to_string(length));
        result.response.port = get_u16(body, 0);
        break;
      default:
        if ((head & kCritical) != 0) return failed("critical record of unknown type " + std::to_string(head & ~kCritical));
        break;
    }
  }
  return result;
}

}  // namespace nts
