#include "server/ntp/client.hpp"

namespace ntp {

std::array<std::byte, kHeaderLength> build_client_request(Timestamp transmit, std::uint8_t version) {
  Header request;
  request.version = version;
  request.mode = Mode::client;
  request.transmit_time = transmit;
  std::array<std::byte, kHeaderLength> bytes{};
  encode_header(request, bytes);
  return bytes;
}

std::string_view to_string(ReplyProblem problem) {
  switch (problem) {
    case ReplyProblem::none: return "none";
    case ReplyProblem::too_short: return "reply shorter than 48 bytes";
    case ReplyProblem::not_server_mode: return "reply is not in server mode";
    case ReplyProblem::origin_mismatch: return "reply does not echo our transmit timestamp";
    case ReplyProblem::kiss_of_death: return "kiss-o'-death";
  }
  return "unknown";
}

ReplyCheck check_reply(std::span<const std::byte> reply, Timestamp sent_transmit) {
  ReplyCheck check;
  if (reply.size() < kHeaderLength) {
    check.problem = ReplyProblem::too_short;
    return check;
  }
  check.header = decode_header(reply.first<kHeaderLength>());
  if (check.header.mode != Mode::server) {
    check.problem = ReplyProblem::not_server_mode;
  } else if (check.header.origin_time != sent_transmit) {
    check.problem = ReplyProblem::origin_mismatch;
  } else if (check.header.stratum == 0) {
    check.problem = ReplyProblem::kiss_of_death;
  }
  return check;
}

Sample measure(const Header& reply, leapdb::UtcTime t1, leapdb::UtcTime t4) {
  const leapdb::UtcTime t2 = from_ntp(reply.receive_time, t1);
  const leapdb::UtcTime t3 = from_ntp(reply.transmit_time, t1);
  Sample sample;
  sample.offset = ((t2 - t1) + (t3 - t4)) / 2;
  sample.delay = (t4 - t1) - (t3 - t2);
  sample.server_transmit = t3;
  return sample;
}

std::string format_reference_id(std::uint8_t stratum, std::uint32_t reference_id) {
  std::string text;
  if (stratum <= 1) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      const auto c = static_cast<unsigned char>(reference_id >> shift);
      if (c == 0) break;
      if (c >= 0x20 && c < 0x7f) {
        text += static_cast<char>(c);
      } else {
        static constexpr char kHex[] = "0123456789abcdef";
        text += "\\x";
        text += kHex[c >> 4];
        text += kHex[c & 0xf];
      }
    }
    return text;
  }
  for (int shift = 24; shift >= 0; shift -= 8) {
    if (!text.empty()) text += '.';
    text += std::to_string((reference_id >> shift) & 0xff);
  }
  return text;
}

}  // namespace ntp
