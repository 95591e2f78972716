// AES-SIV against OpenSSL's independent implementation (itself checked against RFC 5297's
// vector), and every way a sealed message can fail to open.
#include "server/nts/aead.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <random>
#include <vector>

namespace {

std::vector<std::byte> hex(const char* text) {
  std::vector<std::byte> out;
  for (const char* p = text; p[0] != '\0' && p[1] != '\0'; p += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string{p, 2}, nullptr, 16)));
  }
  return out;
}

std::vector<std::byte> random_bytes(std::mt19937_64& random, std::size_t n) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(random() & 0xFF);
  return out;
}

// OpenSSL 3's AES-SIV, each associated-data component one update: tag || ciphertext.
std::vector<std::byte> openssl_siv(nts::Aead aead, std::span<const std::byte> key,
                                   const std::vector<std::span<const std::byte>>& components,
                                   std::span<const std::byte> plaintext) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, aead == nts::Aead::aes_siv_cmac_256 ? "AES-128-SIV" : "AES-256-SIV", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  REQUIRE(EVP_EncryptInit_ex2(ctx, cipher, reinterpret_cast<const unsigned char*>(key.data()), nullptr, nullptr) == 1);
  int length = 0;
  for (const auto& c : components) {
    REQUIRE(EVP_EncryptUpdate(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(c.data()),
                              static_cast<int>(c.size())) == 1);
  }
  std::vector<std::byte> out(nts::kTagLength + plaintext.size());
  REQUIRE(EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data() + nts::kTagLength), &length,
                            reinterpret_cast<const unsigned char*>(plaintext.data()), static_cast<int>(plaintext.size())) == 1);
  REQUIRE(EVP_EncryptFinal_ex(ctx, nullptr, &length) == 1);
  REQUIRE(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(nts::kTagLength), out.data()) == 1);
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  return out;
}

}  // namespace

TEST_CASE("OpenSSL's AES-SIV, the reference below, gives RFC 5297's deterministic vector (A.1)") {
  const auto key = hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  const auto ad = hex("101112131415161718191a1b1c1d1e1f2021222324252627");
  const auto plaintext = hex("112233445566778899aabbccddee");
  CHECK(openssl_siv(nts::Aead::aes_siv_cmac_256, key, {ad}, plaintext) ==
        hex("85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c"));
}

TEST_CASE("seal is AES-SIV over the associated data, then the nonce; open inverts it") {
  std::mt19937_64 random{8915};
  for (const auto aead : {nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512}) {
    for (int i = 0; i < 300; ++i) {
      const auto key = random_bytes(random, nts::key_length(aead));
      const auto nonce = random_bytes(random, i % 3 == 0 ? 16 : 1 + random() % 32);
      const auto ad = random_bytes(random, 1 + random() % 200);
      const auto plaintext = random_bytes(random, i < 10 ? 0 : random() % 300);  // requests carry none
      std::vector<std::byte> sealed(nts::kTagLength + plaintext.size());
      REQUIRE(nts::seal(aead, key, nonce, ad, plaintext, sealed));
      // OpenSSL's EVP interface cannot finish an empty message; nettle's round trip still must.
      if (!plaintext.empty()) REQUIRE(sealed == openssl_siv(aead, key, {ad, nonce}, plaintext));
      std::vector<std::byte> opened(plaintext.size());
      REQUIRE(nts::open(aead, key, nonce, ad, sealed, opened));
      REQUIRE(opened == plaintext);
    }
  }
}

TEST_CASE("a changed byte anywhere, a wrong key or a wrong size does not open, and leaves nothing behind") {
  std::mt19937_64 random{4460};
  const auto aead = nts::Aead::aes_siv_cmac_256;
  auto key = random_bytes(random, 32);
  auto nonce = random_bytes(random, 16);
  auto ad = random_bytes(random, 68);
  for (const std::size_t size : {std::size_t{0}, std::size_t{40}}) {  // NTS requests usually encrypt nothing
    const auto empty_or_not = random_bytes(random, size);
    std::vector<std::byte> sealed(nts::kTagLength + size);
    REQUIRE(nts::seal(aead, key, nonce, ad, empty_or_not, sealed));
    std::vector<std::byte> opened(size);
    for (auto* part : {&sealed, &ad, &nonce, &key}) {
      for (std::size_t at = 0; at < part->size(); ++at) {
        // SIV's second key half only encrypts: with nothing to encrypt, it changes nothing.
        if (part == &key && size == 0 && at >= key.size() / 2) continue;
        (*part)[at] ^= std::byte{0x01};
        std::fill(opened.begin(), opened.end(), std::byte{0xAA});
        CHECK_FALSE(nts::open(aead, key, nonce, ad, sealed, opened));
        CHECK(std::ranges::all_of(opened, [](std::byte b) { return b == std::byte{0}; }));
        (*part)[at] ^= std::byte{0x01};
      }
    }
    CHECK(nts::open(aead, key, nonce, ad, sealed, opened));
  }
  const auto plaintext = random_bytes(random, 40);
  std::vector<std::byte> sealed(nts::kTagLength + plaintext.size());
  REQUIRE(nts::seal(aead, key, nonce, ad, plaintext, sealed));
  std::vector<std::byte> opened(plaintext.size());
  REQUIRE(nts::open(aead, key, nonce, ad, sealed, opened));
  CHECK_FALSE(nts::open(nts::Aead::aes_siv_cmac_512, key, nonce, ad, sealed, opened));  // a 32-byte key
  CHECK_FALSE(nts::open(aead, key, nonce, ad, std::span{sealed}.first(10), std::span{opened}.first(0)));
  CHECK_FALSE(nts::open(aead, key, nonce, ad, sealed, std::span{opened}.first(39)));
  CHECK_FALSE(nts::seal(aead, key, nonce, ad, plaintext, std::span{sealed}.first(55)));
  // An empty nonce is refused rather than handed to Nettle, which aborts on it.
  CHECK_FALSE(nts::seal(aead, key, {}, ad, plaintext, sealed));
  CHECK_FALSE(nts::open(aead, key, {}, ad, sealed, opened));
  CHECK(nts::aead_from_number(15) == nts::Aead::aes_siv_cmac_256);
  CHECK(nts::aead_from_number(17) == nts::Aead::aes_siv_cmac_512);
  CHECK_FALSE(nts::aead_from_number(16).has_value());
  CHECK_FALSE(nts::aead_from_number(30).has_value());  // AES-128-GCM-SIV: not offered
}
