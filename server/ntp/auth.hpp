#pragma once
// The RFC 5905 MAC: digest(key || message) for the hash types, AES-CMAC(key, message) for
// RFC 8573's. The key ring is an immutable value the snapshot shares; the authenticator holds
// one worker's OpenSSL contexts, made once per ring so the packet path allocates nothing.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "server/ntp/keys.hpp"

namespace ntp {

class KeyRing {
 public:
  KeyRing() = default;
  explicit KeyRing(std::vector<SymmetricKey> keys);  // any order; ids unique
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t index_of(std::uint32_t id) const;  // npos when unknown
  const std::vector<SymmetricKey>& keys() const { return keys_; }

 private:
  std::vector<SymmetricKey> keys_;  // sorted by id
};

enum class Verdict : std::uint8_t {
  ok,
  unknown_key,  // a key id we do not hold (key id 0 included)
  bad_length,   // a digest length the key's type never makes
  bad_mac,
};

struct Verification {
  Verdict verdict = Verdict::unknown_key;
  std::size_t key_index = KeyRing::npos;  // for sign(); valid when ok
};

class Authenticator {
 public:
  // Throws std::runtime_error when OpenSSL cannot provide a key's algorithm.
  explicit Authenticator(std::shared_ptr<const KeyRing> ring);
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;
  ~Authenticator();

  const KeyRing* ring() const { return ring_.get(); }
  // `message`: what the MAC covers (the header and any extension fields); `mac`: the key id
  // and digest that follow it.
  Verification verify(std::span<const std::byte> message, std::span<const std::byte> mac);
  // Writes the key id and the key's digest of `message` into `mac` (4 + digest_length bytes).
  void sign(std::size_t key_index, std::span<const std::byte> message, std::span<std::byte> mac);

 private:
  struct Contexts;
  // Digest of `message` with key `index`, digest_length(algorithm) bytes into `out`.
  void compute(std::size_t index, std::span<const std::byte> message, std::byte* out);

  std::shared_ptr<const KeyRing> ring_;
  std::unique_ptr<Contexts> contexts_;
};

}  // namespace ntp
