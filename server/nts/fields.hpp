#pragma once
// NTS's extension fields on the NTP port (RFC 8915 §5): check a request's unique identifier,
// cookie and authenticator; write the reply's, with fresh cookies, sealed once the transmit
// timestamp is in (the authenticator covers it). No allocation: everything is in the packet
// buffers and on the stack.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "server/nts/aead.hpp"
#include "server/nts/cookie.hpp"
#include "server/nts/secret.hpp"

namespace nts {

inline constexpr std::uint16_t kUniqueIdentifierField = 0x0104;
inline constexpr std::uint16_t kCookieField = 0x0204;
inline constexpr std::uint16_t kCookiePlaceholderField = 0x0304;
inline constexpr std::uint16_t kAuthenticatorField = 0x0404;
inline constexpr std::uint32_t kKissNtsNak = 0x4E54534E;  // "NTSN"
inline constexpr std::size_t kMinUniqueIdentifier = 32;
inline constexpr std::size_t kReplyNonceLength = 16;

struct Request {
  std::span<const std::byte> unique_id;  // the field's value, padding included, echoed as it came
  nts::CookieContents cookie;
  std::size_t cookie_field_length = 0;   // of the cookie field, header included
  std::size_t placeholders = 0;          // the client's asking for that many cookies more
};

enum class RequestCheck : std::uint8_t {
  not_nts,    // no NTS field at all: an ordinary request
  ok,
  nak,        // a cookie we cannot open or an authenticator that does not verify: NTS NAK
  malformed,  // fields missing, repeated or out of order: dropped (no identifier to echo, say)
};

// `packet`: the whole request; `extensions`: its extension fields as parse_layout split them.
RequestCheck check_request(std::span<const std::byte> packet, std::span<const std::byte> extensions,
                           std::span<const nts::CookieKey> keys, Request& out);

// What seal_reply needs once the header is final.
struct ReplySeal {
  nts::Aead aead = nts::Aead::aes_siv_cmac_256;
  std::array<std::byte, nts::kMaxKeyLength> s2c{};  // wiped with the value, or once it has sealed
  std::size_t authenticator_at = 0;  // where the associated data ends
  std::size_t nonce_at = 0;
  std::size_t ciphertext_at = 0;
  std::size_t plaintext_length = 0;
  ~ReplySeal() { wipe(s2c); }
};

// Randomness for one reply: its nonce, then one nonce per fresh cookie.
inline constexpr std::size_t kMaxFreshCookies = 8;
inline constexpr std::size_t kReplyRandomness = kReplyNonceLength + kMaxFreshCookies * nts::kCookieNonceLength;

// After the 48-byte header already in `reply`: the unique identifier, then an authenticator
// holding 1 + placeholders fresh cookies (up to kMaxFreshCookies, and only as many as keep the
// reply no longer than the request), in the clear until seal_reply. Returns the reply's
// length, 0 when even one cookie does not fit.
std::size_t write_reply(std::span<std::byte> reply, std::size_t request_length, const Request& request,
                        const nts::CookieKey& cookie_key, std::span<const std::byte, kReplyRandomness> randomness,
                        ReplySeal& seal);
// Encrypts the cookies in place under the S2C key; the header may not change afterwards.
void seal_reply(std::span<std::byte> reply, const ReplySeal& seal);

// A client's request (RFC 8915 section 5.7) as chronyd sends one: after the 48-byte header
// already in `out`, the unique identifier, the cookie, `placeholders` placeholders as long as it,
// then the authenticator over all of them with an empty plaintext; a nonce shorter than 16 bytes
// is followed by the Additional Padding section 5.6 asks for. What the load generator, the fuzzer
// and the tests send.
struct ClientRequest {
  std::span<const std::byte> unique_id;  // kMinUniqueIdentifier bytes or more
  std::span<const std::byte> cookie;
  std::size_t placeholders = 0;
  nts::Aead aead = nts::Aead::aes_siv_cmac_256;
  std::span<const std::byte> c2s;    // nts::key_length(aead) bytes
  std::span<const std::byte> nonce;  // chronyd's are 16 bytes
};
// Returns the request's length, 0 when it does not fit in `out` or the key is the wrong length.
std::size_t write_request(std::span<std::byte> out, const ClientRequest& request);

// The NTS NAK's fields after a kiss-o'-death header: the unique identifier alone. Returns the
// reply's length.
std::size_t write_nak(std::span<std::byte> reply, std::span<const std::byte> unique_id);

}  // namespace nts
