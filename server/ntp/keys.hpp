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

// The legacy MAC field holds at most 20 digest bytes (24 with the key id), so NTPv4 can tell
// it from an extension field (RFC 7822): longer digests are truncated, as chrony does.
inline constexpr std::size_t kMaxDigestLength = 20;
std::size_t digest_length(MacAlgorithm algorithm);  // on the wire: 16 or 20

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
