// parse(): the whole file, section by section, then the checks across sections; and the small
// top-level keys that need no file of their own.
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "config/sections.hpp"

namespace config {

std::string Problem::to_string() const {
  std::string text = where.file;
  if (where.line > 0) text += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  text += ": ";
  if (!key.empty()) text += key + ": ";
  return text + message;
}

bool valid_interface_name(std::string_view name) {
  constexpr std::size_t kIfNameSize = 16;  // IFNAMSIZ, with the NUL
  return !name.empty() && name.size() < kIfNameSize && name != "." && name != ".." &&
         std::ranges::none_of(name, [](char c) {
           return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) ||
                  !std::isprint(static_cast<unsigned char>(c));
         });
}

namespace {

// "auto" (0: one per core) or a thread count.
std::optional<unsigned> parse_workers(std::string_view text) {
  if (text == "auto") return 0u;
  const auto n = parse_whole<unsigned>(text);
  return n && *n >= 1 && *n <= 1024 ? n : std::nullopt;
}

// A user or group name as passwd and group files allow it, or a numeric id.
std::optional<std::string> parse_account(std::string_view text) {
  const bool valid =
      !text.empty() && text.size() <= 32 && text[0] != '-' && std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  return valid ? std::optional<std::string>{text} : std::nullopt;
}

void read_account(const Cursor& in, std::optional<std::string>& account, SourceLocation& location) {
  if (in.exists()) location = in.location();
  if (auto name = in.as(parse_account, "is not a user or group name")) account = std::move(name);
}

void read_leapdb(Cursor in, LeapDb& leapdb) {
  if (in.is_null() || !in.map()) return;
  Cursor files = in["files"];
  if (files.list()) {
    for (const Cursor& item : files.items()) {
      const auto path = item.non_empty("a leap file needs a path");
      if (path && std::find(leapdb.files.begin(), leapdb.files.end(), *path) != leapdb.files.end()) {
        item.fail("'" + *path + "' is listed twice");
      } else if (path) {
        leapdb.files.push_back(*path);
      }
    }
  }
  leapdb.allow_unhashed = in["allow_unhashed"].boolean().value_or(leapdb.allow_unhashed);
  leapdb.expiry_warning_days = in["expiry_warning_days"].count(3650).value_or(leapdb.expiry_warning_days);
  in.no_other_keys();
}

void read_metrics(Cursor in, Metrics& metrics) {
  if (in.is_null() || !in.map()) return;
  const Cursor listen = in["listen"];
  read_networks(in["allow"], metrics.allow, "would let nobody connect; leave allow out to let everyone");
  metrics.max_connections_per_address = in["max_connections_per_address"]
                                            // of the endpoint's 32 sessions in all (metrics/http.hpp)
                                            .count(32, {1, "must be from 1 to 32, the endpoint's sessions in all"})
                                            .value_or(metrics.max_connections_per_address);
  in.no_other_keys();
  const auto text = listen.string();
  if (!text) return;
  metrics.location = listen.location();
  const auto address = parse_socket_address(*text);
  if (*text == "off") {
    metrics.listen.reset();
  } else if (address && address->port != 0) {
    metrics.listen = address;
  } else {
    listen.fail("'" + *text + "' is not a numeric address with a port, e.g. \"127.0.0.1:9466\", or off");
  }
}

// A list of interface names, or "*" alone: every interface that can.
void read_hardware_timestamps(const Cursor& in, HardwareTimestamps& stamps) {
  if (!in.exists() || in.is_null()) return;
  if (in.is_scalar()) {
    if (in.string() == "*") {
      stamps.all = true;
    } else {
      in.fail("expected a list of interface names or \"*\" (every interface that can)");
    }
    return;
  }
  if (!in.list()) return;
  for (const Cursor& item : in.items()) {
    const auto name = item.string();
    if (!name) continue;
    if (*name == "*") {
      item.fail("\"*\" stands alone, not in a list: hardware_timestamps: \"*\"");
    } else if (!valid_interface_name(*name)) {
      item.fail("'" + *name + "' is not an interface name (1 to 15 characters, no '/', ':' or white space)");
    } else if (std::ranges::find(stamps.interfaces, *name) != stamps.interfaces.end()) {
      item.fail("'" + *name + "' is listed twice");
    } else {
      stamps.interfaces.push_back(*name);
      stamps.locations.push_back(item.location());
    }
  }
}

void read_keys(const Cursor& in, Config& config) {
  config.keys = in.non_empty("a keys file needs a path");
  if (config.keys) config.keys_location = in.location();
}

// An upstream server's key is one of the keys file's, which is read when smeard starts
// (server/app/keys_file.cpp checks the id is there); without a keys file there is none.
void check_upstream_keys(Problems& problems, const Config& config) {
  if (config.keys) return;
  for (const ReferenceSource& source : config.reference.sources) {
    for (const UpstreamServer& server : source.servers) {
      if (server.key_id) problems.add(server.key_id_location, server.key + ".key", "needs a keys file (keys: PATH)");
    }
  }
}

// The keys a file may have are the ones read here, in this order (which is the order the
// unknown-key message lists them in).
void read_sections(Cursor root, Config& config) {
  read_listeners(root["listeners"].required(), config.listeners);
  read_timescales(root["timescales"].required(), config.timescales);
  read_reference(root["reference"], config.reference);
  config.workers = root["workers"].as(parse_workers, "is not 'auto' or a thread count from 1 to 1024").value_or(0);
  read_leapdb(root["leapdb"], config.leapdb);
  const Cursor clients = root["clients"];  // read last: its entries refer to keys
  read_client_policy(root["client_policy"], config.client_policy);
  read_metrics(root["metrics"], config.metrics);
  config.log_json =
      root["log_format"].one_of<bool>({{"keyvalue", false}, {"json", true}}, "keyvalue or json").value_or(false);
  read_access(root["access"], config.access);
  read_ratelimit(root["ratelimit"], config.ratelimit);
  read_keys(root["keys"], config);
  read_account(root["user"], config.user, config.user_location);
  read_account(root["group"], config.group, config.group_location);
  config.seccomp = root["seccomp"].boolean().value_or(config.seccomp);
  config.interleaved = root["interleaved"].boolean().value_or(config.interleaved);
  read_nts(root["nts"], config.nts);
  read_hardware_timestamps(root["hardware_timestamps"], config.hardware_timestamps);
  read_clients(clients, config, config.clients);
  check_upstream_keys(root.problems(), config);
  root.no_other_keys();
}

}  // namespace

ParseResult parse(std::string_view yaml_text, std::string_view file_name) {
  ParseResult result;
  YAML::Node document;
  try {
    document = YAML::Load(std::string{yaml_text});
  } catch (const YAML::Exception& error) {
    result.problems.push_back(
        Problem{SourceLocation{std::string{file_name}, error.mark.line + 1, error.mark.column + 1}, "",
                "YAML syntax error: " + error.msg});
    return result;
  }
  Problems problems{file_name, result.problems};
  Config config;
  config.source = std::string{file_name};
  if (const Cursor root{document, problems}; root.map("a mapping with at least 'listeners' and 'timescales'")) {
    read_sections(root, config);
    validate(config, problems);
  }
  // In file order, so an operator can work down the file.
  std::stable_sort(result.problems.begin(), result.problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  });
  if (result.problems.empty()) result.config = std::move(config);
  return result;
}

}  // namespace config
