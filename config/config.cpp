#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <tuple>
#include <yaml-cpp/yaml.h>

namespace config {

bool SocketAddress::is_wildcard() const {
  const std::size_t length = family == Family::ipv4 ? 4 : 16;
  return std::all_of(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length),
                     [](std::uint8_t b) { return b == 0; });
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == Family::ipv4) {
    inet_ntop(AF_INET, bytes.data(), text, sizeof text);
    return std::string{text} + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  return "[" + std::string{text} + "]:" + std::to_string(port);
}

std::optional<SocketAddress> parse_socket_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;

  SocketAddress address;
  address.port = static_cast<std::uint16_t>(port);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    const std::string inner{host.substr(1, host.size() - 2)};
    if (inet_pton(AF_INET6, inner.c_str(), address.bytes.data()) != 1) return std::nullopt;
    address.family = SocketAddress::Family::ipv6;
    return address;
  }
  const std::string plain{host};
  if (inet_pton(AF_INET, plain.c_str(), address.bytes.data()) != 1) return std::nullopt;
  address.family = SocketAddress::Family::ipv4;
  return address;
}

std::optional<Network> parse_network(std::string_view text) {
  Network pin;
  pin.text = std::string{text};
  const std::size_t slash = text.find('/');
  const std::string address{text.substr(0, slash)};
  unsigned length = 0;
  unsigned max_length = 0;
  if (inet_pton(AF_INET, address.c_str(), pin.network.data() + 12) == 1) {
    pin.network[10] = pin.network[11] = 0xff;
    max_length = 32;
  } else if (inet_pton(AF_INET6, address.c_str(), pin.network.data()) == 1) {
    max_length = 128;
  } else {
    return std::nullopt;
  }
  length = max_length;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() || length > max_length) {
      return std::nullopt;
    }
  }
  pin.prefix_length = length + (max_length == 32 ? 96 : 0);
  // Host bits set below the prefix are almost always a typo (10.1.2.3/8): refuse them.
  for (unsigned bit = pin.prefix_length; bit < 128; ++bit) {
    if ((pin.network[bit / 8] >> (7 - bit % 8)) & 1) return std::nullopt;
  }
  return pin;
}

std::optional<UpstreamServer> parse_upstream_server(std::string_view text) {
  UpstreamServer server;
  server.text = std::string{text};
  std::string_view host = text;
  std::optional<std::string_view> port;
  std::array<std::uint8_t, 16> scratch{};
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::nullopt;
      port = text.substr(close + 2);
    }
    if (inet_pton(AF_INET6, std::string{host}.c_str(), scratch.data()) != 1) return std::nullopt;
  } else if (inet_pton(AF_INET6, std::string{text}.c_str(), scratch.data()) == 1) {
    host = text;  // a bare IPv6 address: every colon is its own
  } else if (const std::size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port) {
    unsigned value = 0;
    const auto [end, error] = std::from_chars(port->data(), port->data() + port->size(), value);
    if (port->empty() || error != std::errc{} || end != port->data() + port->size() || value == 0 || value > 65535) {
      return std::nullopt;
    }
    server.port = static_cast<std::uint16_t>(value);
  }
  // A host name: letters, digits, hyphens and dots (RFC 1123), or an address.
  const bool name_like = !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
  });
  if (!name_like || host.front() == '-' || host.front() == '.') return std::nullopt;
  server.host = std::string{host};
  return server;
}

std::string_view to_string(Reference::Type type) {
  switch (type) {
    case Reference::Type::system: return "system";
    case Reference::Type::simulated: return "simulated";
    case Reference::Type::phc: return "phc";
    case Reference::Type::shm: return "shm";
    case Reference::Type::sock: return "sock";
    case Reference::Type::upstream: return "upstream";
  }
  return "unknown";
}

std::string Reference::reference_id_text() const {
  if (!refid.empty()) return refid;
  switch (type) {
    case Type::phc: return "PHC";
    case Type::shm: return unit < 10 ? "SHM" + std::to_string(unit) : "SHM";
    case Type::sock: return "SOCK";
    case Type::system:
    case Type::simulated:
    case Type::upstream: break;
  }
  return "LOCL";
}

std::string Problem::to_string() const {
  std::string text = where.file;
  if (where.line > 0) text += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  text += ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}

namespace {

std::string_view kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

std::string join(std::initializer_list<std::string_view> words) {
  std::string text;
  for (const auto word : words) {
    if (!text.empty()) text += ", ";
    text += word;
  }
  return text;
}

class Reader {
 public:
  Reader(std::string_view file, std::vector<Problem>& problems) : file_(file), problems_(problems) {}

  SourceLocation at(const YAML::Node& node) const {
    if (!node.IsDefined()) return SourceLocation{file_, 0, 0};
    const YAML::Mark mark = node.Mark();
    if (mark.is_null()) return SourceLocation{file_, 0, 0};
    return SourceLocation{file_, mark.line + 1, mark.column + 1};
  }

  void fail(const YAML::Node& node, std::string key, std::string message) {
    fail(at(node), std::move(key), std::move(message));
  }

  void fail(SourceLocation where, std::string key, std::string message) {
    problems_.push_back(Problem{std::move(where), std::move(key), std::move(message)});
  }

  bool is_map(const YAML::Node& node, const std::string& key) {
    if (node.IsMap()) return true;
    fail(node, key, "expected a mapping, found " + std::string{kind_of(node)});
    return false;
  }

  bool is_list(const YAML::Node& node, const std::string& key) {
    if (node.IsSequence()) return true;
    fail(node, key, "expected a list, found " + std::string{kind_of(node)});
    return false;
  }

  std::optional<std::string> string(const YAML::Node& node, const std::string& key) {
    if (node.IsScalar()) return node.Scalar();
    fail(node, key, "expected a string, found " + std::string{kind_of(node)});
    return std::nullopt;
  }

  // Reports unknown and repeated keys of a mapping; values are read by the caller.
  void only_keys(const YAML::Node& map, const std::string& path, std::initializer_list<std::string_view> allowed) {
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : map) {
      const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : std::string{};
      const std::string key = path.empty() ? name : path + "." + name;
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        fail(entry.first, key, "unknown key (expected one of: " + join(allowed) + ")");
      } else if (!seen.insert(name).second) {
        fail(entry.first, key, "key given twice");
      }
    }
  }

  // A value that must be present: a missing one is reported at its parent.
  YAML::Node required(const YAML::Node& parent, std::string_view name, const std::string& key) {
    YAML::Node child = parent[std::string{name}];
    if (!child.IsDefined()) fail(parent, key, "required key is missing");
    return child;
  }

 private:
  std::string file_;
  std::vector<Problem>& problems_;
};

std::string path_index(std::string_view path, std::size_t index) {
  return std::string{path} + "[" + std::to_string(index) + "]";
}

void read_listeners(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_list(node, "listeners")) return;
  if (node.size() == 0) in.fail(node, "listeners", "at least one listener is needed");
  if (node.size() > 255) in.fail(node, "listeners", "at most 255 listeners");
  std::size_t index = 0;
  for (const auto& item : node) {
    const std::string path = path_index("listeners", index++);
    if (!in.is_map(item, path)) continue;
    in.only_keys(item, path, {"address", "timescale"});
    Listener listener;
    listener.key = path;
    const YAML::Node address = in.required(item, "address", path + ".address");
    if (address.IsDefined()) {
      listener.location = in.at(address);
      if (const auto text = in.string(address, path + ".address")) {
        if (const auto parsed = parse_socket_address(*text); parsed && parsed->port == 0) {
          in.fail(address, path + ".address", "'" + *text + "' needs a port from 1 to 65535");
        } else if (parsed) {
          listener.address = *parsed;
        } else {
          in.fail(address, path + ".address",
                  "'" + *text + "' is not a numeric address with a port, e.g. \"0.0.0.0:123\" or \"[::]:123\"");
        }
      }
    }
    const YAML::Node timescale = in.required(item, "timescale", path + ".timescale");
    if (timescale.IsDefined()) {
      listener.timescale_location = in.at(timescale);
      if (const auto name = in.string(timescale, path + ".timescale"); name && name->empty()) {
        in.fail(timescale, path + ".timescale", "a timescale name is needed");
      } else if (name) {
        listener.timescale = *name;
      }
    }
    config.listeners.push_back(std::move(listener));
  }
}

std::optional<bool> boolean(Reader& in, const YAML::Node& node, const std::string& key) {
  const auto text = in.string(node, key);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  in.fail(node, key, "'" + *text + "' is not true or false");
  return std::nullopt;
}

std::optional<unsigned> count(Reader& in, const YAML::Node& node, const std::string& key, unsigned max) {
  const auto text = in.string(node, key);
  if (!text) return std::nullopt;
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc{} || end != text->data() + text->size() || value > max) {
    in.fail(node, key, "'" + *text + "' is not a whole number from 0 to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

// "smear: google", or "smear: {profile: linear, window: 600, anchor: end}", handed to the
// smear library's own parser so the two spellings can never disagree.
std::optional<smear::Profile> read_smear(Reader& in, const YAML::Node& node, const std::string& key) {
  std::string spec;
  if (node.IsScalar()) {
    spec = node.Scalar();
  } else if (in.is_map(node, key)) {
    in.only_keys(node, key, {"profile", "window", "anchor", "wander", "max_frequency"});
    const YAML::Node shape = in.required(node, "profile", key + ".profile");
    if (!shape.IsDefined()) return std::nullopt;
    const auto name = in.string(shape, key + ".profile");
    if (!name) return std::nullopt;
    spec = *name + ":";
    bool first = true;
    for (const char* setting : {"window", "anchor", "wander", "max_frequency"}) {
      if (const YAML::Node value = node[setting]; value.IsDefined()) {
        const auto text = in.string(value, key + "." + setting);
        if (!text) return std::nullopt;
        spec += std::string{first ? "" : ","} + setting + "=" + *text;
        first = false;
      }
    }
  } else {
    return std::nullopt;
  }
  smear::ProfileResult result = smear::parse_profile(spec);
  if (!result.profile) {
    in.fail(node, key, result.error);
    return std::nullopt;
  }
  return std::move(result.profile);
}

std::optional<std::int64_t> whole_seconds(Reader& in, const YAML::Node& node, const std::string& key,
                                          std::int64_t max) {
  const auto text = in.string(node, key);
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc{} || end != text->data() + text->size() || value < 0 || value > max) {
    in.fail(node, key, "'" + *text + "' is not a whole number of seconds from 0 to " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

void read_rehearsal(Reader& in, const YAML::Node& node, const std::string& key, Timescale& timescale) {
  if (!in.is_map(node, key)) return;
  in.only_keys(node, key, {"leap_at", "sign"});
  Rehearsal rehearsal;
  const YAML::Node at = in.required(node, "leap_at", key + ".leap_at");
  if (!at.IsDefined()) return;
  const auto text = in.string(at, key + ".leap_at");
  if (!text) return;
  const auto when = leapdb::parse_rfc3339(*text);
  if (!when) {
    in.fail(at, key + ".leap_at", "'" + *text + "' is not an RFC 3339 time, e.g. 2026-11-23T15:00:00Z");
    return;
  }
  rehearsal.leap_at = *when;
  if (const YAML::Node sign = node["sign"]; sign.IsDefined()) {
    const auto value = in.string(sign, key + ".sign");
    if (!value) return;
    if (*value != "+" && *value != "-") {
      in.fail(sign, key + ".sign", "'" + *value + "' must be \"+\" (inserted second) or \"-\" (deleted second)");
      return;
    }
    rehearsal.sign = *value == "+" ? 1 : -1;
  }
  timescale.rehearsal = rehearsal;
}

void read_timescales(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_map(node, "timescales")) return;
  for (const auto& entry : node) {
    const std::string name = entry.first.Scalar();
    const std::string path = "timescales." + name;
    if (name.empty()) {
      in.fail(entry.first, path, "a timescale needs a name");
      continue;
    }
    if (!in.is_map(entry.second, path)) continue;
    in.only_keys(entry.second, path, {"smear", "refid", "announce", "rehearsal"});
    Timescale timescale;
    const YAML::Node smear = in.required(entry.second, "smear", path + ".smear");
    if (smear.IsDefined()) {
      if (auto profile = read_smear(in, smear, path + ".smear")) timescale.profile = std::move(*profile);
    }
    if (const YAML::Node refid = entry.second["refid"]; refid.IsDefined()) {
      const auto value = in.string(refid, path + ".refid");
      if (value == "ntpd") {
        timescale.refid = RefidConvention::ntpd;
      } else if (value == "chrony") {
        timescale.refid = RefidConvention::chrony;
      } else if (value == "reference") {
        timescale.refid = RefidConvention::reference;
      } else if (value) {
        in.fail(refid, path + ".refid", "'" + *value + "' is not ntpd, chrony or reference");
      }
    }
    if (const YAML::Node announce = entry.second["announce"]; announce.IsDefined()) {
      if (const auto seconds = whole_seconds(in, announce, path + ".announce", 31 * 86400)) {
        timescale.announce = std::chrono::seconds{*seconds};
      }
    }
    if (const YAML::Node rehearsal = entry.second["rehearsal"]; rehearsal.IsDefined()) {
      read_rehearsal(in, rehearsal, path + ".rehearsal", timescale);
    }
    if (!config.timescales.emplace(name, std::move(timescale)).second) {
      in.fail(entry.first, path, "timescale defined twice");
    }
  }
}

// "100", "0.5": a positive decimal as an exact fraction.
bool parse_rate(std::string_view text, std::int64_t& numerator, std::int64_t& denominator) {
  numerator = 0;
  denominator = 1;
  bool point = false, digits = false;
  for (const char c : text) {
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9' && numerator < 100'000'000'000 && denominator < 1'000'000'000) {
      numerator = numerator * 10 + (c - '0');
      if (point) denominator *= 10;
      digits = true;
    } else {
      return false;
    }
  }
  return digits && numerator > 0 && numerator <= 100'000 * denominator;
}

std::optional<std::string> choice(Reader& in, const YAML::Node& node, const std::string& key,
                                  std::initializer_list<std::string_view> allowed) {
  const auto value = in.string(node, key);
  if (!value) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *value) != allowed.end()) return value;
  in.fail(node, key, "'" + *value + "' is not one of: " + join(allowed));
  return std::nullopt;
}

void read_reference(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_map(node, "reference")) return;
  Reference& ref = config.reference;
  ref.location = in.at(node);
  const YAML::Node type = in.required(node, "type", "reference.type");
  if (type.IsDefined()) {
    const auto value = in.string(type, "reference.type");
    static constexpr std::pair<std::string_view, Reference::Type> kTypes[] = {
        {"system", Reference::Type::system}, {"simulated", Reference::Type::simulated}, {"phc", Reference::Type::phc},
        {"shm", Reference::Type::shm},       {"sock", Reference::Type::sock},           {"upstream", Reference::Type::upstream}};
    const auto* found = std::find_if(std::begin(kTypes), std::end(kTypes), [&](const auto& t) { return value == t.first; });
    if (found != std::end(kTypes)) {
      ref.type = found->second;
    } else if (value) {
      in.fail(type, "reference.type",
              "unknown reference type '" + *value + "' (expected: system, phc, shm, sock, upstream, simulated)");
      return;
    }
  }
  // Each key belongs to the types it means something for.
  using T = Reference::Type;
  static const std::vector<std::pair<std::string_view, std::vector<T>>> kKeys = {
      {"type", {T::system, T::simulated, T::phc, T::shm, T::sock, T::upstream}},
      {"refid", {T::system, T::simulated, T::phc, T::shm, T::sock}},
      {"holdover", {T::system, T::phc, T::shm, T::sock, T::upstream}},
      {"unsynchronized", {T::system, T::phc, T::shm, T::sock, T::upstream}},
      {"clock", {T::system}},
      {"start", {T::simulated}},
      {"rate", {T::simulated}},
      {"device", {T::phc}},
      {"timescale", {T::phc}},
      {"unit", {T::shm}},
      {"path", {T::sock}},
      {"servers", {T::upstream}},
      {"minsources", {T::upstream}},
      {"drift_file", {T::upstream}},
      {"poll", {T::upstream}},
  };
  std::set<std::string, std::less<>> seen;
  for (const auto& entry : node) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : std::string{};
    const auto known = std::find_if(kKeys.begin(), kKeys.end(), [&](const auto& k) { return k.first == name; });
    if (known == kKeys.end()) {
      in.fail(entry.first, "reference." + name,
              "unknown key (expected one of: type, refid, holdover, unsynchronized, clock, device, timescale, unit, "
              "path, servers, minsources, drift_file, poll, start, rate)");
    } else if (!seen.insert(name).second) {
      in.fail(entry.first, "reference." + name, "key given twice");
    } else if (std::find(known->second.begin(), known->second.end(), ref.type) == known->second.end()) {
      std::string types;
      for (const T t : known->second) types += (types.empty() ? "" : ", ") + std::string{to_string(t)};
      in.fail(entry.first, "reference." + name,
              "not for type: " + std::string{to_string(ref.type)} + " (only for type: " + types + ")");
    }
  }

  if (const YAML::Node refid = node["refid"]; refid.IsDefined()) {
    if (const auto value = in.string(refid, "reference.refid")) {
      const bool printable = std::all_of(value->begin(), value->end(), [](char c) { return c >= 0x20 && c < 0x7f; });
      if (value->empty() || value->size() > 4 || !printable) {
        in.fail(refid, "reference.refid", "'" + *value + "' must be 1 to 4 printable ASCII characters, e.g. GPS");
      } else {
        ref.refid = *value;
      }
    }
  }
  if (const YAML::Node holdover = node["holdover"]; holdover.IsDefined()) {
    if (const auto s = whole_seconds(in, holdover, "reference.holdover", 30 * 86400)) ref.holdover = std::chrono::seconds{*s};
  }
  if (const YAML::Node fallback = node["unsynchronized"]; fallback.IsDefined() && in.is_map(fallback, "reference.unsynchronized")) {
    in.only_keys(fallback, "reference.unsynchronized", {"local_stratum"});
    const YAML::Node stratum = in.required(fallback, "local_stratum", "reference.unsynchronized.local_stratum");
    if (stratum.IsDefined()) {
      const auto n = count(in, stratum, "reference.unsynchronized.local_stratum", 15);
      if (n && *n == 0) {
        in.fail(stratum, "reference.unsynchronized.local_stratum", "must be a stratum from 1 to 15");
      } else if (n) {
        ref.local_stratum = *n;
      }
    }
  }
  if (const YAML::Node clock = node["clock"]; clock.IsDefined()) {
    if (const auto value = choice(in, clock, "reference.clock", {"realtime", "tai"})) {
      ref.clock = *value == "tai" ? Reference::Clock::tai : Reference::Clock::realtime;
    }
  }
  auto path_value = [&](const char* key, std::string& into) {
    const std::string path = std::string{"reference."} + key;
    const YAML::Node value = in.required(node, key, path);
    if (!value.IsDefined()) return;
    ref.resource_location = in.at(value);
    const auto text = in.string(value, path);
    if (text && (text->empty() || text->front() != '/')) {
      in.fail(value, path, "'" + *text + "' must be an absolute path");
    } else if (text) {
      into = *text;
    }
  };
  switch (ref.type) {
    case Reference::Type::phc:
      path_value("device", ref.device);
      if (const YAML::Node timescale = node["timescale"]; timescale.IsDefined()) {
        if (const auto value = choice(in, timescale, "reference.timescale", {"tai", "utc"})) {
          ref.timescale = *value == "utc" ? Reference::Timescale::utc : Reference::Timescale::tai;
        }
      }
      break;
    case Reference::Type::shm:
      if (const YAML::Node unit = in.required(node, "unit", "reference.unit"); unit.IsDefined()) {
        ref.resource_location = in.at(unit);
        // ntpd's and gpsd's units: 0 to 255 (the key's last byte).
        if (const auto n = count(in, unit, "reference.unit", 255)) ref.unit = *n;
      }
      break;
    case Reference::Type::sock:
      path_value("path", ref.path);
      if (ref.path.size() >= 108) {
        in.fail(node["path"], "reference.path", "a Unix socket path must be shorter than 108 bytes");
      }
      break;
    case Reference::Type::upstream: {
      const YAML::Node servers = in.required(node, "servers", "reference.servers");
      if (servers.IsDefined() && in.is_list(servers, "reference.servers")) {
        ref.resource_location = in.at(servers);
        if (servers.size() == 0) in.fail(servers, "reference.servers", "at least one server is needed");
        if (servers.size() > 64) in.fail(servers, "reference.servers", "at most 64 servers");
        std::size_t index = 0;
        for (const auto& item : servers) {
          const std::string key = path_index("reference.servers", index++);
          const auto text = in.string(item, key);
          if (!text) continue;
          if (const auto server = parse_upstream_server(*text)) {
            ref.servers.push_back(*server);
          } else {
            in.fail(item, key, "'" + *text + "' is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
          }
        }
      }
      if (const YAML::Node minsources = node["minsources"]; minsources.IsDefined()) {
        const auto n = count(in, minsources, "reference.minsources", 64);
        if (n && (*n == 0 || (!ref.servers.empty() && *n > ref.servers.size()))) {
          in.fail(minsources, "reference.minsources", "must be from 1 to the number of servers");
        } else if (n) {
          ref.minsources = *n;
        }
      }
      if (const YAML::Node drift = node["drift_file"]; drift.IsDefined()) {
        const auto text = in.string(drift, "reference.drift_file");
        if (text && (text->empty() || text->front() != '/')) {
          in.fail(drift, "reference.drift_file", "'" + *text + "' must be an absolute path");
        } else if (text) {
          ref.drift_file = *text;
        }
      }
      if (const YAML::Node poll = node["poll"]; poll.IsDefined()) {
        const auto s = whole_seconds(in, poll, "reference.poll", 1024);
        if (s && *s < 1) {
          in.fail(poll, "reference.poll", "must be from 1 to 1024 seconds");
        } else if (s) {
          ref.poll = std::chrono::seconds{*s};
        }
      }
      break;
    }
    case Reference::Type::simulated:
      if (const YAML::Node start = in.required(node, "start", "reference.start"); start.IsDefined()) {
        const auto text = in.string(start, "reference.start");
        const auto when = text ? leapdb::parse_rfc3339(*text) : std::nullopt;
        if (!when && text) in.fail(start, "reference.start", "'" + *text + "' is not an RFC 3339 time");
        if (when) ref.start = *when;
      }
      if (const YAML::Node rate = node["rate"]; rate.IsDefined()) {
        const auto text = in.string(rate, "reference.rate");
        if (text && !parse_rate(*text, ref.rate_numerator, ref.rate_denominator)) {
          in.fail(rate, "reference.rate", "'" + *text + "' is not a rate above 0 and at most 100000, e.g. 60 or 0.5");
        } else if (text) {
          ref.rate_text = *text;
        }
      }
      break;
    case Reference::Type::system:
      break;
  }
}

std::optional<Network> read_network(Reader& in, const YAML::Node& node, const std::string& key) {
  const auto text = in.string(node, key);
  if (!text) return std::nullopt;
  auto network = parse_network(*text);
  if (!network) {
    in.fail(node, key, "'" + *text + "' is not a network such as 10.0.0.0/8 or 2001:db8::/32");
    return std::nullopt;
  }
  network->location = in.at(node);
  return network;
}

void read_clients(Reader& in, const YAML::Node& node, Config& config) {
  if (node.IsNull()) return;
  if (!in.is_list(node, "clients")) return;
  std::size_t index = 0;
  for (const auto& item : node) {
    const std::string path = path_index("clients", index++);
    if (!in.is_map(item, path)) continue;
    in.only_keys(item, path, {"networks", "timescale", "key_required"});
    bool key_required = false;
    if (const YAML::Node flag = item["key_required"]; flag.IsDefined()) {
      key_required = boolean(in, flag, path + ".key_required").value_or(false);
      if (key_required && !config.keys) in.fail(flag, path + ".key_required", "needs a keys file (keys: PATH)");
    }
    const YAML::Node timescale = in.required(item, "timescale", path + ".timescale");
    const auto name = timescale.IsDefined() ? in.string(timescale, path + ".timescale") : std::nullopt;
    if (name && (name->empty() || !config.timescales.contains(*name))) {
      in.fail(timescale, path + ".timescale", "no timescale named '" + *name + "' under timescales");
    }
    const YAML::Node networks = in.required(item, "networks", path + ".networks");
    if (!networks.IsDefined() || !in.is_list(networks, path + ".networks")) continue;
    std::size_t n = 0;
    for (const auto& network : networks) {
      const std::string key = path_index(path + ".networks", n++);
      const auto text = in.string(network, key);
      if (!text) continue;
      auto parsed = read_network(in, network, key);
      if (!parsed) continue;
      config.clients.push_back(ClientPin{std::move(*parsed), name.value_or(""), key_required});
    }
  }
}

void read_access(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_map(node, "access")) return;
  in.only_keys(node, "access", {"allow", "deny", "denied", "min_version"});
  Access& access = config.access;
  for (const auto& [name, list] : {std::pair{"allow", &access.allow}, std::pair{"deny", &access.deny}}) {
    const YAML::Node networks = node[name];
    const std::string path = std::string{"access."} + name;
    if (!networks.IsDefined() || !in.is_list(networks, path)) continue;
    if (networks.size() == 0) {
      in.fail(networks, path, std::string{"an empty list "} +
                                  (list == &access.allow ? "would serve nobody; leave allow out to serve everyone"
                                                         : "denies nobody; leave deny out"));
    }
    std::size_t n = 0;
    for (const auto& network : networks) {
      if (auto parsed = read_network(in, network, path_index(path, n++))) list->push_back(std::move(*parsed));
    }
  }
  if (const YAML::Node denied = node["denied"]; denied.IsDefined()) {
    const auto value = in.string(denied, "access.denied");
    if (value == "kod") {
      access.denied = Access::Denied::kod;
    } else if (value == "drop") {
      access.denied = Access::Denied::drop;
    } else if (value) {
      in.fail(denied, "access.denied", "'" + *value + "' is not kod (a KoD DENY reply) or drop");
    }
  }
  if (const YAML::Node version = node["min_version"]; version.IsDefined()) {
    if (const auto n = count(in, version, "access.min_version", 4)) {
      if (*n < 1) {
        in.fail(version, "access.min_version", "must be an NTP version from 1 to 4");
      } else {
        access.min_version = *n;
      }
    }
  }
}

void read_ratelimit(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_map(node, "ratelimit")) return;
  in.only_keys(node, "ratelimit", {"interval", "burst", "leak", "table_size"});
  RateLimit& limit = config.ratelimit;
  limit.enabled = true;
  if (const YAML::Node interval = node["interval"]; interval.IsDefined()) {
    const auto text = in.string(interval, "ratelimit.interval");
    int value = 0;
    const auto [end, error] = text ? std::from_chars(text->data(), text->data() + text->size(), value)
                                   : std::from_chars_result{nullptr, std::errc::invalid_argument};
    if (text && (error != std::errc{} || end != text->data() + text->size() || value < -4 || value > 12)) {
      in.fail(interval, "ratelimit.interval", "'" + *text + "' is not a log2 of seconds from -4 (1/16 s) to 12 (4096 s)");
    } else if (text) {
      limit.interval = value;
    }
  }
  if (const YAML::Node burst = node["burst"]; burst.IsDefined()) {
    if (const auto n = count(in, burst, "ratelimit.burst", 255)) {
      if (*n < 1) {
        in.fail(burst, "ratelimit.burst", "must be from 1 to 255");
      } else {
        limit.burst = *n;
      }
    }
  }
  if (const YAML::Node leak = node["leak"]; leak.IsDefined()) {
    if (const auto n = count(in, leak, "ratelimit.leak", 8)) limit.leak = *n;
  }
  if (const YAML::Node size = node["table_size"]; size.IsDefined()) {
    if (const auto n = count(in, size, "ratelimit.table_size", 1u << 24)) {
      if (*n < 1024 || (*n & (*n - 1)) != 0) {
        in.fail(size, "ratelimit.table_size", "must be a power of two from 1024 to 16777216");
      } else {
        limit.table_size = *n;
      }
    }
  }
}

// A user or group name as passwd and group files allow it, or a numeric id.
void read_account(Reader& in, const YAML::Node& node, const std::string& key, std::optional<std::string>& out,
                  SourceLocation& location) {
  location = in.at(node);
  const auto text = in.string(node, key);
  if (!text) return;
  const bool valid = !text->empty() && text->size() <= 32 && (*text)[0] != '-' &&
                     std::all_of(text->begin(), text->end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
                     });
  if (!valid) {
    in.fail(node, key, "'" + *text + "' is not a user or group name");
    return;
  }
  out = *text;
}

void read_client_policy(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_map(node, "client_policy")) return;
  in.only_keys(node, "client_policy", {"mismatch", "sticky", "mixed_window", "table_size"});
  ClientPolicy& policy = config.client_policy;
  if (const YAML::Node mismatch = node["mismatch"]; mismatch.IsDefined()) {
    const auto value = in.string(mismatch, "client_policy.mismatch");
    if (value == "deny") {
      policy.mismatch = ClientPolicy::Mismatch::deny;
    } else if (value == "drop") {
      policy.mismatch = ClientPolicy::Mismatch::drop;
    } else if (value) {
      in.fail(mismatch, "client_policy.mismatch", "'" + *value + "' is not deny (a KoD DENY reply) or drop");
    }
  }
  if (const YAML::Node sticky = node["sticky"]; sticky.IsDefined()) {
    if (const auto s = whole_seconds(in, sticky, "client_policy.sticky", 30 * 86400)) policy.sticky = std::chrono::seconds{*s};
  }
  if (const YAML::Node window = node["mixed_window"]; window.IsDefined()) {
    if (const auto s = whole_seconds(in, window, "client_policy.mixed_window", 30 * 86400)) {
      policy.mixed_window = std::chrono::seconds{*s};
    }
  }
  if (const YAML::Node size = node["table_size"]; size.IsDefined()) {
    if (const auto n = count(in, size, "client_policy.table_size", 1u << 26)) {
      if (*n < 1024 || (*n & (*n - 1)) != 0) {
        in.fail(size, "client_policy.table_size", "must be a power of two from 1024 to 67108864");
      } else {
        policy.table_size = *n;
      }
    }
  }
}

void read_workers(Reader& in, const YAML::Node& node, Config& config) {
  const auto text = in.string(node, "workers");
  if (!text) return;
  if (*text == "auto") {
    config.workers = 0;
    return;
  }
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc{} || end != text->data() + text->size() || value < 1 || value > 1024) {
    in.fail(node, "workers", "'" + *text + "' is not 'auto' or a thread count from 1 to 1024");
    return;
  }
  config.workers = value;
}

void read_leapdb(Reader& in, const YAML::Node& node, Config& config) {
  if (node.IsNull()) return;
  if (!in.is_map(node, "leapdb")) return;
  in.only_keys(node, "leapdb", {"files", "allow_unhashed", "expiry_warning_days"});
  if (const YAML::Node files = node["files"]; files.IsDefined() && in.is_list(files, "leapdb.files")) {
    std::size_t index = 0;
    for (const auto& item : files) {
      const std::string key = path_index("leapdb.files", index++);
      const auto path = in.string(item, key);
      if (!path) continue;
      if (path->empty()) {
        in.fail(item, key, "a leap file needs a path");
      } else if (std::find(config.leapdb.files.begin(), config.leapdb.files.end(), *path) != config.leapdb.files.end()) {
        in.fail(item, key, "'" + *path + "' is listed twice");
      } else {
        config.leapdb.files.push_back(*path);
      }
    }
  }
  if (const YAML::Node flag = node["allow_unhashed"]; flag.IsDefined()) {
    if (const auto value = boolean(in, flag, "leapdb.allow_unhashed")) config.leapdb.allow_unhashed = *value;
  }
  if (const YAML::Node days = node["expiry_warning_days"]; days.IsDefined()) {
    if (const auto value = count(in, days, "leapdb.expiry_warning_days", 3650)) config.leapdb.expiry_warning_days = *value;
  }
}

void read_metrics(Reader& in, const YAML::Node& node, Config& config) {
  if (node.IsNull()) return;
  if (!in.is_map(node, "metrics")) return;
  in.only_keys(node, "metrics", {"listen"});
  const YAML::Node listen = node["listen"];
  if (!listen.IsDefined()) return;
  const auto text = in.string(listen, "metrics.listen");
  if (!text) return;
  config.metrics.location = in.at(listen);
  if (*text == "off") {
    config.metrics.listen.reset();
    return;
  }
  const auto address = parse_socket_address(*text);
  if (!address || address->port == 0) {
    in.fail(listen, "metrics.listen", "'" + *text + "' is not a numeric address with a port, e.g. \"127.0.0.1:9466\", or off");
    return;
  }
  config.metrics.listen = *address;
}

std::optional<std::string> file_path(Reader& in, const YAML::Node& parent, std::string_view name, const std::string& key,
                                     SourceLocation& location) {
  const YAML::Node node = in.required(parent, name, key);
  if (!node.IsDefined()) return std::nullopt;
  location = in.at(node);
  const auto text = in.string(node, key);
  if (text && text->empty()) {
    in.fail(node, key, "a path is needed");
    return std::nullopt;
  }
  return text;
}

void read_nts_listeners(Reader& in, const YAML::Node& node, Nts& nts) {
  if (!in.is_list(node, "nts.listeners")) return;
  if (node.size() == 0) in.fail(node, "nts.listeners", "at least one NTS-KE listener is needed");
  std::size_t index = 0;
  for (const auto& item : node) {
    const std::string path = path_index("nts.listeners", index++);
    if (!in.is_map(item, path)) continue;
    in.only_keys(item, path, {"address", "timescale", "server", "port"});
    NtsKeListener listener;
    listener.key = path;
    if (const YAML::Node address = in.required(item, "address", path + ".address"); address.IsDefined()) {
      listener.location = in.at(address);
      if (const auto text = in.string(address, path + ".address")) {
        const auto parsed = parse_socket_address(*text);
        if (parsed && parsed->port != 0) {
          listener.address = *parsed;
        } else {
          in.fail(address, path + ".address",
                  "'" + *text + "' is not a numeric address with a port, e.g. \"0.0.0.0:4460\" or \"[::]:4460\"");
        }
      }
    }
    if (const YAML::Node timescale = in.required(item, "timescale", path + ".timescale"); timescale.IsDefined()) {
      listener.timescale_location = in.at(timescale);
      if (const auto name = in.string(timescale, path + ".timescale")) listener.timescale = *name;
    }
    if (const YAML::Node server = item["server"]; server.IsDefined()) {
      // Sent as is in the Server record: a name or an address, no port.
      const auto text = in.string(server, path + ".server");
      const auto parsed = text ? parse_upstream_server(*text) : std::nullopt;
      if (text && (!parsed || parsed->host.size() != text->size() || text->size() > 255)) {
        in.fail(server, path + ".server", "'" + *text + "' is not a host name or address without a port");
      } else if (text) {
        listener.server = *text;
      }
    }
    if (const YAML::Node port = item["port"]; port.IsDefined()) {
      if (const auto n = count(in, port, path + ".port", 65535)) {
        if (*n == 0) {
          in.fail(port, path + ".port", "must be a port from 1 to 65535");
        } else {
          listener.port = static_cast<std::uint16_t>(*n);
        }
      }
    }
    nts.listeners.push_back(std::move(listener));
  }
}

void read_nts(Reader& in, const YAML::Node& node, Config& config) {
  if (!in.is_map(node, "nts")) return;
  in.only_keys(node, "nts",
               {"certificate", "private_key", "cookie_key_file", "rotation", "listeners", "max_connections",
                "handshake_timeout", "ratelimit"});
  Nts nts;
  nts.certificate = file_path(in, node, "certificate", "nts.certificate", nts.certificate_location).value_or("");
  nts.private_key = file_path(in, node, "private_key", "nts.private_key", nts.private_key_location).value_or("");
  nts.cookie_key_file =
      file_path(in, node, "cookie_key_file", "nts.cookie_key_file", nts.cookie_key_file_location).value_or("");
  if (const YAML::Node rotation = node["rotation"]; rotation.IsDefined()) {
    if (const auto s = whole_seconds(in, rotation, "nts.rotation", 30 * 86400)) {
      if (*s < 60) {
        in.fail(rotation, "nts.rotation", "must be at least 60 seconds");
      } else {
        nts.rotation = std::chrono::seconds{*s};
      }
    }
  }
  if (const YAML::Node listeners = in.required(node, "listeners", "nts.listeners"); listeners.IsDefined()) {
    read_nts_listeners(in, listeners, nts);
  }
  if (const YAML::Node limit = node["max_connections"]; limit.IsDefined()) {
    if (const auto n = count(in, limit, "nts.max_connections", 65536)) {
      if (*n == 0) {
        in.fail(limit, "nts.max_connections", "must be from 1 to 65536");
      } else {
        nts.max_connections = *n;
      }
    }
  }
  if (const YAML::Node timeout = node["handshake_timeout"]; timeout.IsDefined()) {
    if (const auto s = whole_seconds(in, timeout, "nts.handshake_timeout", 60)) {
      if (*s == 0) {
        in.fail(timeout, "nts.handshake_timeout", "must be from 1 to 60 seconds");
      } else {
        nts.handshake_timeout = std::chrono::seconds{*s};
      }
    }
  }
  if (const YAML::Node limit = node["ratelimit"]; limit.IsDefined() && in.is_map(limit, "nts.ratelimit")) {
    in.only_keys(limit, "nts.ratelimit", {"interval", "burst"});
    if (const YAML::Node interval = limit["interval"]; interval.IsDefined()) {
      if (const auto s = whole_seconds(in, interval, "nts.ratelimit.interval", 3600)) {
        if (*s == 0) {
          in.fail(interval, "nts.ratelimit.interval", "must be from 1 to 3600 seconds");
        } else {
          nts.rate_interval = std::chrono::seconds{*s};
        }
      }
    }
    if (const YAML::Node burst = limit["burst"]; burst.IsDefined()) {
      if (const auto n = count(in, burst, "nts.ratelimit.burst", 1000)) {
        if (*n == 0) {
          in.fail(burst, "nts.ratelimit.burst", "must be from 1 to 1000");
        } else {
          nts.rate_burst = *n;
        }
      }
    }
  }
  config.nts = std::move(nts);
}

// The NTP listener a client's requests to `ip`:`port` reach: the one bound to that address, else
// its family's wildcard, as the kernel chooses. A wildcard `ip` stands for any local address.
const Listener* reached_at(const Config& config, const SocketAddress& ip, std::uint16_t port) {
  const Listener* wildcard = nullptr;
  for (const Listener& l : config.listeners) {
    if (l.address.family != ip.family || l.address.port != port) continue;
    if (l.address.is_wildcard()) {
      if (wildcard == nullptr) wildcard = &l;
    } else if (!ip.is_wildcard() && l.address.bytes == ip.bytes) {
      return &l;
    }
  }
  return wildcard;
}

// Without a Server record a client asks for time at the address it reached NTS-KE at, on the
// Port record's port (123 without one): that must be a listener of the KE listener's timescale,
// or every cookie it holds is NAKed there.
void check_handover(Reader& in, const Config& config, NtsKeListener& ke) {
  const std::string where = ke.key + ".address";
  if (!ke.port) {
    const auto reachable = std::find_if(config.listeners.begin(), config.listeners.end(), [&](const Listener& l) {
      return l.timescale == ke.timescale && reached_at(config, ke.address, l.address.port) == &l;
    });
    if (reachable == config.listeners.end()) {
      in.fail(ke.location, where,
              "its clients ask for time at the address they reached it at, where no NTP listener of timescale '" +
                  ke.timescale + "' answers" + (ke.address.is_wildcard() ? " on every address" : "") +
                  "; add one, or set server and port");
      return;
    }
    if (reachable->address.port != 123) ke.port = reachable->address.port;
  }
  const std::uint16_t port = ke.port.value_or(123);
  const Listener* reached = reached_at(config, ke.address, port);
  // A wildcard KE listener is reached at every address, each of which must lead to the timescale.
  for (const Listener& l : config.listeners) {
    const bool reaches_it = &l == reached || (ke.address.is_wildcard() && l.address.family == ke.address.family &&
                                              l.address.port == port);
    if (reaches_it && l.timescale != ke.timescale) {
      in.fail(ke.location, where,
              "its clients would ask for time at " + l.address.to_string() + " (" + l.key + "), which serves '" +
                  l.timescale + "', not '" + ke.timescale + "'; set server, or the port of a listener of '" +
                  ke.timescale + "'");
      return;
    }
  }
  if (reached == nullptr) {
    in.fail(ke.location, where,
            "its clients ask for time at the address they reached it at, port " + std::to_string(port) +
                ", where no NTP listener answers; set server, or the port of a listener of timescale '" +
                ke.timescale + "'");
  }
}

void validate_nts(Reader& in, Config& config) {
  if (!config.nts) return;
  auto& listeners = config.nts->listeners;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    NtsKeListener& ke = listeners[i];
    if (ke.timescale_location.line > 0 && !ke.timescale.empty()) {
      const auto ntp = std::find_if(config.listeners.begin(), config.listeners.end(),
                                    [&](const Listener& l) { return l.timescale == ke.timescale; });
      if (ntp == config.listeners.end()) {
        in.fail(ke.timescale_location, ke.key + ".timescale",
                "no NTP listener serves a timescale named '" + ke.timescale + "'");
      } else if (ke.server.empty() && ke.address.port != 0) {
        check_handover(in, config, ke);
      } else if (!ke.port && ntp->address.port != 123) {
        ke.port = ntp->address.port;  // another host's listeners: the operator's word for where
      }
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (ke.address.port != 0 && listeners[j].address == ke.address) {
        in.fail(ke.location, ke.key + ".address", ke.address.to_string() + " is already used by " + listeners[j].key);
      }
    }
    if (config.metrics.listen && ke.address.port != 0 && *config.metrics.listen == ke.address) {
      in.fail(ke.location, ke.key + ".address", ke.address.to_string() + " is already used by metrics.listen");
    }
  }
}

void validate(Reader& in, const Config& config) {
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const Listener& listener = config.listeners[i];
    if (listener.timescale_location.line > 0 && !listener.timescale.empty() &&
        !config.timescales.contains(listener.timescale)) {
      in.fail(listener.timescale_location, listener.key + ".timescale",
              "no timescale named '" + listener.timescale + "' under timescales");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (listener.address.port != 0 && config.listeners[j].address == listener.address) {
        in.fail(listener.location, listener.key + ".address",
                listener.address.to_string() + " is already used by " + config.listeners[j].key);
      }
    }
  }
}

}  // namespace

ParseResult parse(std::string_view yaml_text, std::string_view file_name) {
  ParseResult result;
  Reader in{file_name, result.problems};
  YAML::Node root;
  try {
    root = YAML::Load(std::string{yaml_text});
  } catch (const YAML::Exception& error) {
    result.problems.push_back(Problem{SourceLocation{std::string{file_name}, error.mark.line + 1, error.mark.column + 1},
                                      "", "YAML syntax error: " + error.msg});
    return result;
  }
  if (!root.IsMap()) {
    in.fail(root, "", "expected a mapping with at least 'listeners' and 'timescales', found " +
                          std::string{kind_of(root)});
    return result;
  }
  in.only_keys(root, "",
               {"listeners", "timescales", "reference", "workers", "leapdb", "clients", "client_policy", "metrics",
                "log_format", "access", "ratelimit", "keys", "user", "group", "seccomp", "nts"});

  Config config;
  config.source = std::string{file_name};
  if (const YAML::Node node = in.required(root, "listeners", "listeners"); node.IsDefined()) {
    read_listeners(in, node, config);
  }
  if (const YAML::Node node = in.required(root, "timescales", "timescales"); node.IsDefined()) {
    read_timescales(in, node, config);
  }
  if (const YAML::Node node = root["reference"]; node.IsDefined()) read_reference(in, node, config);
  if (const YAML::Node node = root["workers"]; node.IsDefined()) read_workers(in, node, config);
  if (const YAML::Node node = root["leapdb"]; node.IsDefined()) read_leapdb(in, node, config);
  if (const YAML::Node node = root["keys"]; node.IsDefined()) {
    if (const auto path = in.string(node, "keys")) {
      if (path->empty()) {
        in.fail(node, "keys", "a keys file needs a path");
      } else {
        config.keys = *path;
        config.keys_location = in.at(node);
      }
    }
  }
  if (const YAML::Node node = root["clients"]; node.IsDefined()) read_clients(in, node, config);
  if (const YAML::Node node = root["access"]; node.IsDefined()) read_access(in, node, config);
  if (const YAML::Node node = root["ratelimit"]; node.IsDefined()) read_ratelimit(in, node, config);
  if (const YAML::Node node = root["user"]; node.IsDefined()) read_account(in, node, "user", config.user, config.user_location);
  if (const YAML::Node node = root["group"]; node.IsDefined()) read_account(in, node, "group", config.group, config.group_location);
  if (const YAML::Node node = root["client_policy"]; node.IsDefined()) read_client_policy(in, node, config);
  if (const YAML::Node node = root["metrics"]; node.IsDefined()) read_metrics(in, node, config);
  if (const YAML::Node node = root["seccomp"]; node.IsDefined()) {
    if (const auto value = boolean(in, node, "seccomp")) config.seccomp = *value;
  }
  if (const YAML::Node node = root["log_format"]; node.IsDefined()) {
    const auto format = in.string(node, "log_format");
    if (format == "json" || format == "keyvalue") {
      config.log_json = *format == "json";
    } else if (format) {
      in.fail(node, "log_format", "'" + *format + "' is not keyvalue or json");
    }
  }
  if (const YAML::Node node = root["nts"]; node.IsDefined()) read_nts(in, node, config);
  validate(in, config);
  validate_nts(in, config);

  // In file order, so an operator can work down the file.
  std::stable_sort(result.problems.begin(), result.problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  });
  if (result.problems.empty()) result.config = std::move(config);
  return result;
}

}  // namespace config
