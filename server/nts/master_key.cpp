#include "server/nts/master_key.hpp"

#include "server/nts/cookie.hpp"

namespace nts {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trimmed(std::string_view line) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
}

MasterKeyResult problem(int line, std::string message) { return {{}, std::move(message), line}; }

}  // namespace

MasterKeyResult parse_master_key(std::string_view text) {
  MasterKeyResult result;
  int line_number = 0;
  int key_line = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    const std::string_view line = trimmed(raw);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    if (key_line != 0) {
      return problem(line_number, "a second key (the first is on line " + std::to_string(key_line) +
                                      "); the file holds exactly one");
    }
    key_line = line_number;
    if (line.size() % 2 != 0) return problem(line_number, "an odd number of hex digits");
    for (std::size_t i = 0; i < line.size(); i += 2) {
      const int high = hex_value(line[i]), low = hex_value(line[i + 1]);
      if (high < 0 || low < 0) {
        const std::size_t bad = high < 0 ? i : i + 1;
        return problem(line_number, "column " + std::to_string(bad + 1 + static_cast<std::size_t>(line.data() - raw.data())) +
                                        ": '" + std::string{line[bad]} + "' is not a hex digit");
      }
      result.secret.push_back(static_cast<std::byte>(high * 16 + low));
    }
    if (result.secret.size() < kMinMasterLength) {
      return problem(line_number, std::to_string(line.size()) + " hex digits; at least " +
                                      std::to_string(2 * kMinMasterLength) + " are needed (openssl rand -hex 32)");
    }
  }
  if (key_line == 0) return problem(0, "no key (expected one line of at least 64 hex digits)");
  return result;
}

}  // namespace nts
