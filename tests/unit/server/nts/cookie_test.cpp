// Cookies: sealed and opened by any server holding the same master secret, for its period
// only, and never opened once a byte is changed.
#include "server/nts/cookie.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "tests/unit/server/nts/released.hpp"

namespace {

std::vector<std::byte> random_bytes(std::mt19937_64& random, std::size_t n) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(random() & 0xFF);
  return out;
}

nts::CookieContents random_contents(std::mt19937_64& random, nts::Aead aead) {
  nts::CookieContents c;
  c.aead = aead;
  c.timescale_id = static_cast<std::uint32_t>(random());
  const auto c2s = random_bytes(random, nts::key_length(aead)), s2c = random_bytes(random, nts::key_length(aead));
  std::ranges::copy(c2s, c.c2s.begin());
  std::ranges::copy(s2c, c.s2c.begin());
  return c;
}

std::array<std::byte, nts::kCookieNonceLength> nonce(std::mt19937_64& random) {
  std::array<std::byte, nts::kCookieNonceLength> n{};
  for (auto& b : n) b = static_cast<std::byte>(random() & 0xFF);
  return n;
}

// RFC 5869 by hand from HMAC-SHA256: extract with an all-zero salt, then one expand block.
std::array<std::byte, 32> hkdf_by_hand(std::span<const std::byte> master, std::uint32_t period) {
  unsigned char salt[32] = {}, prk[32], okm[32];
  unsigned int length = 0;
  HMAC(EVP_sha256(), salt, 32, reinterpret_cast<const unsigned char*>(master.data()), master.size(), prk, &length);
  std::string info = "smeard nts cookie key period";
  for (int i = 0; i < 4; ++i) info.push_back(static_cast<char>(period >> (24 - 8 * i)));
  info.push_back('\x01');
  HMAC(EVP_sha256(), prk, 32, reinterpret_cast<const unsigned char*>(info.data()), info.size(), okm, &length);
  std::array<std::byte, 32> out{};
  std::memcpy(out.data(), okm, 32);
  return out;
}

}  // namespace

TEST_CASE("cookie keys: HKDF-SHA256 of the master secret and the period, the same on every server") {
  std::mt19937_64 random{1};
  const auto master = random_bytes(random, 32);
  const auto a = nts::derive_cookie_key(master, 2000).value();
  CHECK(a.period == 2000);
  CHECK(a.key == hkdf_by_hand(master, 2000));
  CHECK(nts::derive_cookie_key(master, 2000)->key == a.key);
  CHECK(nts::derive_cookie_key(master, 2001)->key != a.key);
  CHECK_FALSE(nts::derive_cookie_key(std::span{master}.first(31), 2000).has_value());  // too short to be a secret
}

TEST_CASE("a cookie opens to what was sealed, on any server with the same secret, for both AEADs") {
  std::mt19937_64 random{2};
  const auto master = random_bytes(random, 48);
  const std::array<nts::CookieKey, 2> mine{nts::derive_cookie_key(master, 7).value(), nts::derive_cookie_key(master, 8).value()};
  const std::array<nts::CookieKey, 2> other_node{nts::derive_cookie_key(master, 8).value(),
                                                 nts::derive_cookie_key(master, 7).value()};
  const std::array<nts::CookieKey, 1> other_fleet{nts::derive_cookie_key(random_bytes(random, 48), 8).value()};
  for (const auto aead : {nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512}) {
    for (int i = 0; i < 50; ++i) {
      const auto contents = random_contents(random, aead);
      std::array<std::byte, nts::kMaxCookieLength> cookie{};
      const std::size_t length = nts::seal_cookie(mine[1], contents, nonce(random), cookie);
      REQUIRE(length == nts::cookie_length(aead));
      const auto sealed = std::span{cookie}.first(length);
      CHECK(nts::open_cookie(mine, sealed) == contents);
      CHECK(nts::open_cookie(other_node, sealed) == contents);
      CHECK_FALSE(nts::open_cookie(other_fleet, sealed).has_value());  // same period, another secret
      CHECK_FALSE(nts::open_cookie(std::span{mine}.first(1), sealed).has_value());  // period 8 rotated out
    }
  }
  CHECK(nts::cookie_length(nts::Aead::aes_siv_cmac_256) == 108);
  CHECK(nts::cookie_length(nts::Aead::aes_siv_cmac_512) == 172);
}

TEST_CASE("a cookie with any byte changed, cut short or too long opens to nothing; two seals differ") {
  std::mt19937_64 random{3};
  const std::array<nts::CookieKey, 1> keys{nts::derive_cookie_key(random_bytes(random, 32), 1).value()};
  const auto contents = random_contents(random, nts::Aead::aes_siv_cmac_256);
  std::array<std::byte, nts::kMaxCookieLength> cookie{}, again{};
  const std::size_t length = nts::seal_cookie(keys[0], contents, nonce(random), cookie);
  REQUIRE(nts::seal_cookie(keys[0], contents, nonce(random), again) == length);
  CHECK(std::span{cookie}.first(length).size() == length);
  CHECK_FALSE(std::ranges::equal(std::span{cookie}.first(length), std::span{again}.first(length)));  // unlinkable
  for (std::size_t at = 0; at < length; ++at) {
    for (const auto bit : {std::byte{0x01}, std::byte{0x80}}) {
      cookie[at] ^= bit;
      CHECK_FALSE(nts::open_cookie(keys, std::span{cookie}.first(length)).has_value());
      cookie[at] ^= bit;
    }
  }
  CHECK(nts::open_cookie(keys, std::span{cookie}.first(length)) == contents);
  CHECK_FALSE(nts::open_cookie(keys, std::span{cookie}.first(length - 1)).has_value());
  CHECK_FALSE(nts::open_cookie(keys, std::span{cookie}.first(length + 1)).has_value());
  CHECK_FALSE(nts::open_cookie(keys, {}).has_value());
  CHECK(nts::seal_cookie(keys[0], contents, nonce(random), std::span{cookie}.first(length - 1)) == 0);
}

TEST_CASE("the keys held at a time: the current period's first, then the previous and the next") {
  std::mt19937_64 random{2};
  const auto master = random_bytes(random, 32);
  constexpr std::int64_t day = 86400;
  const std::int64_t now = 20'000 * day + 5;  // just after a rotation
  CHECK(nts::cookie_period_at(day, now) == 20'000);
  CHECK(nts::cookie_period_at(day, now - 6) == 19'999);
  const auto keys = nts::cookie_keys_at(master, day, now);
  REQUIRE(keys.size() == 3);
  CHECK(keys[0].period == 20'000);
  CHECK(keys[1].period == 19'999);
  CHECK(keys[2].period == 20'001);
  CHECK(keys[0].key == nts::derive_cookie_key(master, 20'000)->key);
  // A cookie sealed a second before the rotation still opens after it; one two periods old does not.
  const auto contents = random_contents(random, nts::Aead::aes_siv_cmac_256);
  std::vector<std::byte> cookie(nts::kMaxCookieLength);
  cookie.resize(nts::seal_cookie(nts::cookie_keys_at(master, day, now - 6)[0], contents, nonce(random), cookie));
  CHECK(nts::open_cookie(keys, cookie).has_value());
  CHECK_FALSE(nts::open_cookie(nts::cookie_keys_at(master, day, now + day), cookie).has_value());
  CHECK(nts::cookie_keys_at(std::span{master}.first(16), day, now).empty());
}

TEST_CASE("a timescale's cookie id depends on its name alone") {
  CHECK(nts::timescale_id("google") == nts::timescale_id(std::string{"goo"} + "gle"));
  CHECK(nts::timescale_id("google") != nts::timescale_id("utc"));
  CHECK(nts::timescale_id("") == 2166136261u);  // FNV-1a's offset basis
  CHECK(nts::timescale_id("a") == 0xE40C292Cu);  // FNV-1a's published value for "a"
}

TEST_CASE("cookie contents wipe their session keys when they are destroyed") {
  std::mt19937_64 random{5};
  for (const auto key : {&nts::CookieContents::c2s, &nts::CookieContents::s2c}) {
    auto held = std::make_unique<nts::CookieContents>(random_contents(random, nts::Aead::aes_siv_cmac_512));
    const std::array<std::byte, nts::kMaxKeyLength> copy = (*held).*key;
    REQUIRE((*held).*key == copy);
    const std::uintptr_t at = released::address_of(held.get());
    const released::Watch watch{copy};
    held.reset();
    CHECK(watch.saw_release_of(at));
    CHECK(watch.blocks_holding_pattern() == 0);
  }
}

TEST_CASE("a cookie key wipes itself when it is destroyed") {
  const std::array<std::byte, 32> master{std::byte{9}};
  auto held = std::make_unique<nts::CookieKey>(nts::derive_cookie_key(master, 7).value());
  const std::array<std::byte, nts::kCookieKeyLength> copy = held->key;
  REQUIRE(held->key == copy);
  const std::uintptr_t at = released::address_of(held.get());
  const released::Watch watch{copy};
  held.reset();
  CHECK(watch.saw_release_of(at));
  CHECK(watch.blocks_holding_pattern() == 0);
}
