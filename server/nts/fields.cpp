#include "server/nts/fields.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include "server/ntp/packet.hpp"

namespace nts {
namespace {

std::uint16_t get_u16(std::span<const std::byte> in, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(in[at]) << 8) | std::to_integer<unsigned>(in[at + 1]));
}

void put_u16(std::span<std::byte> out, std::size_t at, std::size_t value) {
  out[at] = static_cast<std::byte>((value >> 8) & 0xFF);
  out[at + 1] = static_cast<std::byte>(value & 0xFF);
}

void put_field_header(std::span<std::byte> out, std::size_t at, std::uint16_t type, std::size_t length) {
  put_u16(out, at, type);
  put_u16(out, at + 2, length);
}

constexpr std::size_t padded(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

constexpr bool is_nts_field(std::uint16_t type) {
  return type == kUniqueIdentifierField || type == kCookieField || type == kCookiePlaceholderField ||
         type == kAuthenticatorField;
}

}  // namespace

RequestCheck check_request(std::span<const std::byte> packet, std::span<const std::byte> extensions,
                           std::span<const nts::CookieKey> keys, Request& out) {
  out = Request{};
  std::span<const std::byte> cookie, authenticator;
  std::size_t unique_ids = 0, cookies = 0, authenticators = 0, authenticator_at = 0, after_authenticator = 0;
  // Placeholders count only at the cookie's length, which may come after them.
  std::array<std::size_t, 2 * kMaxFreshCookies> placeholder_lengths{};
  std::size_t placeholders = 0;
  bool any = false;
  ntp::for_each_extension_field(extensions, [&](const ntp::ExtensionField& field) {
    if (authenticators > 0) ++after_authenticator;
    if (!is_nts_field(field.type)) return;
    any = true;
    const std::size_t field_at = static_cast<std::size_t>(field.value.data() - packet.data()) - 4;
    switch (field.type) {
      case kUniqueIdentifierField:
        ++unique_ids;
        out.unique_id = field.value;
        break;
      case kCookieField:
        ++cookies;
        cookie = field.value;
        break;
      case kCookiePlaceholderField:
        if (placeholders < placeholder_lengths.size()) placeholder_lengths[placeholders++] = field.value.size() + 4;
        break;
      default:
        ++authenticators;
        authenticator = field.value;
        authenticator_at = field_at;
        break;
    }
  });
  // A unique identifier alone is RFC 8915's replay protection without NTS: an ordinary request.
  if (!any || (cookies == 0 && authenticators == 0 && placeholders == 0)) return RequestCheck::not_nts;
  if (unique_ids != 1 || out.unique_id.size() < kMinUniqueIdentifier) {
    out.unique_id = {};  // nothing to echo: a NAK would tell the client nothing
    return RequestCheck::malformed;
  }
  // Fields after the authenticator are not covered by it: RFC 8915 lets nothing follow it.
  if (cookies != 1 || authenticators != 1 || after_authenticator != 0) return RequestCheck::malformed;
  const auto opened = nts::open_cookie(keys, cookie);
  if (!opened) return RequestCheck::nak;
  out.cookie = *opened;
  out.cookie_field_length = cookie.size() + 4;

  if (authenticator.size() < 4) return RequestCheck::malformed;
  const std::size_t nonce_length = get_u16(authenticator, 0), ciphertext_length = get_u16(authenticator, 2);
  // A nonce shorter than 16 bytes is made up by Additional Padding (RFC 8915 §5.6), so the
  // reply's 16-byte nonce never makes it longer than the request.
  const std::size_t additional_padding = kReplyNonceLength - std::min(kReplyNonceLength, padded(nonce_length));
  if (nonce_length == 0 || ciphertext_length < nts::kTagLength ||
      4 + padded(nonce_length) + padded(ciphertext_length) + additional_padding > authenticator.size()) {
    return RequestCheck::malformed;
  }
  std::array<std::byte, ntp::kMaxPacketLength> plaintext;
  const bool verified = nts::open(out.cookie.aead, std::span{out.cookie.c2s}.first(nts::key_length(out.cookie.aead)),
                                  authenticator.subspan(4, nonce_length), packet.first(authenticator_at),
                                  authenticator.subspan(4 + padded(nonce_length), ciphertext_length),
                                  std::span{plaintext}.first(ciphertext_length - nts::kTagLength));
  OPENSSL_cleanse(plaintext.data(), ciphertext_length - nts::kTagLength);
  if (!verified) return RequestCheck::nak;
  out.placeholders = static_cast<std::size_t>(std::count(
      placeholder_lengths.begin(), placeholder_lengths.begin() + static_cast<std::ptrdiff_t>(placeholders),
      out.cookie_field_length));
  return RequestCheck::ok;
}

std::size_t write_reply(std::span<std::byte> reply, std::size_t request_length, const Request& request,
                        const nts::CookieKey& cookie_key, std::span<const std::byte, kReplyRandomness> randomness,
                        ReplySeal& seal) {
  const std::size_t unique_id_field = 4 + request.unique_id.size();
  const std::size_t cookie_field = 4 + nts::cookie_length(request.cookie.aead);
  const std::size_t authenticator_at = ntp::kHeaderLength + unique_id_field;
  const std::size_t fixed = authenticator_at + 4 + 4 + kReplyNonceLength + nts::kTagLength;
  const std::size_t room = std::min(request_length, reply.size());
  if (room < fixed + cookie_field) return 0;
  const std::size_t fresh = std::min({request.placeholders + 1, kMaxFreshCookies, (room - fixed) / cookie_field});

  put_field_header(reply, ntp::kHeaderLength, kUniqueIdentifierField, unique_id_field);
  std::ranges::copy(request.unique_id, reply.begin() + ntp::kHeaderLength + 4);
  const std::size_t plaintext_length = fresh * cookie_field;
  put_field_header(reply, authenticator_at, kAuthenticatorField, fixed - authenticator_at + plaintext_length);
  put_u16(reply, authenticator_at + 4, kReplyNonceLength);
  put_u16(reply, authenticator_at + 6, nts::kTagLength + plaintext_length);
  const std::size_t nonce_at = authenticator_at + 8;
  std::ranges::copy(randomness.first<kReplyNonceLength>(), reply.begin() + static_cast<std::ptrdiff_t>(nonce_at));
  const std::size_t ciphertext_at = nonce_at + kReplyNonceLength;
  for (std::size_t i = 0; i < fresh; ++i) {
    const std::size_t at = ciphertext_at + nts::kTagLength + i * cookie_field;
    put_field_header(reply, at, kCookieField, cookie_field);
    const auto nonce = randomness.subspan(kReplyNonceLength + i * nts::kCookieNonceLength).first<nts::kCookieNonceLength>();
    if (nts::seal_cookie(cookie_key, request.cookie, nonce, reply.subspan(at + 4, cookie_field - 4)) == 0) return 0;
  }
  seal.aead = request.cookie.aead;
  seal.s2c = request.cookie.s2c;
  seal.authenticator_at = authenticator_at;
  seal.nonce_at = nonce_at;
  seal.ciphertext_at = ciphertext_at;
  seal.plaintext_length = plaintext_length;
  return ciphertext_at + nts::kTagLength + plaintext_length;
}

void seal_reply(std::span<std::byte> reply, const ReplySeal& seal) {
  const auto sealed = reply.subspan(seal.ciphertext_at, nts::kTagLength + seal.plaintext_length);
  const bool ok = nts::seal(seal.aead, std::span{seal.s2c}.first(nts::key_length(seal.aead)),
                            reply.subspan(seal.nonce_at, kReplyNonceLength), reply.first(seal.authenticator_at),
                            sealed.subspan(nts::kTagLength), sealed);
  // Sizes are ours and always right; a reply that could not be sealed must not leave in the clear.
  if (!ok) OPENSSL_cleanse(sealed.data(), sealed.size());
}

std::size_t write_request(std::span<std::byte> out, const ClientRequest& request) {
  const std::size_t nonce_length = padded(request.nonce.size());
  const std::size_t authenticator_length = 4 + 4 + std::max<std::size_t>(nonce_length, 16) + nts::kTagLength;
  const std::size_t length = ntp::kHeaderLength + 4 + padded(request.unique_id.size()) +
                             (1 + request.placeholders) * (4 + padded(request.cookie.size())) + authenticator_length;
  if (out.size() < length) return 0;
  std::size_t at = ntp::kHeaderLength;
  auto field = [&](std::uint16_t type, std::span<const std::byte> value) {
    put_field_header(out, at, type, 4 + padded(value.size()));
    std::ranges::copy(value, out.begin() + static_cast<std::ptrdiff_t>(at + 4));
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(at + 4 + value.size()),
              out.begin() + static_cast<std::ptrdiff_t>(at + 4 + padded(value.size())), std::byte{0});
    at += 4 + padded(value.size());
  };
  field(kUniqueIdentifierField, request.unique_id);
  field(kCookieField, request.cookie);
  for (std::size_t i = 0; i < request.placeholders; ++i) {
    put_field_header(out, at, kCookiePlaceholderField, 4 + padded(request.cookie.size()));
    std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(at + 4), padded(request.cookie.size()), std::byte{0});
    at += 4 + padded(request.cookie.size());
  }
  const std::size_t authenticator_at = at;
  const std::span<std::byte> body = out.subspan(at + 4, authenticator_length - 4);
  std::ranges::fill(body, std::byte{0});
  put_field_header(out, at, kAuthenticatorField, authenticator_length);
  put_u16(body, 0, request.nonce.size());
  put_u16(body, 2, nts::kTagLength);
  std::ranges::copy(request.nonce, body.begin() + 4);
  if (!nts::seal(request.aead, request.c2s, request.nonce, out.first(authenticator_at), {},
                 body.subspan(4 + nonce_length, nts::kTagLength))) {
    return 0;
  }
  return length;
}

std::size_t write_nak(std::span<std::byte> reply, std::span<const std::byte> unique_id) {
  put_field_header(reply, ntp::kHeaderLength, kUniqueIdentifierField, 4 + unique_id.size());
  std::ranges::copy(unique_id, reply.begin() + ntp::kHeaderLength + 4);
  return ntp::kHeaderLength + 4 + unique_id.size();
}

}  // namespace nts
