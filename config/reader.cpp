#include "config/reader.hpp"

#include <algorithm>
#include <set>

namespace config {

SourceLocation Problems::at(const YAML::Node& node) const {
  if (!node.IsDefined()) return SourceLocation{file_, 0, 0};
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return SourceLocation{file_, 0, 0};
  return SourceLocation{file_, mark.line + 1, mark.column + 1};
}

void Problems::add(SourceLocation where, std::string key, std::string message) {
  list_.push_back(Problem{std::move(where), std::move(key), std::move(message)});
}

void Problems::insert(std::size_t earlier, SourceLocation where, std::string key, std::string message) {
  list_.insert(list_.begin() + static_cast<std::ptrdiff_t>(earlier),
               Problem{std::move(where), std::move(key), std::move(message)});
}

namespace {

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string{key} : parent + "." + std::string{key};
}

}  // namespace

Cursor::Cursor(const YAML::Node& document, Problems& problems)
    : problems_(&problems), node_(document), reported_before_(problems.count()) {}

Cursor::Cursor(const YAML::Node& node, const Cursor& parent, std::string path)
    : problems_(parent.problems_),
      node_(node),
      parent_(parent.node_),
      path_(std::move(path)),
      reported_before_(problems_->count()) {}

SourceLocation Cursor::location() const { return problems_->at(node_); }

bool Cursor::has(std::string_view key) const {
  return exists() && node_.IsMap() && node_[std::string{key}].IsDefined();
}

void Cursor::fail(std::string message) const { problems_->add(location(), path_, std::move(message)); }

std::string Cursor::kind() const {
  switch (node_.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

Cursor Cursor::operator[](std::string_view key) {
  if (std::find(read_.begin(), read_.end(), key) == read_.end()) read_.emplace_back(key);
  // The const subscript: the other one would add the key to the document.
  const YAML::Node child =
      exists() && node_.IsMap() ? std::as_const(node_)[std::string{key}] : YAML::Node{YAML::NodeType::Undefined};
  return Cursor{child, *this, child_path(path_, key)};
}

Cursor& Cursor::required() {
  if (!exists() && parent_.IsDefined() && parent_.IsMap()) {
    problems_->add(problems_->at(parent_), path_, "required key is missing");
  }
  return *this;
}

bool Cursor::map(std::string_view expected) const {
  if (!exists()) return false;
  if (node_.IsMap()) return true;
  fail("expected " + std::string{expected} + ", found " + kind());
  return false;
}

void Cursor::no_other_keys() const {
  std::set<std::string, std::less<>> seen;
  std::size_t at = reported_before_;
  for (const Member& member : members()) {
    const bool known = std::find(read_.begin(), read_.end(), member.name) != read_.end();
    if (!known || !seen.insert(member.name).second) {
      problems_->insert(at++, member.key.location(), member.key.path(),
                        known ? "key given twice" : "unknown key (expected one of: " + join(read_) + ")");
    }
  }
}

std::vector<Cursor::Member> Cursor::members() const {
  std::vector<Member> result;
  if (!exists() || !node_.IsMap()) return result;
  for (const auto& entry : node_) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : std::string{};
    const std::string path = child_path(path_, name);
    result.push_back(Member{name, Cursor{entry.first, *this, path}, Cursor{entry.second, *this, path}});
  }
  return result;
}

bool Cursor::list() const {
  if (!exists()) return false;
  if (node_.IsSequence()) return true;
  fail("expected a list, found " + kind());
  return false;
}

std::vector<Cursor> Cursor::items() const {
  std::vector<Cursor> result;
  if (!exists() || !node_.IsSequence()) return result;
  for (const auto& item : node_) {
    result.push_back(Cursor{item, *this, path_ + "[" + std::to_string(result.size()) + "]"});
  }
  return result;
}

std::optional<std::string> Cursor::string() const {
  if (!exists()) return std::nullopt;
  if (node_.IsScalar()) return node_.Scalar();
  fail("expected a string, found " + kind());
  return std::nullopt;
}

std::optional<std::string> Cursor::non_empty(std::string_view message) const {
  auto text = string();
  if (!text || !text->empty()) return text;
  fail(std::string{message});
  return std::nullopt;
}

std::optional<std::string> Cursor::absolute_path() const {
  auto text = string();
  if (!text || text->starts_with('/')) return text;
  fail("'" + *text + "' must be an absolute path");
  return std::nullopt;
}

std::optional<bool> Cursor::boolean() const {
  return as(
      [](std::string_view text) -> std::optional<bool> {
        if (text == "true" || text == "false") return text == "true";
        return std::nullopt;
      },
      "is not true or false");
}

bool Cursor::refused(std::int64_t value, Minimum minimum) const {
  if (value >= minimum.value) return false;
  fail(std::string{minimum.message});
  return true;
}

std::optional<unsigned> Cursor::count(unsigned max, Minimum minimum) const {
  const auto value = as(
      [max](std::string_view text) {
        const auto n = parse_whole<unsigned>(text);
        return n && *n <= max ? n : std::nullopt;
      },
      "is not a whole number from 0 to " + std::to_string(max));
  if (!value || refused(*value, minimum)) return std::nullopt;
  return value;
}

std::optional<unsigned> Cursor::power_of_two(unsigned min, unsigned max) const {
  const auto value = count(max);
  if (!value || (*value >= min && (*value & (*value - 1)) == 0)) return value;
  fail("must be a power of two from " + std::to_string(min) + " to " + std::to_string(max));
  return std::nullopt;
}

std::optional<leapdb::Nanoseconds> Cursor::seconds(std::int64_t max, Minimum minimum) const {
  const auto value = as(
      [max](std::string_view text) {
        const auto n = parse_whole<std::int64_t>(text);
        return n && *n >= 0 && *n <= max ? n : std::nullopt;
      },
      "is not a whole number of seconds from 0 to " + std::to_string(max));
  if (!value || refused(*value, minimum)) return std::nullopt;
  return std::chrono::seconds{*value};
}

}  // namespace config
