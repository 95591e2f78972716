// IERS/NIST leap-seconds.list: "#$ NTP-seconds" last update, "#@ NTP-seconds" expiry,
// "#h w1 w2 w3 w4 w5" SHA-1, data lines "NTP-seconds TAI-UTC # comment". The first data line
// states TAI-UTC at the start of the table (10 s on 1972-01-01); each later one is a leap.

#include <array>
#include <string>

#include "leapdb/lines.hpp"
#include "leapdb/parse.hpp"
#include "leapdb/sha1.hpp"

namespace leapdb {
namespace {

std::string hex_words(const std::array<std::uint32_t, 5>& words) {
  std::string text;
  for (const std::uint32_t word : words) {
    char buffer[12];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, word, 16).ptr;
    if (!text.empty()) text += ' ';
    text.append(buffer, end);
  }
  return text;
}

std::optional<std::array<std::uint32_t, 5>> parse_hash(std::string_view text) {
  const auto words = lines::fields(text);
  if (words.size() != 5) return std::nullopt;
  std::array<std::uint32_t, 5> out{};
  for (std::size_t i = 0; i < 5; ++i) {
    const auto [end, error] = std::from_chars(words[i].data(), words[i].data() + words[i].size(), out[i], 16);
    if (error != std::errc{} || end != words[i].data() + words[i].size()) return std::nullopt;
  }
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

ParseResult parse_leap_seconds_list(std::string_view text, std::string_view source, const ParseOptions& options) {
  ParseResult result;
  LeapTable& table = result.table;
  table.source = std::string{source};
  table.format = Format::leap_seconds_list;
  auto fail = [&](int line, std::string field, std::string message) {
    result.problems.push_back(Problem{table.source, line, std::move(field), std::move(message)});
  };

  std::string update_digits, expiry_digits, data_digits;
  std::optional<std::array<std::uint32_t, 5>> stated_hash;
  int hash_line = 0;
  bool have_base = false;
  int previous_tai_utc = 0;

  lines::for_each_line(text, [&](int number, std::string_view line) {
    if (line.starts_with("#$") || line.starts_with("#@")) {
      const bool update = line[1] == '$';
      const std::string_view value = lines::trim(line.substr(2));
      const std::string field = update ? "#$ (last update)" : "#@ (expiry)";
      const auto seconds = all_digits(value) ? lines::integer(value) : std::nullopt;
      const auto at = seconds ? lines::from_ntp_seconds(*seconds) : std::nullopt;
      if (!at) {
        fail(number, field, "'" + std::string{value} + "' is not a count of NTP seconds between 1900 and 2200");
        return;
      }
      (update ? update_digits : expiry_digits) = std::string{value};
      (update ? table.last_update : table.expires) = at;
      return;
    }
    if (line.starts_with("#h")) {
      hash_line = number;
      stated_hash = parse_hash(line.substr(2));
      if (!stated_hash) fail(number, "#h (hash)", "expected five hexadecimal 32-bit words");
      return;
    }
    const std::string_view content = lines::trim(line.substr(0, line.find('#')));
    if (content.empty()) return;
    const auto words = lines::fields(content);
    const bool numeric = words.size() == 2 && all_digits(words[0]) && all_digits(words[1]);
    const std::int64_t ntp_seconds = numeric ? lines::integer(words[0]).value_or(-1) : -1;
    const auto when = lines::from_ntp_seconds(ntp_seconds);
    const std::int64_t tai_utc = numeric ? lines::integer(words[1]).value_or(-1) : -1;
    if (!when || tai_utc < 0 || tai_utc > 1000) {
      fail(number, "data",
           "expected 'NTP-seconds TAI-UTC' (1900 to 2200, TAI-UTC up to 1000), found '" + std::string{content} + "'");
      return;
    }
    data_digits.append(words[0]).append(words[1]);
    const UtcTime at = *when;
    const int offset = static_cast<int>(tai_utc);
    if (!have_base) {
      have_base = true;
      table.initial_tai_utc = offset;
      if (!lines::is_start_of_month(at)) {
        fail(number, "NTP-seconds", "the first entry must fall on the first second of a month");
      }
    } else {
      table.leaps.push_back(Leap{at, offset >= previous_tai_utc ? 1 : -1, offset, number});
    }
    previous_tai_utc = offset;
  });

  if (!have_base) fail(0, "data", "no data lines: not a leap-seconds.list");
  if (!table.last_update) fail(0, "#$ (last update)", "missing: the file must state when it was last updated");
  if (!table.expires) fail(0, "#@ (expiry)", "missing: the file must state when it expires");

  if (!stated_hash) {
    table.hash = HashStatus::missing;
    Problem missing{table.source, 0, "#h (hash)", "missing: the file's integrity cannot be checked"};
    (options.allow_unhashed ? result.warnings : result.problems).push_back(std::move(missing));
  } else {
    const auto actual = sha1_words(update_digits + expiry_digits + data_digits);
    if (actual == *stated_hash) {
      table.hash = HashStatus::ok;
    } else {
      table.hash = HashStatus::mismatch;
      fail(hash_line, "#h (hash)",
           "mismatch: the file says " + hex_words(*stated_hash) + " but its content hashes to " + hex_words(actual) +
               "; it was altered or damaged");
    }
  }

  validate(table, result.problems);
  return result;
}

}  // namespace leapdb
