#pragma once
// Symmetric keys for the RFC 5905 MAC (RFC 8573 adds AES-CMAC), read from a chrony-format
// keys file: one key a line, "ID [TYPE] KEY", TYPE MD5 when omitted, KEY either "HEX:" and
// hex digits, "ASCII:" and text, or bare text. '#' starts a comment. Pure: text in, keys out.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ntp {

enum class MacAlgorithm : std::uint8_t { md5, sha1, sha256, sha384, sha512, aes128_cmac, aes256_cmac };
std::string_view to_string(MacAlgorithm algorithm);  // as the keys file spells it
std::optional<MacAlgorithm> parse_mac_algorithm(std::string_view name);
bool is_cmac(MacAlgorithm algorithm);

// A key type's whole digest: 16 bytes (MD5, AES-CMAC) to 64 (SHA512). A MAC carries it whole or,
// for SHA-2, truncated to 20 bytes (auth.hpp, accepted_digest_length()).
inline constexpr std::size_t kMaxDigestLength = 64;
std::size_t digest_length(MacAlgorithm algorithm);

struct SymmetricKey {
  std::uint32_t id = 0;
  MacAlgorithm algorithm = MacAlgorithm::md5;
  std::vector<std::byte> secret;
  unsigned line = 0;
};

struct KeyProblem {
  unsigned line = 0;
  unsigned column = 0;
  std::string field;  // "id", "type" or "key"
  std::string message;
  std::string to_string(std::string_view file) const;  // "FILE:LINE:COLUMN: FIELD: MESSAGE"
};

struct KeysResult {
  std::vector<SymmetricKey> keys;  // sorted by id; empty when there are problems
  std::vector<KeyProblem> problems;
};

// Every problem is reported, never a secret.
KeysResult parse_keys(std::string_view text);

}  // namespace ntp
