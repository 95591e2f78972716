#include "leapdb/time.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace leapdb {

std::string format_rfc3339(UtcTime t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<Nanoseconds> time_of_day{t - day};
  std::array<char, 48> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02u-%02uT%02d:%02d:%02lld.%09lldZ",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<int>(time_of_day.hours().count()),
                static_cast<int>(time_of_day.minutes().count()),
                static_cast<long long>(time_of_day.seconds().count()),
                static_cast<long long>(time_of_day.subseconds().count()));
  return text.data();
}

Rate Rate::from_ppm(double ppm) {
  // Beyond ±1000000 ppm (a clock stopped or running at double speed) nothing is meaningful.
  const double clamped = std::clamp(ppm, -1e6, 1e6);
  return Rate{std::llround(clamped * 4294.967296)};
}

double Rate::ppm() const { return static_cast<double>(per_2_32) / 4294.967296; }

std::string format_date(std::chrono::sys_days day) {
  const std::chrono::year_month_day date{day};
  std::array<char, 16> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02u-%02u", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
  return text.data();
}

namespace {

class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ == text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }

  bool digits(std::size_t count, int& value) {
    if (text_.size() - pos_ < count) return false;
    value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += count;
    return true;
  }

  bool literal(char expected) {
    if (peek() != expected) return false;
    ++pos_;
    return true;
  }

  bool one_of(std::string_view choices) {
    if (at_end() || choices.find(text_[pos_]) == std::string_view::npos) return false;
    ++pos_;
    return true;
  }

  // Fraction of a second after '.', truncated to nanoseconds; at least one digit.
  bool fraction(std::int64_t& nanoseconds) {
    nanoseconds = 0;
    std::size_t count = 0;
    std::int64_t scale = 100'000'000;
    while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      nanoseconds += (text_[pos_] - '0') * scale;
      scale /= 10;
      ++pos_;
      ++count;
    }
    return count > 0;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<UtcTime> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  Cursor in{text};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t nanos = 0;
  if (!in.digits(4, year) || !in.literal('-') || !in.digits(2, month) || !in.literal('-') ||
      !in.digits(2, day) || !in.one_of("Tt ") || !in.digits(2, hour) || !in.literal(':') ||
      !in.digits(2, minute) || !in.literal(':') || !in.digits(2, second)) {
    return std::nullopt;
  }
  if (in.literal('.') && !in.fraction(nanos)) return std::nullopt;
  int offset_minutes = 0;
  if (!in.one_of("Zz")) {
    const char sign = in.peek();
    int offset_hour = 0, offset_minute = 0;
    if (!in.one_of("+-") || !in.digits(2, offset_hour) || !in.literal(':') ||
        !in.digits(2, offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return std::nullopt;
    }
    offset_minutes = (offset_hour * 60 + offset_minute) * (sign == '-' ? -1 : 1);
  }
  if (!in.at_end()) return std::nullopt;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  // Nanoseconds in 64 bits end in 2262; leap data means nothing before 1900.
  if (!date.ok() || year < 1900 || year >= 2200 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return UtcTime{sys_days{date}} + hours{hour} + minutes{minute - offset_minutes} + seconds{second} +
         Nanoseconds{nanos};
}

}  // namespace leapdb
