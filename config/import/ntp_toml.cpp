// ntpd-rs's ntp.toml, read with toml++: [[source]] as servers and pools, [[server]] as listeners
// and access, [synchronization] as the selection's settings.
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>

#include "config/import/readers.hpp"

namespace config::import {

namespace {

constexpr std::string_view kNoKeServer =
    "no direct equivalent: smeard's NTS-KE server takes nts.certificate, nts.private_key and a cookie key file "
    "shared by the fleet (see nts: in smeard's README)";

bool key_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '"' || c == '\'';
}

// The line of a table header with a part that is not a key ("[&]", "[[[a]]]", "[a.]"), which
// toml++ 3.3 (Debian 12's) does not refuse cleanly; 0 when there is none. Brackets inside values
// (arrays over several lines) are not headers.
int bad_table_header(std::string_view text) {
  int depth = 0;
  int number = 0;
  while (!text.empty()) {
    std::string_view line = take_line(text);
    ++number;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (depth == 0 && line.starts_with('[')) {
      line.remove_prefix(line.starts_with("[[") ? 2 : 1);
      bool expect_key = true;
      char quote = 0;
      for (const char c : line) {
        if (quote != 0) {
          if (c == quote) quote = 0;
        } else if (c == ' ' || c == '\t') {
          continue;
        } else if (expect_key) {
          if (!key_start(c)) return number;
          if (c == '"' || c == '\'') quote = c;
          expect_key = false;
        } else if (c == '.') {
          expect_key = true;
        } else if (c == ']') {
          break;
        }
      }
      if (expect_key) return number;
      continue;
    }
    char quote = 0;
    for (const char c : line) {
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '#') {
        break;
      } else if (c == '[') {
        ++depth;
      } else if (c == ']' && depth > 0) {
        --depth;
      }
    }
  }
  return 0;
}

class Reader {
 public:
  Reader(std::string_view text, std::string_view file) : text_(text) {
    draft_.file = std::string{file};
    draft_.daemon = "ntpd-rs";
  }

  Draft read() {
    toml::table root;
    if (const int line = bad_table_header(text_)) {
      draft_.error(line, "toml", "a table header names a table: [name] or [[name]]");
      return std::move(draft_);
    }
    try {
      root = toml::parse(text_);
    } catch (const toml::parse_error& error) {
      draft_.error(static_cast<int>(error.source().begin.line), "toml", std::string{error.description()});
      return std::move(draft_);
    }
    for (const auto& [key, node] : root) {
      const std::string name{key.str()};
      if (name == "source") {
        each_table(node, name, [&](const toml::table& table) { source(table); });
      } else if (name == "server") {
        each_table(node, name, [&](const toml::table& table) { server(table); });
      } else if (name == "synchronization") {
        if (const toml::table* table = node.as_table()) synchronization(*table);
      } else if (name == "observability") {
        note_all(node, kNoLogFiles);
      } else if (name == "nts-ke-server" || name == "keyset") {
        note_all(node, kNoKeServer);
      } else if (name == "source-defaults") {
        note_all(node, kOwnSelection);
      } else {
        note_all(node, "not a section smearctl import knows: translate it by hand if it matters");
      }
    }
    finish();
    return std::move(draft_);
  }

 private:
  // The line a node is on, as written.
  Origin origin(const toml::node& node) const {
    const int line = static_cast<int>(node.source().begin.line);
    std::string_view text = text_;
    for (int i = 1; i < line && !text.empty(); ++i) {
      const std::size_t end = text.find('\n');
      text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    }
    text = text.substr(0, text.find('\n'));
    const std::vector<std::string_view> parts = words(text);
    std::string original;
    for (const std::string_view word : parts) original += (original.empty() ? "" : " ") + std::string{word};
    return Origin{line, original};
  }

  void error(const toml::node& node, std::string key, std::string message) {
    draft_.error(origin(node).line, std::move(key), std::move(message));
  }

  template <typename Handle>
  void each_table(const toml::node& node, const std::string& name, Handle handle) {
    if (const toml::array* array = node.as_array()) {
      for (const toml::node& item : *array) {
        if (const toml::table* table = item.as_table()) {
          handle(*table);
        } else {
          error(item, name, "must be a table ([[" + name + "]])");
        }
      }
    } else if (const toml::table* table = node.as_table()) {
      handle(*table);
    }
  }

  // Each key of a section that has no equivalent, noted on its own line.
  void note_all(const toml::node& node, std::string_view reason) {
    if (const toml::table* table = node.as_table()) {
      if (table->empty()) draft_.note(origin(node), std::string{reason});
      for (const auto& [key, value] : *table) {
        if (value.is_table()) {
          note_all(value, reason);
        } else {
          draft_.note(origin(value), std::string{reason});
        }
      }
    } else if (const toml::array* array = node.as_array()) {
      for (const toml::node& item : *array) note_all(item, reason);
    } else {
      draft_.note(origin(node), std::string{reason});
    }
  }

  std::optional<std::string> string(const toml::table& table, std::string_view key, const std::string& path) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* value = node->as_string()) return value->get();
    error(*node, path + "." + std::string{key}, "must be a string");
    return std::nullopt;
  }

  // "host", "host:port", "[v6]:port" or a bare IPv6 address.
  static bool split_address(std::string_view text, Server& server, std::optional<unsigned>& port) {
    std::string_view host = text;
    std::string_view port_text;
    if (text.starts_with('[')) {
      const std::size_t close = text.find(']');
      if (close == std::string_view::npos) return false;
      host = text.substr(1, close - 1);
      if (close + 1 < text.size()) {
        if (text[close + 1] != ':') return false;
        port_text = text.substr(close + 2);
      }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
      host = text.substr(0, text.find(':'));
      port_text = text.substr(text.find(':') + 1);
    }
    if (host.empty()) return false;
    server.host = std::string{host};
    if (!port_text.empty()) {
      const auto n = whole(port_text, 65535);
      if (!n || *n == 0) return false;
      port = static_cast<unsigned>(*n);
    }
    return true;
  }

  void source(const toml::table& table) {
    const auto mode = string(table, "mode", "source");
    if (!mode) return error(table, "source.mode", "needs mode = \"server\", \"pool\", \"nts\", \"sock\" or \"pps\"");
    const toml::node* mode_node = table.get("mode");
    if (*mode == "sock" || *mode == "pps") {
      const auto path = string(table, "path", "source");
      if (*mode == "pps" || !path) {
        draft_.note(origin(*mode_node), "no equivalent: smeard reads PPS only through a PHC or SOCK source");
      } else {
        draft_.local_sources.push_back(Setting{"{type: sock, path: " + quote(*path) + "}", origin(*mode_node)});
      }
      const bool sock = *mode == "sock" && path;
      for (const auto& [key, value] : table) {
        if (key.str() == "mode") continue;
        draft_.note(origin(value),
                    key.str() != "path" ? std::string{kOwnSelection}
                    : sock ? "carried over in the sock source of line " + std::to_string(origin(*mode_node).line)
                           : "not needed without a source to read it");
      }
      return;
    }
    if (*mode != "server" && *mode != "pool" && *mode != "nts") {
      return error(*mode_node, "source.mode", "unknown mode '" + *mode + "' (server, pool, nts, sock or pps)");
    }
    const auto address = string(table, "address", "source");
    if (!address) return error(table, "source.address", "needs address = \"HOST[:PORT]\"");
    Server server;
    server.pool = *mode == "pool";
    server.origin = origin(*table.get("address"));
    std::optional<unsigned> port;
    if (!split_address(*address, server, port)) {
      return error(*table.get("address"), "source.address", "'" + *address + "' is not HOST, HOST:PORT or [IPv6]:PORT");
    }
    if (*mode == "nts") {
      server.nts = true;
      server.nts_port = port;  // the NTS-KE server's
    } else {
      server.port = port;
    }
    for (const auto& [key, value] : table) {
      const std::string name{key.str()};
      if (name == "address") continue;
      if (name == "mode") {
        server.also_from.push_back(origin(value));
        continue;
      }
      if (name == "count" && server.pool) {
        const auto n = value.value<std::int64_t>();
        if (!n || *n < 1 || *n > 16) return error(value, "source.count", "must be from 1 to 16");
        server.max_sources = static_cast<unsigned>(*n);
        server.also_from.push_back(origin(value));
      } else if (name == "certificate-authority" && server.nts) {
        const auto path = value.value<std::string>();
        if (!path || !path->starts_with('/'))
          return error(value, "source.certificate-authority", "needs an absolute path");
        server.nts_ca = *path;
        server.also_from.push_back(origin(value));
      } else if (name == "ignore") {
        draft_.note(origin(value), "no equivalent: smeard uses every address a pool gives");
      } else {
        draft_.note(origin(value), std::string{kOwnSelection});
      }
    }
    draft_.servers.push_back(std::move(server));
  }

  void filter(const toml::node& node, const std::string& key, std::vector<Setting>& list) {
    const toml::table* table = node.as_table();
    const toml::array* filter = table ? table->get_as<toml::array>("filter") : nullptr;
    if (filter == nullptr) return error(node, "server." + key, "needs { filter = [SUBNET, ...], action = ... }");
    for (const toml::node& item : *filter) {
      const auto text = item.value<std::string>();
      const std::size_t slash = text ? text->find('/') : std::string::npos;
      const auto length = slash == std::string::npos ? std::nullopt : whole(text->substr(slash + 1), 128);
      const auto net = length ? network(text->substr(0, slash), static_cast<unsigned>(*length)) : std::nullopt;
      if (!net) return error(item, "server." + key + ".filter", "must be subnets such as \"10.0.0.0/8\"");
      list.push_back(Setting{quote(*net), origin(item)});
    }
    if (const auto action = table->get_as<std::string>("action")) {
      const std::string value = action->get();
      if (value != "deny" && value != "ignore") {
        return error(*action, "server." + key + ".action", "must be \"deny\" or \"ignore\"");
      }
      draft_.denied = Setting{value == "deny" ? "kod" : "drop", origin(*action)};
    }
  }

  void server(const toml::table& table) {
    for (const auto& [key, value] : table) {
      const std::string name{key.str()};
      if (name == "listen") {
        const auto text = value.value<std::string>();
        if (!text) return error(value, "server.listen", "must be a string \"ADDRESS:PORT\"");
        draft_.listeners.push_back(Setting{quote(*text), origin(value)});
      } else if (name == "allowlist") {
        filter(value, name, draft_.allow);
      } else if (name == "denylist") {
        filter(value, name, draft_.deny);
      } else if (name == "rate-limiting-cutoff-ms") {
        const auto ms = value.value<std::int64_t>();
        if (!ms || *ms < 0) return error(value, "server." + name, "must be a number of milliseconds");
        if (*ms == 0) {
          draft_.note(origin(value), "not needed: 0 turns rate limiting off, as smeard's default is");
          continue;
        }
        // One request per cutoff: smeard's interval is a power of two seconds, with a burst of 1.
        const long interval = std::clamp(std::lround(std::log2(static_cast<double>(*ms) / 1000.0)), -4L, 12L);
        draft_.ratelimit = origin(value);
        draft_.ratelimit_interval = Setting{std::to_string(interval), origin(value)};
        draft_.ratelimit_burst = Setting{"1", origin(value)};
      } else if (name == "rate-limiting-cache-size") {
        draft_.note(origin(value),
                    "no direct equivalent: the rate limiter's table size is ratelimit.table_size, a "
                    "power of two per worker thread");
      } else if (name == "require-nts") {
        draft_.note(origin(value), "no direct equivalent: clients[].key_required pins networks to keyed requests");
      } else {
        draft_.note(origin(value), "not a server setting smearctl import knows: translate it by hand");
      }
    }
  }

  void synchronization(const toml::table& table) {
    for (const auto& [key, value] : table) {
      const std::string name{key.str()};
      if (name == "minimum-agreeing-sources") {
        const auto n = value.value<std::int64_t>();
        if (!n || *n < 1 || *n > 64) return error(value, "synchronization." + name, "must be from 1 to 64");
        draft_.minsources = Setting{std::to_string(*n), origin(value)};
      } else if (name == "local-stratum") {
        const auto n = value.value<std::int64_t>();
        if (!n || *n < 1 || *n > 16) return error(value, "synchronization." + name, "must be from 1 to 16");
        if (*n == 16) {
          draft_.note(origin(value), "not needed: an unsynchronized smeard says so");
        } else {
          draft_.local_stratum = Setting{std::to_string(*n), origin(value)};
        }
      } else if (name == "algorithm") {
        note_all(value, kOwnSelection);
      } else {
        draft_.note(origin(value), std::string{kNeverSteers});
      }
    }
  }

  void finish() {
    if (!draft_.minsources && !draft_.servers.empty()) {
      draft_.header.push_back(
          "ntpd-rs needs 3 sources to agree unless minimum-agreeing-sources says otherwise; smeard's minsources "
          "is 1 unless set.");
    }
    if (draft_.listeners.empty()) {
      draft_.header.push_back(
          "ntpd-rs served no clients (no [[server]]); smeard's whole purpose is serving them, on the listeners "
          "below.");
    }
  }

  std::string_view text_;
  Draft draft_;
};

}  // namespace

Draft read_ntp_toml(std::string_view text, std::string_view file) { return Reader{text, file}.read(); }

}  // namespace config::import
