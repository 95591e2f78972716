// The YAML writer shared by the three readers, and the small parsers they have in common.
#include "config/import/draft.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

namespace config::import {

namespace {

constexpr std::size_t kMaxAssociations = 64;  // config's limit, a pool counting its max_sources

std::string origin_comment(const Draft& draft, const Origin& origin) {
  return draft.file + ":" + std::to_string(origin.line) + ": " + origin.text;
}

// `  KEY: VALUE   # FILE:LINE: TEXT`
void line(std::ostringstream& out, const Draft& draft, std::string_view indent, std::string_view text,
          const Origin& origin) {
  out << indent << text << "   # " << origin_comment(draft, origin) << "\n";
}

std::string server_entry(const Server& server) {
  std::string name = server.host;
  if (server.port) {
    name = (server.host.find(':') != std::string::npos ? "[" + server.host + "]" : server.host) + ":" +
           std::to_string(*server.port);
  }
  std::string entry = "{" + std::string{server.pool ? "pool: " : "server: "} + quote(name);
  if (server.pool && server.max_sources) entry += ", max_sources: " + std::to_string(*server.max_sources);
  if (server.key) entry += ", key: " + std::to_string(*server.key);
  if (server.nts) entry += ", nts: true";
  if (server.nts && server.nts_port) entry += ", nts_port: " + std::to_string(*server.nts_port);
  if (server.nts && server.nts_ca) entry += ", nts_ca: " + quote(*server.nts_ca);
  return entry + "}";
}

unsigned associations(const Server& server) { return server.pool ? server.max_sources.value_or(4) : 1; }

// Servers smeard would refuse as a set: the same host and port twice, more associations than
// it keeps, or more servers required to agree than there are.
void check_servers(Draft& draft) {
  std::vector<Server> kept;
  std::set<std::pair<std::string, unsigned>> seen;
  for (Server& server : draft.servers) {
    if (server.key && !draft.keys) {
      draft.note(server.origin, "option key " + std::to_string(*server.key) +
                                    ": left out: there is no keys file here to hold it (keys:)");
      server.key.reset();
    }
  }
  std::size_t total = 0;
  for (Server& server : draft.servers) {
    if (!seen.insert({server.host, server.port.value_or(123)}).second) {
      draft.note(server.origin, "no equivalent: the same server is already listed, and smeard polls it once");
    } else if (total + associations(server) > kMaxAssociations) {
      draft.note(server.origin, "left out: smeard polls at most 64 servers, a pool counting its max_sources");
    } else {
      total += associations(server);
      kept.push_back(std::move(server));
    }
  }
  draft.servers = std::move(kept);
  if (draft.minsources && (draft.servers.empty() || std::stoul(draft.minsources->value) > total)) {
    draft.note(draft.minsources->origin, draft.servers.empty()
                                             ? "no equivalent: there are no servers to agree"
                                             : "left out: more servers must agree than are configured (" +
                                                   std::to_string(total) + ", a pool counting its max_sources)");
    draft.minsources.reset();
  }
  const bool nts = std::any_of(draft.servers.begin(), draft.servers.end(), [](const Server& s) { return s.nts; });
  if (draft.nts_dump_dir && !nts) {
    draft.note(draft.nts_dump_dir->origin, "not needed: no server here uses NTS");
    draft.nts_dump_dir.reset();
  }
  if (!draft.servers.empty()) return;
  for (std::optional<Setting>* upstream_only : {&draft.drift_file, &draft.nts_dump_dir, &draft.poll}) {
    if (*upstream_only) draft.note((*upstream_only)->origin, "no equivalent: there are no servers to poll");
    upstream_only->reset();
  }
}

void emit_upstream(std::ostringstream& out, const Draft& draft, std::string_view indent) {
  out << indent << "servers:\n";
  for (const Server& server : draft.servers) {
    std::vector<Origin> also_from = server.also_from;
    std::sort(also_from.begin(), also_from.end(), [](const Origin& a, const Origin& b) { return a.line < b.line; });
    for (const Origin& also : also_from) out << indent << "  # " << origin_comment(draft, also) << "\n";
    line(out, draft, std::string{indent} + "  - ", server_entry(server), server.origin);
  }
  if (draft.minsources) line(out, draft, indent, "minsources: " + draft.minsources->value, draft.minsources->origin);
  if (draft.poll) line(out, draft, indent, "poll: " + draft.poll->value, draft.poll->origin);
  if (draft.drift_file) line(out, draft, indent, "drift_file: " + draft.drift_file->value, draft.drift_file->origin);
  if (draft.nts_dump_dir) {
    line(out, draft, indent, "nts_dump_dir: " + draft.nts_dump_dir->value, draft.nts_dump_dir->origin);
  }
}

void emit_reference(std::ostringstream& out, const Draft& draft) {
  out << "reference:\n";
  if (draft.servers.empty() && draft.local_sources.empty()) {
    out << "  # No servers or reference clocks: smeard serves the system clock, which something else\n"
           "  # (a PTP daemon, or an NTP client) must keep synchronized.\n"
           "  type: system\n";
  } else if (draft.local_sources.empty()) {
    out << "  type: upstream\n";
    emit_upstream(out, draft, "  ");
  } else {
    out << "  sources:\n";
    if (!draft.servers.empty()) {
      out << "    - type: upstream\n";
      emit_upstream(out, draft, "      ");
    }
    for (const Setting& source : draft.local_sources) line(out, draft, "    - ", source.value, source.origin);
  }
  if (draft.local_stratum) {
    line(out, draft, "  ", "unsynchronized: {local_stratum: " + draft.local_stratum->value + "}",
         draft.local_stratum->origin);
  }
}

void emit_timescale(std::ostringstream& out, const Draft& draft) {
  out << "listeners:\n";
  if (draft.listeners.empty()) {
    for (const char* address : {"0.0.0.0:123", "[::]:123"}) {
      out << "  - address: \"" << address << "\"\n    timescale: " << draft.timescale << "\n";
    }
  }
  for (const Setting& listener : draft.listeners) {
    line(out, draft, "  - ", "address: " + listener.value, listener.origin);
    out << "    timescale: " << draft.timescale << "\n";
  }
  out << "\ntimescales:\n  " << draft.timescale << ":\n";
  if (draft.smear) {
    line(out, draft, "    ", "smear: " + draft.smear->value, draft.smear->origin);
  } else {
    out << "    smear: none   # " << draft.daemon << " serves true UTC: leap seconds announced, not smeared\n";
  }
  out << "    refid: " << draft.refid << "\n";
}

void emit_leapdb(std::ostringstream& out, const Draft& draft) {
  out << "\nleapdb:\n  files:\n";
  if (draft.leap_files.empty()) {
    out << "    # Debian's tzdata leap files (kept current by the tzdata package): smeard needs a leap\n"
           "    # table of its own, where "
        << draft.daemon << " may have taken leaps from its sources.\n"
        << "    - /usr/share/zoneinfo/leap-seconds.list\n    - /usr/share/zoneinfo/leapseconds\n";
  }
  for (const Setting& file : draft.leap_files) line(out, draft, "    - ", file.value, file.origin);
}

void emit_access(std::ostringstream& out, const Draft& draft) {
  if (!draft.allow.empty() || !draft.deny.empty() || draft.denied) {
    out << "\naccess:\n";
    for (const auto& [key, list] : {std::pair{"allow", &draft.allow}, std::pair{"deny", &draft.deny}}) {
      if (list->empty()) continue;
      out << "  " << key << ":\n";
      for (const Setting& network : *list) line(out, draft, "    - ", network.value, network.origin);
    }
    if (draft.denied) line(out, draft, "  ", "denied: " + draft.denied->value, draft.denied->origin);
  }
  if (draft.ratelimit) {
    const std::optional<Setting>* settings[] = {&draft.ratelimit_interval, &draft.ratelimit_burst,
                                                &draft.ratelimit_leak};
    const bool any =
        std::any_of(std::begin(settings), std::end(settings), [](const auto* s) { return s->has_value(); });
    out << "\n";
    line(out, draft, "", any ? "ratelimit:" : "ratelimit: {}", *draft.ratelimit);
    for (const auto& [key, value] :
         {std::pair{"interval", settings[0]}, std::pair{"burst", settings[1]}, std::pair{"leak", settings[2]}}) {
      if (*value) line(out, draft, "  ", std::string{key} + ": " + (*value)->value, (*value)->origin);
    }
  }
}

// A remark as comment lines of at most 100 columns.
void remark(std::ostringstream& out, std::string_view text) {
  out << "#\n#";
  std::size_t column = 1;
  for (const std::string_view word : words(text)) {
    if (column + 1 + word.size() > 100) {
      out << "\n#";
      column = 1;
    }
    out << " " << word;
    column += 1 + word.size();
  }
  out << "\n";
}

// Interface names, or "*" alone for all of them.
void emit_hardware_timestamps(std::ostringstream& out, Draft& draft) {
  if (draft.hardware_timestamps.empty()) return;
  const auto all = std::find_if(draft.hardware_timestamps.begin(), draft.hardware_timestamps.end(),
                                [](const Setting& name) { return name.value == "\"*\""; });
  out << "\n";
  if (all != draft.hardware_timestamps.end()) {
    line(out, draft, "", "hardware_timestamps: " + all->value, all->origin);
    for (const Setting& name : draft.hardware_timestamps) {
      if (&name != &*all) draft.note(name.origin, "not needed: * stamps every interface already");
    }
    return;
  }
  out << "hardware_timestamps:\n";
  for (const Setting& name : draft.hardware_timestamps) line(out, draft, "  - ", name.value, name.origin);
}

}  // namespace

std::string emit(Draft draft) {
  check_servers(draft);
  std::ostringstream out;
  out << "# smeard configuration imported from " << draft.file << " (" << draft.daemon << ") by smearctl import.\n"
      << "# Each setting names the line it comes from; the directives smeard has no equivalent for are\n"
      << "# listed at the end, each with the reason.\n";
  for (const std::string& text : draft.header) remark(out, text);
  out << "\n";
  emit_timescale(out, draft);
  out << "\n";
  emit_reference(out, draft);
  out << "\nworkers: auto\n";
  emit_leapdb(out, draft);
  out << "\nmetrics:\n  listen: \"127.0.0.1:9466\"\n";
  emit_access(out, draft);
  emit_hardware_timestamps(out, draft);
  if (draft.keys) {
    out << "\n";
    line(out, draft, "", "keys: " + draft.keys->value, draft.keys->origin);
  }
  std::stable_sort(draft.notes.begin(), draft.notes.end(),
                   [](const Note& a, const Note& b) { return a.origin.line < b.origin.line; });
  if (!draft.notes.empty()) out << "\n# Not carried over as such:\n";
  for (const Note& note : draft.notes) out << "# " << origin_comment(draft, note.origin) << ": " << note.reason << "\n";
  return out.str();
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::optional<unsigned long> whole(std::string_view text, unsigned long max) {
  unsigned long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value > max) return std::nullopt;
  return value;
}

std::optional<double> decimal(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

unsigned poll_seconds(long exponent) {
  if (exponent <= 0) return 1;
  if (exponent >= 10) return 1024;
  return 1u << exponent;
}

std::optional<std::string> network(std::string_view address, std::optional<unsigned> prefix_length) {
  std::array<unsigned char, 16> bytes{};
  const std::string text{address};
  unsigned max_length = 32;
  int family = AF_INET;
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) != 1) {
    if (inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) return std::nullopt;
    max_length = 128;
    family = AF_INET6;
  }
  const unsigned length = prefix_length.value_or(max_length);
  if (length > max_length) return std::nullopt;
  for (unsigned bit = length; bit < max_length; ++bit)
    bytes[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
  std::array<char, INET6_ADDRSTRLEN> out{};
  inet_ntop(family, bytes.data(), out.data(), out.size());
  return std::string{out.data()} + (length == max_length ? "" : "/" + std::to_string(length));
}

std::optional<unsigned> prefix_from_mask(std::string_view mask) {
  std::array<unsigned char, 16> bytes{};
  const std::string text{mask};
  unsigned bits = 32;
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) != 1) {
    if (inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) return std::nullopt;
    bits = 128;
  }
  unsigned length = 0;
  while (length < bits && (bytes[length / 8] & (0x80u >> (length % 8)))) ++length;
  for (unsigned bit = length; bit < bits; ++bit) {
    if (bytes[bit / 8] & (0x80u >> (bit % 8))) return std::nullopt;  // not contiguous
  }
  return length;
}

std::optional<std::string> chrony_network(std::string_view text) {
  const std::size_t slash = text.find('/');
  std::string address{text.substr(0, slash)};
  std::optional<unsigned> length;
  if (slash != std::string_view::npos) {
    const auto n = whole(text.substr(slash + 1), 128);
    if (!n) return std::nullopt;
    length = static_cast<unsigned>(*n);
  }
  // chrony's shortened IPv4 networks: "192.168/16", "10/8", "192.168.1" (a /24 when no prefix).
  if (address.find(':') == std::string::npos) {
    const auto dots = static_cast<unsigned>(std::count(address.begin(), address.end(), '.'));
    if (dots > 3) return std::nullopt;
    if (!length && dots < 3) length = 8 * (dots + 1);
    for (unsigned i = dots; i < 3; ++i) address += ".0";
  }
  return network(address, length);
}

}  // namespace config::import
