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

// The digest lengths a MAC may carry, and so the lengths verify() accepts: the whole digest,
// or for a digest longer than 20 bytes (SHA256, SHA384, SHA512) its first 20 bytes, in any NTP
// version. Nothing else: no other truncation, no padding. That is what real clients send:
//  - ntpd (libntp's MD5authencrypt) and NTPsec's ntpd truncate every digest to 20 bytes
//    (MAX_MDG_LEN, MAX_BARE_MAC_LENGTH), in NTPv3 and NTPv4 alike, and accept only that;
//  - chrony sends min(digest, 20) bytes in NTPv4, so the MAC stays 24 bytes and cannot be
//    taken for an extension field (RFC 7822 section 7.5), and the whole digest in NTPv3; it
//    accepts exactly those (check_symmetric_auth); its MACs are never shorter than 4 + 16;
//  - NTPsec's ntpdig computes the whole digest (libntpc's do_mac keeps up to 64 bytes) and
//    checks the reply's MAC against the whole digest.
// A reply is signed with the length of its request's MAC, so each of them gets back what it
// checks. MD5 and AES-CMAC (16 bytes) and SHA1 (20) have only their whole digest.
inline constexpr std::size_t kTruncatedDigestLength = 20;
bool accepted_digest_length(MacAlgorithm algorithm, std::size_t length);

enum class Verdict : std::uint8_t {
  ok,
  unknown_key,  // a key id we do not hold (key id 0 included)
  bad_length,   // a digest length accepted_digest_length() refuses for the key's type
  bad_mac,
};

// A MAC to sign with: which key of the ring, and how many bytes of its digest go on the wire
// (the request's, whole or truncated). What verify() found, what a decision carries to sign().
struct MacKey {
  std::size_t index = KeyRing::npos;  // KeyRing::npos: no MAC
  std::size_t digest_length = 0;
  explicit operator bool() const { return index != KeyRing::npos; }
  std::size_t length() const { return 4 + digest_length; }  // key id and digest, on the wire
  friend bool operator==(const MacKey&, const MacKey&) = default;
};

struct Verification {
  Verdict verdict = Verdict::unknown_key;
  MacKey key;  // for sign(): the key and the request's digest length; valid when ok
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
  // and digest that follow it, whole or truncated (see accepted_digest_length()).
  Verification verify(std::span<const std::byte> message, std::span<const std::byte> mac);
  // Writes the key id and the first key.digest_length bytes of the key's digest of `message`
  // into the first key.length() bytes of `mac`, which holds at least that many.
  void sign(MacKey key, std::span<const std::byte> message, std::span<std::byte> mac);
  // Key `index` with its whole digest: how a client that does not truncate signs.
  MacKey whole(std::size_t index) const;

 private:
  struct Contexts;
  // Digest of `message` with key `index`, digest_length(algorithm) bytes into `out`.
  void compute(std::size_t index, std::span<const std::byte> message, std::byte* out);

  std::shared_ptr<const KeyRing> ring_;
  std::unique_ptr<Contexts> contexts_;
};

}  // namespace ntp
