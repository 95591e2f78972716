#include "server/ntp/keys.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

namespace ntp {
namespace {

struct Named {
  std::string_view name;
  MacAlgorithm algorithm;
};
constexpr std::array<Named, 7> kAlgorithms{{{"MD5", MacAlgorithm::md5},
                                            {"SHA1", MacAlgorithm::sha1},
                                            {"SHA256", MacAlgorithm::sha256},
                                            {"SHA384", MacAlgorithm::sha384},
                                            {"SHA512", MacAlgorithm::sha512},
                                            {"AES128", MacAlgorithm::aes128_cmac},
                                            {"AES256", MacAlgorithm::aes256_cmac}}};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

struct Field {
  std::string_view text;
  unsigned column = 0;  // 1-based
};

std::vector<Field> split(std::string_view line) {
  std::vector<Field> fields;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) fields.push_back({line.substr(start, i - start), static_cast<unsigned>(start + 1)});
  }
  return fields;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

}  // namespace

std::string_view to_string(MacAlgorithm algorithm) {
  for (const Named& named : kAlgorithms) {
    if (named.algorithm == algorithm) return named.name;
  }
  return "?";
}

std::optional<MacAlgorithm> parse_mac_algorithm(std::string_view name) {
  for (const Named& named : kAlgorithms) {
    if (equal_ignoring_case(named.name, name)) return named.algorithm;
  }
  return std::nullopt;
}

bool is_cmac(MacAlgorithm algorithm) {
  return algorithm == MacAlgorithm::aes128_cmac || algorithm == MacAlgorithm::aes256_cmac;
}

std::size_t digest_length(MacAlgorithm algorithm) {
  switch (algorithm) {
    case MacAlgorithm::md5:
    case MacAlgorithm::aes128_cmac:
    case MacAlgorithm::aes256_cmac: return 16;
    case MacAlgorithm::sha1: return 20;
    case MacAlgorithm::sha256: return 32;
    case MacAlgorithm::sha384: return 48;
    case MacAlgorithm::sha512: return 64;
  }
  return kMaxDigestLength;
}

std::string KeyProblem::to_string(std::string_view file) const {
  return std::string{file} + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + field + ": " + message;
}

KeysResult parse_keys(std::string_view text) {
  KeysResult result;
  unsigned number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const std::vector<Field> fields = split(line);
    if (fields.empty()) continue;
    auto problem = [&](const Field& at, std::string field, std::string message) {
      result.problems.push_back({number, at.column, std::move(field), std::move(message)});
    };
    if (fields.size() > 3) {
      problem(fields[3], "key", "unexpected text after the key (a line is \"ID [TYPE] KEY\")");
      continue;
    }
    SymmetricKey key;
    key.line = number;
    const Field& id = fields[0];
    const auto [id_end, id_error] = std::from_chars(id.text.data(), id.text.data() + id.text.size(), key.id);
    if (id_error != std::errc{} || id_end != id.text.data() + id.text.size() || key.id == 0) {
      problem(id, "id", "'" + std::string{id.text} + "' is not a key number from 1 to 4294967295");
      continue;
    }
    if (fields.size() == 1) {
      problem(id, "key", "key " + std::to_string(key.id) + " has no key");
      continue;
    }
    if (fields.size() == 3) {
      const auto algorithm = parse_mac_algorithm(fields[1].text);
      if (!algorithm) {
        problem(fields[1], "type",
                "unknown type '" + std::string{fields[1].text} + "' (MD5, SHA1, SHA256, SHA384, SHA512, AES128, AES256)");
        continue;
      }
      key.algorithm = *algorithm;
    }
    const Field& secret = fields.back();
    std::string_view value = secret.text;
    if (value.starts_with("HEX:")) {
      value.remove_prefix(4);
      if (value.size() % 2 != 0 || std::ranges::any_of(value, [](char c) { return hex_value(c) < 0; })) {
        problem(secret, "key", "HEX: needs an even number of hex digits");
        continue;
      }
      for (std::size_t i = 0; i < value.size(); i += 2) {
        key.secret.push_back(static_cast<std::byte>(hex_value(value[i]) * 16 + hex_value(value[i + 1])));
      }
    } else {
      if (value.starts_with("ASCII:")) value.remove_prefix(6);
      for (const char c : value) key.secret.push_back(static_cast<std::byte>(c));
    }
    if (key.secret.empty()) {
      problem(secret, "key", "key " + std::to_string(key.id) + " is empty");
      continue;
    }
    if (is_cmac(key.algorithm)) {
      const std::size_t wanted = key.algorithm == MacAlgorithm::aes128_cmac ? 16 : 32;
      if (key.secret.size() != wanted) {
        problem(secret, "key",
                std::string{to_string(key.algorithm)} + " needs a " + std::to_string(wanted) + "-byte key, not " +
                    std::to_string(key.secret.size()) + " bytes");
        continue;
      }
    }
    const auto same = std::ranges::find(result.keys, key.id, &SymmetricKey::id);
    if (same != result.keys.end()) {
      problem(id, "id", "key " + std::to_string(key.id) + " is already defined on line " + std::to_string(same->line));
      continue;
    }
    result.keys.push_back(std::move(key));
  }
  if (!result.problems.empty()) {
    result.keys.clear();
    return result;
  }
  std::ranges::sort(result.keys, {}, &SymmetricKey::id);
  return result;
}

}  // namespace ntp
