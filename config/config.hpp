#pragma once
// smeard's configuration as typed values. parse() is pure: YAML text in, a Config or a list
// of problems out, each naming the file, line, column and key, so an operator can fix all of
// them in one pass. Reading the file and binding sockets happen elsewhere.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace config {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

struct SocketAddress {
  enum class Family : std::uint8_t { ipv4, ipv6 };
  Family family = Family::ipv4;
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4
  std::uint16_t port = 0;
  bool is_wildcard() const;
  std::string to_string() const;  // "127.0.0.1:123", "[::1]:123"
  friend bool operator==(const SocketAddress&, const SocketAddress&) = default;
};

// "IPv4:PORT" or "[IPv6]:PORT", numeric only: a listener must not depend on DNS at start.
std::optional<SocketAddress> parse_socket_address(std::string_view text);

struct Listener {
  std::string key;  // "listeners[N]", N counting every item in the file
  SocketAddress address;
  std::string timescale;
  SourceLocation location;            // of the address, for errors found when binding
  SourceLocation timescale_location;  // of the timescale name
};

enum class Smear : std::uint8_t { none };

struct Timescale {
  Smear smear = Smear::none;
};

struct Reference {
  enum class Type : std::uint8_t { system };
  Type type = Type::system;
  std::string refid = "LOCL";  // 1 to 4 printable ASCII characters
};

struct LeapDb {
  std::vector<std::string> files;  // loaded together: all must be valid and agree
  bool allow_unhashed = false;     // accept a leap-seconds.list without #h (never a wrong one)
  unsigned expiry_warning_days = 28;
};

struct Config {
  std::string source;  // file name, or "<embedded default>"
  std::vector<Listener> listeners;
  std::map<std::string, Timescale, std::less<>> timescales;
  Reference reference;
  LeapDb leapdb;
  unsigned workers = 0;  // worker threads per listener; 0: one per core
};

struct Problem {
  SourceLocation where;
  std::string key;  // dotted path, e.g. "listeners[1].address"
  std::string message;
  std::string to_string() const;  // "FILE:LINE:COLUMN: KEY: MESSAGE"
};

struct ParseResult {
  std::optional<Config> config;  // set only when problems is empty
  std::vector<Problem> problems;
};

ParseResult parse(std::string_view yaml_text, std::string_view file_name);

inline constexpr std::string_view kEmbeddedDefaultName = "<embedded default>";
// The configuration smeard runs on without --config; the same text as config/default.yaml.
std::string_view embedded_default();

}  // namespace config
