#pragma once
// NTS as a client of an upstream server (RFC 8915): the keys and cookies one key establishment
// gave, the request that spends a cookie and asks for more, the reply that must echo our
// identifier and open under the S2C key, and the session as text for a restart. Pure: the
// randomness comes in, the TLS session and the file live in the I/O layer.

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/nts/aead.hpp"

namespace nts {

inline constexpr std::size_t kClientCookies = 8;  // what a server gives at KE, and what we keep
inline constexpr std::size_t kClientUniqueIdLength = 32;
inline constexpr std::size_t kClientNonceLength = 16;

struct ClientSession {
  Aead aead = Aead::aes_siv_cmac_256;
  std::array<std::byte, kMaxKeyLength> c2s{};  // key_length(aead) of each are used
  std::array<std::byte, kMaxKeyLength> s2c{};
  std::string ntp_server;  // empty: the key establishment server's address
  std::uint16_t ntp_port = 123;
  std::deque<std::vector<std::byte>> cookies;  // oldest first, at most kClientCookies

  ClientSession() = default;
  ClientSession(const ClientSession&) = default;
  ClientSession& operator=(const ClientSession&) = default;
  ClientSession(ClientSession&& other) noexcept;
  ClientSession& operator=(ClientSession&& other) noexcept;
  ~ClientSession() { wipe(); }
  void wipe();  // the keys, and the cookies that carry them sealed
  void add_cookie(std::span<const std::byte> cookie);  // the oldest dropped beyond kClientCookies
};

// After the 48-byte header already in `packet`: our unique identifier, the oldest cookie (taken
// from the session: a cookie is used once), as many placeholders as refill the jar, and the
// authenticator under C2S. Returns the request's length; 0 without a cookie or room.
std::size_t write_client_request(std::span<std::byte> packet, ClientSession& session,
                                 std::span<const std::byte, kClientUniqueIdLength> unique_id,
                                 std::span<const std::byte, kClientNonceLength> nonce);

enum class ReplyAuthenticity : std::uint8_t {
  authentic,  // our identifier, opened under S2C; its new cookies are in the session
  nak,        // an NTS NAK echoing our identifier: the server no longer knows our cookies
  forged,     // anything else: not from the server, or altered on the way
};

ReplyAuthenticity open_server_reply(std::span<const std::byte> reply,
                                    std::span<const std::byte, kClientUniqueIdLength> unique_id,
                                    ClientSession& session);

// The session as lines of text (keys and cookies in hex, so the file must be private), and back;
// a problem names the line.
std::string format_client_session(const ClientSession& session);
std::optional<ClientSession> parse_client_session(std::string_view text, std::string& problem);

}  // namespace nts
