#include "server/nts/cookie.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <memory>

namespace nts {
namespace {

constexpr std::size_t kHeaderLength = 4 + kCookieNonceLength;

void put_u32(std::byte* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::byte>(value >> (24 - 8 * i));
}

std::uint32_t get_u32(const std::byte* in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | std::to_integer<std::uint32_t>(in[i]);
  return value;
}

struct KdfFree {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};

}  // namespace

std::optional<CookieKey> derive_cookie_key(std::span<const std::byte> master, std::uint32_t period) {
  if (master.size() < kMinMasterLength) return std::nullopt;
  std::unique_ptr<EVP_KDF, KdfFree> kdf{EVP_KDF_fetch(nullptr, "HKDF", nullptr)};
  if (!kdf) return std::nullopt;
  std::unique_ptr<EVP_KDF_CTX, KdfFree> ctx{EVP_KDF_CTX_new(kdf.get())};
  if (!ctx) return std::nullopt;
  std::array<unsigned char, 28> info{'s', 'm', 'e', 'a', 'r', 'd', ' ', 'n', 't', 's', ' ', 'c', 'o', 'o',
                                     'k', 'i', 'e', ' ', 'k', 'e', 'y', ' ', 'p', 'e', 'r', 'i', 'o', 'd'};
  std::array<unsigned char, info.size() + 4> label{};
  std::ranges::copy(info, label.begin());
  put_u32(reinterpret_cast<std::byte*>(label.data() + info.size()), period);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::byte*>(master.data()), master.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, label.data(), label.size()),
      OSSL_PARAM_construct_end()};
  CookieKey key;
  key.period = period;
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(key.key.data()), key.key.size(), params) != 1) {
    return std::nullopt;
  }
  return key;
}

std::uint32_t cookie_period_at(std::int64_t rotation_seconds, std::int64_t now_unix_seconds) {
  if (rotation_seconds <= 0 || now_unix_seconds < 0) return 0;
  return static_cast<std::uint32_t>(now_unix_seconds / rotation_seconds);
}

std::vector<CookieKey> cookie_keys_at(std::span<const std::byte> master, std::int64_t rotation_seconds,
                                      std::int64_t now_unix_seconds) {
  const std::uint32_t current = cookie_period_at(rotation_seconds, now_unix_seconds);
  std::vector<CookieKey> keys;
  for (const std::uint32_t period : {current, current - 1, current + 1}) {
    auto key = derive_cookie_key(master, period);
    if (!key) return {};
    keys.push_back(*key);
  }
  return keys;
}

std::uint32_t timescale_id(std::string_view name) {
  std::uint32_t hash = 2166136261u;
  for (const char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return hash;
}

std::size_t seal_cookie(const CookieKey& key, const CookieContents& contents,
                        std::span<const std::byte, kCookieNonceLength> nonce, std::span<std::byte> out) {
  const std::size_t keys = key_length(contents.aead);
  const std::size_t length = cookie_length(contents.aead);
  if (out.size() < length) return 0;
  std::array<std::byte, kCookiePlainHeader + 2 * kMaxKeyLength> plain{};
  const auto aead = static_cast<std::uint16_t>(contents.aead);
  plain[0] = static_cast<std::byte>(aead >> 8);
  plain[1] = static_cast<std::byte>(aead & 0xFF);
  put_u32(plain.data() + 4, contents.timescale_id);
  const auto c2s_at = plain.begin() + kCookiePlainHeader;
  std::copy_n(contents.c2s.begin(), keys, c2s_at);
  std::copy_n(contents.s2c.begin(), keys, c2s_at + static_cast<std::ptrdiff_t>(keys));
  put_u32(out.data(), key.period);
  std::ranges::copy(nonce, out.begin() + 4);
  const bool sealed = seal(Aead::aes_siv_cmac_256, key.key, nonce, out.first(4), std::span{plain}.first(kCookiePlainHeader + 2 * keys),
                           out.subspan(kHeaderLength, length - kHeaderLength));
  OPENSSL_cleanse(plain.data(), plain.size());
  return sealed ? length : 0;
}

std::optional<CookieContents> open_cookie(std::span<const CookieKey> keys, std::span<const std::byte> cookie) {
  if (cookie.size() != cookie_length(Aead::aes_siv_cmac_256) && cookie.size() != cookie_length(Aead::aes_siv_cmac_512)) {
    return std::nullopt;
  }
  const std::uint32_t period = get_u32(cookie.data());
  const auto key = std::ranges::find(keys, period, &CookieKey::period);
  if (key == keys.end()) return std::nullopt;
  std::array<std::byte, kCookiePlainHeader + 2 * kMaxKeyLength> plain{};
  const std::size_t plain_length = cookie.size() - kHeaderLength - kTagLength;
  std::optional<CookieContents> contents;
  if (open(Aead::aes_siv_cmac_256, key->key, cookie.subspan(4, kCookieNonceLength), cookie.first(4),
           cookie.subspan(kHeaderLength), std::span{plain}.first(plain_length))) {
    const auto number = static_cast<std::uint16_t>((std::to_integer<unsigned>(plain[0]) << 8) |
                                                   std::to_integer<unsigned>(plain[1]));
    const auto aead = aead_from_number(number);
    // Sealed by us, so always consistent; checked anyway, as a key file may be shared wrongly.
    if (aead && cookie.size() == cookie_length(*aead)) {
      const std::size_t n = key_length(*aead);
      contents.emplace();
      contents->aead = *aead;
      contents->timescale_id = get_u32(plain.data() + 4);
      const auto c2s_at = plain.begin() + kCookiePlainHeader;
      std::copy_n(c2s_at, n, contents->c2s.begin());
      std::copy_n(c2s_at + static_cast<std::ptrdiff_t>(n), n, contents->s2c.begin());
    }
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  return contents;
}

}  // namespace nts
