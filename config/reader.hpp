#pragma once
// The YAML reader every section of the configuration is read with: a cursor on one node that
// carries its dotted key path ("reference.sources[1].poll") and the problem list, so a key is
// written once and its check and its message cannot drift apart. Nothing here throws: a value
// that is missing, of the wrong kind or out of range is reported where it is written and
// comes back empty, and reading goes on, so every problem is reported in one pass.

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace config {

// Where problems go, and the file name they carry.
class Problems {
 public:
  Problems(std::string_view file, std::vector<Problem>& list) : file_(file), list_(list) {}

  SourceLocation at(const YAML::Node& node) const;
  void add(SourceLocation where, std::string key, std::string message);
  std::size_t count() const { return list_.size(); }
  // As if added when there were `earlier` problems (a count() taken then). The final sort keeps
  // the order of problems at one position, which this lets a reader choose.
  void insert(std::size_t earlier, SourceLocation where, std::string key, std::string message);

 private:
  std::string file_;
  std::vector<Problem>& list_;
};

// "a, b, c".
template <typename Words>
std::string join(const Words& words) {
  std::string text;
  for (const auto& word : words) {
    if (!text.empty()) text += ", ";
    text += word;
  }
  return text;
}

// Decimal digits and nothing else (from_chars refuses a leading '+' too).
template <typename T>
std::optional<T> parse_whole(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A lower bound with its own message; the upper bound is in the message for a malformed value.
struct Minimum {
  std::int64_t value = 0;
  std::string_view message;  // e.g. "must be from 1 to 255"
};

// One node of the document. A key that is not in the file gives a cursor that does not exist:
// reading it is silent and gives nothing, so an optional key needs no test of its own, and
// required() is what turns its absence into a problem (at the parent, where it belongs).
//
// The keys a mapping may have are the keys read from it with [], in the order read, which
// is the order no_other_keys() lists them in. Its problems are put before those of the
// mapping's values, as if the keys had been checked first.
class Cursor {
 public:
  Cursor(const YAML::Node& document, Problems& problems);  // the whole file, path ""
  Cursor(const Cursor&) = default;
  Cursor& operator=(const Cursor&) = delete;  // YAML::Node's assignment writes into the document

  const std::string& path() const { return path_; }
  SourceLocation location() const;
  bool exists() const { return node_.IsDefined(); }
  bool is_null() const { return exists() && node_.IsNull(); }  // a key with no value: "metrics:"
  bool is_scalar() const { return exists() && node_.IsScalar(); }
  bool has(std::string_view key) const;  // the mapping has the key; unlike [], not a read
  void fail(std::string message) const;  // at this node, named by this path
  Problems& problems() const { return *problems_; }

  // Mappings.
  Cursor operator[](std::string_view key);
  Cursor& required();  // a missing key is reported at its parent
  bool map(std::string_view expected = "a mapping") const;
  void no_other_keys() const;  // unknown and repeated keys, against those read with []
  struct Member;
  std::vector<Member> members() const;  // every key in file order, for mappings keyed by names

  // Lists.
  bool list() const;
  std::size_t size() const { return exists() ? node_.size() : 0; }
  std::vector<Cursor> items() const;  // "path[0]", "path[1]", ...

  // Values.
  std::optional<std::string> string() const;
  std::optional<std::string> non_empty(std::string_view message) const;
  std::optional<std::string> absolute_path() const;
  std::optional<bool> boolean() const;
  std::optional<unsigned> count(unsigned max, Minimum minimum = {}) const;
  std::optional<unsigned> power_of_two(unsigned min, unsigned max) const;
  std::optional<leapdb::Nanoseconds> seconds(std::int64_t max, Minimum minimum = {}) const;

  // A name from a fixed list; `expected` replaces "one of: a, b" in the message.
  template <typename T>
  std::optional<T> one_of(std::initializer_list<std::pair<std::string_view, T>> choices,
                          std::string_view expected = {}) const;

  // A string parse() turns into a value, else "'TEXT' <message>".
  template <typename Parse>
  auto as(Parse parse, std::string_view message) const -> decltype(parse(std::string_view{}));

 private:
  Cursor(const YAML::Node& node, const Cursor& parent, std::string path);
  std::string kind() const;
  bool refused(std::int64_t value, Minimum minimum) const;  // below it: reported

  Problems* problems_;
  YAML::Node node_;
  YAML::Node parent_;  // a missing key is reported at its parent
  std::string path_;
  std::vector<std::string> read_;
  std::size_t reported_before_;  // problems before this cursor: where its key problems go
};

struct Cursor::Member {
  std::string name;  // empty when the key is not a string
  Cursor key;        // the key itself, for problems about the name
  Cursor value;
};

template <typename T>
std::optional<T> Cursor::one_of(std::initializer_list<std::pair<std::string_view, T>> choices,
                                std::string_view expected) const {
  const auto text = string();
  if (!text) return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& [name, value] : choices) {
    if (name == *text) return value;
    names.push_back(name);
  }
  fail("'" + *text + "' is not " + (expected.empty() ? "one of: " + join(names) : std::string{expected}));
  return std::nullopt;
}

template <typename Parse>
auto Cursor::as(Parse parse, std::string_view message) const -> decltype(parse(std::string_view{})) {
  const auto text = string();
  if (!text) return std::nullopt;
  auto value = parse(std::string_view{*text});
  if (!value) fail("'" + *text + "' " + std::string{message});
  return value;
}

}  // namespace config
