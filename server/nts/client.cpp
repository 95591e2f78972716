#include "server/nts/client.hpp"

#include <algorithm>
#include <charconv>

#include "server/nts/fields.hpp"
#include "server/nts/secret.hpp"
#include "server/ntp/packet.hpp"

namespace nts {
namespace {

constexpr std::uint8_t kServerMode = 4;
constexpr char kFormatLine[] = "smeard-nts-session 1";

std::uint16_t get_u16(std::span<const std::byte> in, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(in[at]) << 8) | std::to_integer<unsigned>(in[at + 1]));
}

void append_hex(std::string& out, std::span<const std::byte> bytes) {
  constexpr char kDigits[] = "0123456789abcdef";
  for (const std::byte b : bytes) {
    out += kDigits[std::to_integer<unsigned>(b) >> 4];
    out += kDigits[std::to_integer<unsigned>(b) & 0xF];
  }
}

std::optional<std::vector<std::byte>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::byte> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, value, 16);
    if (error != std::errc{} || end != text.data() + 2 * i + 2) return std::nullopt;
    out[i] = static_cast<std::byte>(value);
  }
  return out;
}

}  // namespace

ClientSession::ClientSession(ClientSession&& other) noexcept
    : aead(other.aead),
      c2s(other.c2s),
      s2c(other.s2c),
      ntp_server(std::move(other.ntp_server)),
      ntp_port(other.ntp_port),
      cookies(std::move(other.cookies)) {
  other.wipe();
}

ClientSession& ClientSession::operator=(ClientSession&& other) noexcept {
  if (this != &other) {
    wipe();
    aead = other.aead;
    c2s = other.c2s;
    s2c = other.s2c;
    ntp_server = std::move(other.ntp_server);
    ntp_port = other.ntp_port;
    cookies = std::move(other.cookies);
    other.wipe();
  }
  return *this;
}

void ClientSession::wipe() {
  nts::wipe(c2s);
  nts::wipe(s2c);
  for (auto& cookie : cookies) nts::wipe(cookie);
  cookies.clear();
}

void ClientSession::add_cookie(std::span<const std::byte> cookie) {
  if (cookies.size() == kClientCookies) {
    nts::wipe(cookies.front());
    cookies.pop_front();
  }
  cookies.emplace_back(cookie.begin(), cookie.end());
}

std::size_t write_client_request(std::span<std::byte> packet, ClientSession& session,
                                 std::span<const std::byte, kClientUniqueIdLength> unique_id,
                                 std::span<const std::byte, kClientNonceLength> nonce) {
  if (session.cookies.empty()) return 0;
  std::vector<std::byte> cookie = std::move(session.cookies.front());
  session.cookies.pop_front();
  // A reply brings one cookie for the one spent and one per placeholder: as many as refill the
  // jar and fit the packet (five with AES-SIV-CMAC-512's long cookies).
  const std::size_t fixed = ntp::kHeaderLength + 4 + kClientUniqueIdLength + 4 + 4 + kClientNonceLength + kTagLength;
  const std::size_t cookie_field = 4 + ((cookie.size() + 3) & ~std::size_t{3});
  const std::size_t fitting = packet.size() > fixed + cookie_field ? (packet.size() - fixed) / cookie_field - 1 : 0;
  const ClientRequest request{unique_id,
                                      cookie,
                                      std::min(kClientCookies - 1 - session.cookies.size(), fitting),
                                      session.aead,
                                      std::span{session.c2s}.first(key_length(session.aead)),
                                      nonce};
  const std::size_t length = write_request(packet, request);
  nts::wipe(cookie);
  return length;
}

ReplyAuthenticity open_server_reply(std::span<const std::byte> reply,
                                    std::span<const std::byte, kClientUniqueIdLength> unique_id,
                                    ClientSession& session) {
  if (reply.size() < ntp::kHeaderLength) return ReplyAuthenticity::forged;
  const auto first = std::to_integer<std::uint8_t>(reply[0]);
  const std::uint8_t version = (first >> 3) & 7;
  if ((first & 7) != kServerMode || version != 4) return ReplyAuthenticity::forged;
  const ntp::LayoutResult parsed = ntp::parse_layout(reply, version);
  if (!parsed.layout || !parsed.layout->mac.empty()) return ReplyAuthenticity::forged;

  std::span<const std::byte> echoed, authenticator;
  std::size_t identifiers = 0, authenticators = 0, authenticator_at = 0;
  ntp::for_each_extension_field(parsed.layout->extensions, [&](const ntp::ExtensionField& field) {
    if (authenticators > 0) return;  // nothing after the authenticator is covered by it
    if (field.type == kUniqueIdentifierField) {
      ++identifiers;
      echoed = field.value;
    } else if (field.type == kAuthenticatorField) {
      ++authenticators;
      authenticator = field.value;
      authenticator_at = static_cast<std::size_t>(field.value.data() - reply.data()) - 4;
    }
  });
  if (identifiers != 1 || !std::ranges::equal(echoed, unique_id)) return ReplyAuthenticity::forged;

  const ntp::Header header = ntp::decode_header(reply.first<ntp::kHeaderLength>());
  if (header.stratum == 0 && header.reference_id == kKissNtsNak && authenticators == 0) {
    return ReplyAuthenticity::nak;
  }
  if (authenticators != 1 || authenticator.size() < 4) return ReplyAuthenticity::forged;
  const std::size_t nonce_length = get_u16(authenticator, 0);
  const std::size_t ciphertext_length = get_u16(authenticator, 2);
  const std::size_t padded_nonce = (nonce_length + 3) & ~std::size_t{3};
  if (nonce_length == 0 || ciphertext_length < kTagLength || 4 + padded_nonce + ciphertext_length > authenticator.size()) {
    return ReplyAuthenticity::forged;
  }
  std::array<std::byte, ntp::kMaxPacketLength> plaintext;
  const std::span<std::byte> opened = std::span{plaintext}.first(ciphertext_length - kTagLength);
  if (!open(session.aead, std::span{session.s2c}.first(key_length(session.aead)), authenticator.subspan(4, nonce_length),
            reply.first(authenticator_at), authenticator.subspan(4 + padded_nonce, ciphertext_length), opened)) {
    return ReplyAuthenticity::forged;
  }
  ntp::for_each_extension_field(opened, [&](const ntp::ExtensionField& field) {
    if (field.type == kCookieField && !field.value.empty()) session.add_cookie(field.value);
  });
  nts::wipe(opened);
  return ReplyAuthenticity::authentic;
}

std::string format_client_session(const ClientSession& session) {
  std::string out = std::string{kFormatLine} + "\naead " + std::to_string(static_cast<unsigned>(session.aead)) + "\nc2s ";
  append_hex(out, std::span{session.c2s}.first(key_length(session.aead)));
  out += "\ns2c ";
  append_hex(out, std::span{session.s2c}.first(key_length(session.aead)));
  out += "\nserver " + (session.ntp_server.empty() ? std::string{"-"} : session.ntp_server);
  out += "\nport " + std::to_string(session.ntp_port) + "\n";
  for (const auto& cookie : session.cookies) {
    out += "cookie ";
    append_hex(out, cookie);
    out += "\n";
  }
  return out;
}

std::optional<ClientSession> parse_client_session(std::string_view text, std::string& problem) {
  ClientSession session;
  int line_number = 0;
  bool seen_aead = false, seen_c2s = false, seen_s2c = false, seen_port = false;
  const auto fail = [&](const std::string& what) {
    problem = "line " + std::to_string(line_number) + ": " + what;
    return std::nullopt;
  };
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line_number == 1) {
      if (line != kFormatLine) return fail("not an NTS session (expected '" + std::string{kFormatLine} + "')");
      continue;
    }
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    const std::string_view field = line.substr(0, space);
    const std::string_view value = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    if (field == "aead") {
      unsigned number = 0;
      const auto [at, error] = std::from_chars(value.data(), value.data() + value.size(), number);
      const auto aead = error == std::errc{} && at == value.data() + value.size() && number <= 0xFFFF
                            ? aead_from_number(static_cast<std::uint16_t>(number))
                            : std::nullopt;
      if (!aead) return fail("aead: not an AEAD smeard supports");
      session.aead = *aead;
      seen_aead = true;
    } else if (field == "c2s" || field == "s2c") {
      if (!seen_aead) return fail(std::string{field} + ": before aead");
      auto key = from_hex(value);
      if (!key || key->size() != key_length(session.aead)) {
        return fail(std::string{field} + ": not " + std::to_string(key_length(session.aead)) + " bytes of hex");
      }
      std::ranges::copy(*key, (field == "c2s" ? session.c2s : session.s2c).begin());
      nts::wipe(*key);
      (field == "c2s" ? seen_c2s : seen_s2c) = true;
    } else if (field == "server") {
      if (value.empty()) return fail("server: empty");
      session.ntp_server = value == "-" ? std::string{} : std::string{value};
    } else if (field == "port") {
      unsigned port = 0;
      const auto [at, error] = std::from_chars(value.data(), value.data() + value.size(), port);
      if (error != std::errc{} || at != value.data() + value.size() || port == 0 || port > 0xFFFF) {
        return fail("port: not a port number");
      }
      session.ntp_port = static_cast<std::uint16_t>(port);
      seen_port = true;
    } else if (field == "cookie") {
      const auto cookie = from_hex(value);
      if (!cookie || cookie->empty()) return fail("cookie: not hex");
      session.add_cookie(*cookie);
    } else {
      return fail("unknown field '" + std::string{field} + "'");
    }
  }
  if (line_number == 0) return fail("empty");
  if (!seen_aead || !seen_c2s || !seen_s2c || !seen_port) {
    ++line_number;
    return fail("incomplete: aead, c2s, s2c and port are all needed");
  }
  return session;
}

}  // namespace nts
