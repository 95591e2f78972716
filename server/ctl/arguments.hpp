#pragma once
// What every smearctl command needs to read its options.

#include <charconv>
#include <string_view>
#include <system_error>

namespace ctl {

// The whole of `text` as a number ("12", "0.5"): a trailing "s" or "x" is an error, not ignored.
template <typename Number>
bool parse_number(std::string_view text, Number& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

}  // namespace ctl
