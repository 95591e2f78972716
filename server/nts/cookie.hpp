#pragma once
// NTS cookies (RFC 8915 §6): the server's own sealed record of what a client agreed at NTS-KE,
// handed to the client and back on every request so the NTP port keeps no per-client state.
// Cookie keys are derived from one master secret and the rotation period's number, so every
// server holding the same secret (a fleet's mounted key file) seals and opens the same cookies
// and rotates in step without talking to the others.
//
// Layout: period (4) | nonce (16) | AES-SIV-CMAC-256(key of that period, nonce,
//         associated = period, plaintext = AEAD (2) | 0 (2) | timescale id (4) | C2S key | S2C key),
// 108 or 172 bytes: a whole number of words, as an extension field's value must be.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "server/nts/aead.hpp"
#include "server/nts/secret.hpp"

namespace nts {

inline constexpr std::size_t kCookieNonceLength = 16;
inline constexpr std::size_t kCookieKeyLength = 32;
inline constexpr std::size_t kMinMasterLength = 32;

inline constexpr std::size_t kCookiePlainHeader = 8;  // AEAD, reserved, timescale id
constexpr std::size_t cookie_length(Aead aead) {
  return 4 + kCookieNonceLength + kTagLength + kCookiePlainHeader + 2 * key_length(aead);
}
inline constexpr std::size_t kMaxCookieLength = cookie_length(Aead::aes_siv_cmac_512);

struct CookieContents {
  Aead aead = Aead::aes_siv_cmac_256;
  // The timescale its holder is served, by an id that names it the same on every server and
  // across reloads (its position in a configuration does not).
  std::uint32_t timescale_id = 0;
  std::array<std::byte, kMaxKeyLength> c2s{};  // key_length(aead) of each are used
  std::array<std::byte, kMaxKeyLength> s2c{};
  friend bool operator==(const CookieContents&, const CookieContents&) = default;
  // The session's keys go with the value: every copy wipes its own.
  ~CookieContents() {
    wipe(c2s);
    wipe(s2c);
  }
};

struct CookieKey {
  std::uint32_t period = 0;
  std::array<std::byte, kCookieKeyLength> key{};
  // Every copy wipes its own: a key rotated out, in a snapshot freed or a KE state replaced.
  ~CookieKey() { wipe(key); }
};

// HKDF-SHA256 of the master secret for one rotation period. Empty when the secret is shorter
// than kMinMasterLength.
std::optional<CookieKey> derive_cookie_key(std::span<const std::byte> master, std::uint32_t period);

// The cookie keys a server holds at Unix time `now`: the current period's first (it seals), then
// the previous one's (cookies handed out just before a rotation) and the next one's (a fleet
// member whose clock is a little ahead). Periods are counted from the epoch, so every server
// with the same secret and rotation agrees. Empty when the secret is too short.
std::vector<CookieKey> cookie_keys_at(std::span<const std::byte> master, std::int64_t rotation_seconds,
                                      std::int64_t now_unix_seconds);
// The period of Unix time `now`.
std::uint32_t cookie_period_at(std::int64_t rotation_seconds, std::int64_t now_unix_seconds);

// A timescale's id in cookies: FNV-1a of its name, so it is the same on every server and
// across reloads.
std::uint32_t timescale_id(std::string_view name);

// Writes cookie_length(contents.aead) bytes; 0 when `out` is shorter.
std::size_t seal_cookie(const CookieKey& key, const CookieContents& contents,
                        std::span<const std::byte, kCookieNonceLength> nonce, std::span<std::byte> out);

// The contents of a cookie sealed with one of `keys` (by period), untampered; else nothing.
std::optional<CookieContents> open_cookie(std::span<const CookieKey> keys, std::span<const std::byte> cookie);

}  // namespace nts
