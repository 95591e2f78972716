#include "server/nts/aead.hpp"

#include <nettle/siv-cmac.h>
#include <openssl/crypto.h>

namespace nts {
namespace {

const std::uint8_t* bytes(std::span<const std::byte> s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }
std::uint8_t* bytes(std::span<std::byte> s) { return reinterpret_cast<std::uint8_t*>(s.data()); }

// Nettle's contexts hold the expanded keys: wiped before they leave the stack.
template <class Context>
struct Wiped {
  Context context;
  ~Wiped() { OPENSSL_cleanse(&context, sizeof context); }
};

}  // namespace

std::optional<Aead> aead_from_number(std::uint16_t number) {
  switch (number) {
    case 15: return Aead::aes_siv_cmac_256;
    case 17: return Aead::aes_siv_cmac_512;
    default: return std::nullopt;
  }
}

bool seal(Aead aead, std::span<const std::byte> key, std::span<const std::byte> nonce,
          std::span<const std::byte> associated, std::span<const std::byte> plaintext, std::span<std::byte> out) {
  // Nettle aborts on an empty nonce; RFC 8915 never uses one.
  if (key.size() != key_length(aead) || nonce.empty() || out.size() != plaintext.size() + kTagLength) return false;
  if (aead == Aead::aes_siv_cmac_256) {
    Wiped<siv_cmac_aes128_ctx> c;
    siv_cmac_aes128_set_key(&c.context, bytes(key));
    siv_cmac_aes128_encrypt_message(&c.context, nonce.size(), bytes(nonce), associated.size(), bytes(associated),
                                    out.size(), bytes(out), bytes(plaintext));
  } else {
    Wiped<siv_cmac_aes256_ctx> c;
    siv_cmac_aes256_set_key(&c.context, bytes(key));
    siv_cmac_aes256_encrypt_message(&c.context, nonce.size(), bytes(nonce), associated.size(), bytes(associated),
                                    out.size(), bytes(out), bytes(plaintext));
  }
  return true;
}

bool open(Aead aead, std::span<const std::byte> key, std::span<const std::byte> nonce,
          std::span<const std::byte> associated, std::span<const std::byte> ciphertext, std::span<std::byte> out) {
  if (key.size() != key_length(aead) || nonce.empty() || ciphertext.size() < kTagLength ||
      out.size() != ciphertext.size() - kTagLength) {
    return false;
  }
  int ok = 0;
  if (aead == Aead::aes_siv_cmac_256) {
    Wiped<siv_cmac_aes128_ctx> c;
    siv_cmac_aes128_set_key(&c.context, bytes(key));
    ok = siv_cmac_aes128_decrypt_message(&c.context, nonce.size(), bytes(nonce), associated.size(), bytes(associated),
                                         out.size(), bytes(out), bytes(ciphertext));
  } else {
    Wiped<siv_cmac_aes256_ctx> c;
    siv_cmac_aes256_set_key(&c.context, bytes(key));
    ok = siv_cmac_aes256_decrypt_message(&c.context, nonce.size(), bytes(nonce), associated.size(), bytes(associated),
                                         out.size(), bytes(out), bytes(ciphertext));
  }
  if (ok == 0 && !out.empty()) OPENSSL_cleanse(out.data(), out.size());
  return ok != 0;
}

}  // namespace nts
