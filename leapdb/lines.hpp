#pragma once
// Small text helpers the text-format parsers share (internal to leapdb).

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "leapdb/time.hpp"

namespace leapdb::lines {

// Calls visit(line_number, line) for each line, without its end-of-line characters.
template <class Visitor>
void for_each_line(std::string_view text, Visitor&& visit) {
  int number = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    visit(++number, line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// A whole field as a decimal integer (leading '+' or '-' allowed), or nothing.
inline std::optional<std::int64_t> integer(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || error != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

inline constexpr std::int64_t kNtpEpochToUnixSeconds = 2'208'988'800;

// Anything outside kEarliestTime..kLatestTime is refused rather than overflowed.
inline constexpr std::int64_t kEarliestUnixSeconds =
    std::chrono::floor<std::chrono::seconds>(kEarliestTime).time_since_epoch().count();
inline constexpr std::int64_t kLatestUnixSeconds =
    std::chrono::floor<std::chrono::seconds>(kLatestTime).time_since_epoch().count();

inline std::optional<UtcTime> from_unix_seconds(std::int64_t unix_seconds) {
  if (unix_seconds < kEarliestUnixSeconds || unix_seconds > kLatestUnixSeconds) return std::nullopt;
  return UtcTime{std::chrono::seconds{unix_seconds}};
}

inline std::optional<UtcTime> from_ntp_seconds(std::int64_t ntp_seconds) {
  return from_unix_seconds(ntp_seconds - kNtpEpochToUnixSeconds);
}

inline bool is_start_of_month(UtcTime t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  return t == day && std::chrono::year_month_day{day}.day() == std::chrono::day{1};
}

}  // namespace leapdb::lines
