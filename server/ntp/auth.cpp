#include "server/ntp/auth.hpp"

// OpenSSL 3's EVP digests allocate a provider context at every init; the one-shot hash
// contexts live on the stack, so the packet path keeps to its no-allocation rule. They are
// deprecated, not removed, in OpenSSL 3.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace ntp {
namespace {

struct MacFree {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

template <class Context, class Init, class Update, class Final>
void hash(Init init, Update update, Final final, std::span<const std::byte> key, std::span<const std::byte> message,
          unsigned char* full) {
  Context context;
  init(&context);
  update(&context, key.data(), key.size());
  update(&context, message.data(), message.size());
  final(full, &context);
  OPENSSL_cleanse(&context, sizeof context);
}

void put_u32(std::span<std::byte> out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>(value >> (24 - 8 * i));
}

std::uint32_t get_u32(std::span<const std::byte> in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | std::to_integer<std::uint32_t>(in[static_cast<std::size_t>(i)]);
  return value;
}

}  // namespace

bool accepted_digest_length(MacAlgorithm algorithm, std::size_t length) {
  const std::size_t whole = digest_length(algorithm);
  return length == whole || (whole > kTruncatedDigestLength && length == kTruncatedDigestLength);
}

KeyRing::KeyRing(std::vector<SymmetricKey> keys) : keys_(std::move(keys)) {
  std::ranges::sort(keys_, {}, &SymmetricKey::id);
}

std::size_t KeyRing::index_of(std::uint32_t id) const {
  const auto found = std::ranges::lower_bound(keys_, id, {}, &SymmetricKey::id);
  return found != keys_.end() && found->id == id ? static_cast<std::size_t>(found - keys_.begin()) : npos;
}

struct Authenticator::Contexts {
  // A CMAC context holds its key: one per key, by key index (null for the hash types).
  std::vector<std::unique_ptr<EVP_MAC_CTX, MacCtxFree>> cmac_contexts;
};

Authenticator::Authenticator(std::shared_ptr<const KeyRing> ring)
    : ring_(ring ? std::move(ring) : std::make_shared<const KeyRing>()), contexts_(std::make_unique<Contexts>()) {
  std::unique_ptr<EVP_MAC, MacFree> cmac;
  for (const SymmetricKey& key : ring_->keys()) {
    auto fail = [&key](const char* what) {
      throw std::runtime_error("key " + std::to_string(key.id) + " (" + std::string{to_string(key.algorithm)} +
                               "): OpenSSL cannot " + what);
    };
    if (!is_cmac(key.algorithm)) {
      contexts_->cmac_contexts.emplace_back();
      continue;
    }
    if (!cmac) cmac.reset(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
    if (!cmac) fail("provide CMAC");
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> context{EVP_MAC_CTX_new(cmac.get())};
    std::array<char, 16> cipher{};
    std::ranges::copy(std::string_view{key.algorithm == MacAlgorithm::aes128_cmac ? "AES-128-CBC" : "AES-256-CBC"},
                      cipher.begin());
    const std::array<OSSL_PARAM, 2> params{OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cipher.data(), 0),
                                           OSSL_PARAM_construct_end()};
    if (!context || EVP_MAC_init(context.get(), reinterpret_cast<const unsigned char*>(key.secret.data()),
                                 key.secret.size(), params.data()) != 1) {
      fail("key AES-CMAC");
    }
    contexts_->cmac_contexts.push_back(std::move(context));
  }
}

Authenticator::~Authenticator() = default;

void Authenticator::compute(std::size_t index, std::span<const std::byte> message, std::byte* out) {
  const SymmetricKey& key = ring_->keys()[index];
  auto* bytes = reinterpret_cast<unsigned char*>(out);
  if (is_cmac(key.algorithm)) {
    EVP_MAC_CTX* context = contexts_->cmac_contexts[index].get();
    std::size_t written = 0;
    // Re-initialising without a key restarts with the one already set, allocating nothing.
    EVP_MAC_init(context, nullptr, 0, nullptr);
    EVP_MAC_update(context, reinterpret_cast<const unsigned char*>(message.data()), message.size());
    EVP_MAC_final(context, bytes, &written, digest_length(key.algorithm));
    return;
  }
  std::array<unsigned char, SHA512_DIGEST_LENGTH> full{};
  const std::span<const std::byte> secret{key.secret};
  switch (key.algorithm) {
    case MacAlgorithm::md5: hash<MD5_CTX>(MD5_Init, MD5_Update, MD5_Final, secret, message, full.data()); break;
    case MacAlgorithm::sha1: hash<SHA_CTX>(SHA1_Init, SHA1_Update, SHA1_Final, secret, message, full.data()); break;
    case MacAlgorithm::sha256:
      hash<SHA256_CTX>(SHA256_Init, SHA256_Update, SHA256_Final, secret, message, full.data());
      break;
    case MacAlgorithm::sha384:
      hash<SHA512_CTX>(SHA384_Init, SHA384_Update, SHA384_Final, secret, message, full.data());
      break;
    default: hash<SHA512_CTX>(SHA512_Init, SHA512_Update, SHA512_Final, secret, message, full.data()); break;
  }
  std::copy_n(full.begin(), digest_length(key.algorithm), bytes);
}

Verification Authenticator::verify(std::span<const std::byte> message, std::span<const std::byte> mac) {
  Verification result;
  if (mac.size() < 4) return result;
  const std::size_t index = ring_->index_of(get_u32(mac));
  if (index == KeyRing::npos) return result;
  const std::span<const std::byte> digest = mac.subspan(4);
  if (!accepted_digest_length(ring_->keys()[index].algorithm, digest.size())) {
    result.verdict = Verdict::bad_length;
    return result;
  }
  std::array<std::byte, kMaxDigestLength> expected{};
  compute(index, message, expected.data());
  result.verdict = CRYPTO_memcmp(expected.data(), digest.data(), digest.size()) == 0 ? Verdict::ok : Verdict::bad_mac;
  if (result.verdict == Verdict::ok) result.key = MacKey{index, digest.size()};
  return result;
}

void Authenticator::sign(MacKey key, std::span<const std::byte> message, std::span<std::byte> mac) {
  put_u32(mac, ring_->keys()[key.index].id);
  std::array<std::byte, kMaxDigestLength> digest{};
  compute(key.index, message, digest.data());
  std::copy_n(digest.begin(), key.digest_length, mac.subspan(4, key.digest_length).begin());
}

MacKey Authenticator::whole(std::size_t index) const {
  return MacKey{index, digest_length(ring_->keys()[index].algorithm)};
}

}  // namespace ntp
