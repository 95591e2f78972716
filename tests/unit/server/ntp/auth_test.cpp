// MACs against published vectors (RFC 1321, FIPS 180, RFC 4493, SP 800-38B), sign and verify
// round trips for every key type with its whole and its truncated digest, every way
// verification fails, and that the packet path allocates nothing.
#include <doctest/doctest.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "server/ntp/auth.hpp"
#include "tests/unit/server/ntp/bytes.hpp"

namespace {

// Counts OpenSSL's allocations; installed before OpenSSL allocates anything.
std::atomic<long> openssl_allocations{0};
void* counting_malloc(std::size_t n, const char*, int) {
  ++openssl_allocations;
  return std::malloc(n);
}
void* counting_realloc(void* p, std::size_t n, const char*, int) {
  ++openssl_allocations;
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) { std::free(p); }
const bool counting = CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

ntp::SymmetricKey key(std::uint32_t id, ntp::MacAlgorithm algorithm, std::vector<std::byte> secret) {
  return ntp::SymmetricKey{id, algorithm, std::move(secret), 1};
}

// The MAC field for `message` under key `id`: key id, then the digest, whole or its first
// `digest_length` bytes.
std::vector<std::byte> mac_of(ntp::Authenticator& auth, std::uint32_t id, std::span<const std::byte> message,
                              std::size_t digest_length = 0) {
  const std::size_t index = auth.ring()->index_of(id);
  REQUIRE(index != ntp::KeyRing::npos);
  ntp::MacKey mac_key = auth.whole(index);
  if (digest_length != 0) mac_key.digest_length = digest_length;
  std::vector<std::byte> mac(mac_key.length());
  auth.sign(mac_key, message, mac);
  return mac;
}

constexpr ntp::MacAlgorithm kEveryAlgorithm[] = {
    ntp::MacAlgorithm::md5,    ntp::MacAlgorithm::sha1,        ntp::MacAlgorithm::sha256,     ntp::MacAlgorithm::sha384,
    ntp::MacAlgorithm::sha512, ntp::MacAlgorithm::aes128_cmac, ntp::MacAlgorithm::aes256_cmac};

std::vector<std::byte> secret_for(ntp::MacAlgorithm algorithm, std::uint8_t fill) {
  return std::vector<std::byte>(algorithm == ntp::MacAlgorithm::aes256_cmac ? 32 : 16, std::byte{fill});
}

// Key id i + 1 for kEveryAlgorithm[i].
std::vector<ntp::SymmetricKey> every_key_type(std::uint8_t fill = 0x5a) {
  std::vector<ntp::SymmetricKey> keys;
  std::uint32_t id = 1;
  for (const ntp::MacAlgorithm algorithm : kEveryAlgorithm) {
    keys.push_back(key(id++, algorithm, secret_for(algorithm, fill)));
  }
  return keys;
}

}  // namespace

TEST_CASE("auth: digest(key || message) and AES-CMAC match the published vectors") {
  // Key "a" and message "bc": the digest of "abc", the classic vector of each hash.
  const auto ring = std::make_shared<const ntp::KeyRing>(std::vector<ntp::SymmetricKey>{
      key(1, ntp::MacAlgorithm::md5, test_bytes::of_text("a")),
      key(2, ntp::MacAlgorithm::sha1, test_bytes::of_text("a")),
      key(3, ntp::MacAlgorithm::sha256, test_bytes::of_text("a")),
      key(4, ntp::MacAlgorithm::sha512, test_bytes::of_text("a")),
      key(7, ntp::MacAlgorithm::sha384, test_bytes::of_text("a")),
      key(5, ntp::MacAlgorithm::aes128_cmac, test_bytes::of_hex("2b7e151628aed2a6abf7158809cf4f3c")),
      key(6, ntp::MacAlgorithm::aes256_cmac, test_bytes::of_hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")),
  });
  ntp::Authenticator auth{ring};
  const auto bc = test_bytes::of_text("bc");
  auto digest = [&](std::uint32_t id, std::span<const std::byte> message) {
    auto mac = mac_of(auth, id, message);
    CHECK(mac[3] == static_cast<std::byte>(id));
    return std::vector<std::byte>(mac.begin() + 4, mac.end());
  };
  CHECK(digest(1, bc) == test_bytes::of_hex("900150983cd24fb0d6963f7d28e17f72"));
  CHECK(digest(2, bc) == test_bytes::of_hex("a9993e364706816aba3e25717850c26c9cd0d89d"));
  CHECK(digest(3, bc) == test_bytes::of_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK(digest(4, bc) == test_bytes::of_hex("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                             "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"));
  CHECK(digest(7, bc) == test_bytes::of_hex("cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
                             "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"));
  // Truncated, as ntpd, NTPsec and chrony's NTPv4 send it: the first 20 bytes.
  const auto truncated = mac_of(auth, 3, bc, 20);
  CHECK(std::vector<std::byte>(truncated.begin() + 4, truncated.end()) ==
        test_bytes::of_hex("ba7816bf8f01cfea414140de5dae2223b00361a3"));
  CHECK(digest(5, {}) == test_bytes::of_hex("bb1d6929e95937287fa37d129b756746"));
  CHECK(digest(5, test_bytes::of_hex("6bc1bee22e409f96e93d7e117393172a")) == test_bytes::of_hex("070a16b46b4d4144f79bdd9dd04a287c"));
  CHECK(digest(6, {}) == test_bytes::of_hex("028962f61b7bf89efc6b551f4667d983"));
  // Contexts are reused: the same digest twice, and after another key's.
  CHECK(digest(5, {}) == test_bytes::of_hex("bb1d6929e95937287fa37d129b756746"));
  CHECK(digest(2, bc) == test_bytes::of_hex("a9993e364706816aba3e25717850c26c9cd0d89d"));
}

TEST_CASE("auth: verify accepts what sign made and nothing else") {
  std::vector<ntp::SymmetricKey> keys;
  keys.push_back(key(42, ntp::MacAlgorithm::sha1, test_bytes::of_text("secret-one")));
  keys.push_back(key(7, ntp::MacAlgorithm::aes128_cmac, test_bytes::of_hex("000102030405060708090a0b0c0d0e0f")));
  keys.push_back(key(9, ntp::MacAlgorithm::md5, test_bytes::of_text("secret-two")));
  ntp::Authenticator auth{std::make_shared<const ntp::KeyRing>(keys)};
  std::vector<std::byte> message(48, std::byte{0x23});
  for (const std::uint32_t id : {42u, 7u, 9u}) {
    CAPTURE(id);
    auto mac = mac_of(auth, id, message);
    const ntp::Verification ok = auth.verify(message, mac);
    CHECK(ok.verdict == ntp::Verdict::ok);
    CHECK(auth.ring()->keys()[ok.key.index].id == id);
    CHECK(ok.key.length() == mac.size());
    for (std::size_t i = 4; i < mac.size(); ++i) {
      auto flipped = mac;
      flipped[i] ^= std::byte{0x01};
      CHECK(auth.verify(message, flipped).verdict == ntp::Verdict::bad_mac);
    }
    auto changed = message;
    changed[47] ^= std::byte{0x80};
    CHECK(auth.verify(changed, mac).verdict == ntp::Verdict::bad_mac);
    auto longer = mac;
    longer.resize(mac.size() == 20 ? 24 : 20);  // another MAC length
    CHECK(auth.verify(message, longer).verdict == ntp::Verdict::bad_length);
  }
  auto unknown = mac_of(auth, 42, message);
  unknown[3] = std::byte{43};
  CHECK(auth.verify(message, unknown).verdict == ntp::Verdict::unknown_key);
  CHECK(auth.verify(message, std::vector<std::byte>(20)).verdict == ntp::Verdict::unknown_key);  // key 0
  // The same key under another key's secret does not verify.
  std::vector<ntp::SymmetricKey> other = keys;
  other[0].secret = test_bytes::of_text("secret-ONE");
  ntp::Authenticator wrong{std::make_shared<const ntp::KeyRing>(other)};
  CHECK(wrong.verify(message, mac_of(auth, 42, message)).verdict == ntp::Verdict::bad_mac);
  ntp::Authenticator empty{nullptr};
  CHECK(empty.verify(message, mac_of(auth, 42, message)).verdict == ntp::Verdict::unknown_key);
}

TEST_CASE("auth: the accepted digest lengths: the whole digest, and 20 bytes of a longer one") {
  using ntp::MacAlgorithm;
  struct Expected {
    MacAlgorithm algorithm;
    std::vector<std::size_t> lengths;
  };
  const Expected expected[] = {{MacAlgorithm::md5, {16}},         {MacAlgorithm::sha1, {20}},
                               {MacAlgorithm::sha256, {20, 32}},  {MacAlgorithm::sha384, {20, 48}},
                               {MacAlgorithm::sha512, {20, 64}},  {MacAlgorithm::aes128_cmac, {16}},
                               {MacAlgorithm::aes256_cmac, {16}}};
  for (const Expected& e : expected) {
    CAPTURE(ntp::to_string(e.algorithm));
    std::vector<std::size_t> accepted;
    for (std::size_t length = 0; length <= ntp::kMaxDigestLength + 8; ++length) {
      if (ntp::accepted_digest_length(e.algorithm, length)) accepted.push_back(length);
    }
    CHECK(accepted == e.lengths);
  }
}

TEST_CASE("auth: every key type verifies its whole and its truncated digest, and refuses every other length") {
  const std::vector<ntp::SymmetricKey> keys = every_key_type();
  ntp::Authenticator auth{std::make_shared<const ntp::KeyRing>(keys)};
  const std::vector<std::byte> message(48, std::byte{0x23});
  for (const ntp::SymmetricKey& held : keys) {
    CAPTURE(ntp::to_string(held.algorithm));
    const std::size_t index = auth.ring()->index_of(held.id);
    const std::vector<std::byte> whole = mac_of(auth, held.id, message);
    REQUIRE(whole.size() == 4 + ntp::digest_length(held.algorithm));
    for (std::size_t length = 0; length <= ntp::kMaxDigestLength; ++length) {
      CAPTURE(length);
      // The right bytes, as many as `length`: only the length can be wrong.
      std::vector<std::byte> mac(4 + length);
      std::copy_n(whole.begin(), std::min(mac.size(), whole.size()), mac.begin());
      const ntp::Verification verification = auth.verify(message, mac);
      if (!ntp::accepted_digest_length(held.algorithm, length)) {
        CHECK(verification.verdict == ntp::Verdict::bad_length);
        CHECK(verification.key == ntp::MacKey{});
        continue;
      }
      REQUIRE(verification.verdict == ntp::Verdict::ok);
      CHECK(verification.key == ntp::MacKey{index, length});
      // sign() with what verify() found writes the same MAC, and not a byte beyond it.
      std::vector<std::byte> signed_mac(4 + ntp::kMaxDigestLength + 4, std::byte{0xEE});
      auth.sign(verification.key, message, signed_mac);
      CHECK(std::ranges::equal(std::span{signed_mac}.first(mac.size()), mac));
      for (std::size_t i = 4 + length; i < signed_mac.size(); ++i) CHECK(signed_mac[i] == std::byte{0xEE});
      CHECK(mac == mac_of(auth, held.id, message, length));
      // Tampered: every digest byte, the message, the key id.
      for (std::size_t i = 4; i < mac.size(); ++i) {
        auto flipped = mac;
        flipped[i] ^= std::byte{0x01};
        CHECK(auth.verify(message, flipped).verdict == ntp::Verdict::bad_mac);
      }
      auto changed = message;
      changed[40] ^= std::byte{0x01};
      CHECK(auth.verify(changed, mac).verdict == ntp::Verdict::bad_mac);
      auto other_key = mac;
      other_key[3] = static_cast<std::byte>(held.id == 1 ? 2 : 1);  // another key, maybe of another length
      CHECK(auth.verify(message, other_key).verdict != ntp::Verdict::ok);
    }
    // A key of the same type and id with another secret refuses both lengths.
    ntp::Authenticator wrong{std::make_shared<const ntp::KeyRing>(std::vector<ntp::SymmetricKey>{
        ntp::SymmetricKey{held.id, held.algorithm, secret_for(held.algorithm, 0xa5), 1}})};
    CHECK(wrong.verify(message, whole).verdict == ntp::Verdict::bad_mac);
    if (whole.size() > 24) {
      CHECK(wrong.verify(message, std::span{whole}.first(24)).verdict == ntp::Verdict::bad_mac);
    }
  }
}

TEST_CASE("auth: verifying and signing allocate nothing once the authenticator is built") {
  REQUIRE(counting);
  const std::vector<ntp::SymmetricKey> keys = every_key_type();
  ntp::Authenticator auth{std::make_shared<const ntp::KeyRing>(keys)};
  std::vector<std::byte> message(48, std::byte{0x11});
  std::vector<std::byte> mac(4 + ntp::kMaxDigestLength);
  // One warm-up round: OpenSSL may set up per-thread state on first use.
  for (std::size_t k = 0; k < keys.size(); ++k) auth.sign(auth.whole(k), message, mac);
  const long before = openssl_allocations.load();
  for (int round = 0; round < 100; ++round) {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      for (const std::size_t digest : {ntp::digest_length(keys[k].algorithm), ntp::kTruncatedDigestLength}) {
        if (!ntp::accepted_digest_length(keys[k].algorithm, digest)) continue;
        const auto field = std::span{mac}.first(4 + digest);
        auth.sign(ntp::MacKey{k, digest}, message, field);
        CHECK(auth.verify(message, field).verdict == ntp::Verdict::ok);
      }
    }
  }
  CHECK(openssl_allocations.load() == before);
}
