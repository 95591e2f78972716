// MACs against published vectors (RFC 1321, FIPS 180, RFC 4493, SP 800-38B), sign and verify
// round trips, every way verification fails, and that the packet path allocates nothing.
#include <doctest/doctest.h>

#include <openssl/crypto.h>

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

// The MAC field for `message` under key `id`: key id, then the digest.
std::vector<std::byte> mac_of(ntp::Authenticator& auth, std::uint32_t id, std::span<const std::byte> message) {
  const std::size_t index = auth.ring()->index_of(id);
  REQUIRE(index != ntp::KeyRing::npos);
  std::vector<std::byte> mac(4 + ntp::digest_length(auth.ring()->keys()[index].algorithm));
  auth.sign(index, message, mac);
  return mac;
}

}  // namespace

TEST_CASE("auth: digest(key || message) and AES-CMAC match the published vectors") {
  // Key "a" and message "bc": the digest of "abc", the classic vector of each hash.
  const auto ring = std::make_shared<const ntp::KeyRing>(std::vector<ntp::SymmetricKey>{
      key(1, ntp::MacAlgorithm::md5, test_bytes::of_text("a")),
      key(2, ntp::MacAlgorithm::sha1, test_bytes::of_text("a")),
      key(3, ntp::MacAlgorithm::sha256, test_bytes::of_text("a")),
      key(4, ntp::MacAlgorithm::sha512, test_bytes::of_text("a")),
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
    CHECK(auth.ring()->keys()[ok.key_index].id == id);
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

TEST_CASE("auth: verifying and signing allocate nothing once the authenticator is built") {
  REQUIRE(counting);
  std::vector<ntp::SymmetricKey> keys;
  const ntp::MacAlgorithm algorithms[] = {ntp::MacAlgorithm::md5,    ntp::MacAlgorithm::sha1,
                                          ntp::MacAlgorithm::sha256, ntp::MacAlgorithm::sha512,
                                          ntp::MacAlgorithm::aes128_cmac, ntp::MacAlgorithm::aes256_cmac};
  std::uint32_t id = 1;
  for (const ntp::MacAlgorithm algorithm : algorithms) {
    keys.push_back(key(id++, algorithm, std::vector<std::byte>(algorithm == ntp::MacAlgorithm::aes256_cmac ? 32 : 16,
                                                               std::byte{0x5a})));
  }
  ntp::Authenticator auth{std::make_shared<const ntp::KeyRing>(keys)};
  std::vector<std::byte> message(48, std::byte{0x11});
  std::vector<std::byte> mac(4 + ntp::kMaxDigestLength);
  // One warm-up round: OpenSSL may set up per-thread state on first use.
  for (std::size_t k = 0; k < keys.size(); ++k) auth.sign(k, message, mac);
  const long before = openssl_allocations.load();
  for (int round = 0; round < 100; ++round) {
    for (std::size_t k = 0; k < keys.size(); ++k) {
      const std::size_t length = 4 + ntp::digest_length(keys[k].algorithm);
      auth.sign(k, message, std::span{mac}.first(length));
      CHECK(auth.verify(message, std::span{mac}.first(length)).verdict == ntp::Verdict::ok);
    }
  }
  CHECK(openssl_allocations.load() == before);
}
