#pragma once
// Byte strings for the key and MAC tests: text as its bytes, and hex digits decoded.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace test_bytes {

inline std::vector<std::byte> of_text(std::string_view text) {
  std::vector<std::byte> out;
  for (const char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

inline std::vector<std::byte> of_hex(std::string_view digits) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string{digits.substr(i, 2)}, nullptr, 16)));
  }
  return out;
}

}  // namespace test_bytes
