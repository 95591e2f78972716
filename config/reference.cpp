// reference: the time sources, the selection among them, and what replies say once none is
// left. Either a list (reference.sources) beside the selection's keys, or for one source the
// shorthand `reference: {type: ...}`, one mapping holding the source's keys and the selection's.
#include <algorithm>
#include <iterator>
#include <set>

#include "config/sections.hpp"

namespace config {

std::string_view to_string(ReferenceSource::Type type) {
  switch (type) {
    case ReferenceSource::Type::system: return "system";
    case ReferenceSource::Type::simulated: return "simulated";
    case ReferenceSource::Type::phc: return "phc";
    case ReferenceSource::Type::shm: return "shm";
    case ReferenceSource::Type::sock: return "sock";
    case ReferenceSource::Type::upstream: return "upstream";
  }
  return "unknown";
}

std::string ReferenceSource::reference_id_text() const {
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

const ReferenceSource* Reference::simulated() const {
  return sources.size() == 1 && sources[0].type == ReferenceSource::Type::simulated ? &sources[0] : nullptr;
}

namespace {

using Type = ReferenceSource::Type;

constexpr Type kTypes[] = {Type::system, Type::simulated, Type::phc, Type::shm, Type::sock, Type::upstream};
constexpr unsigned bit(Type type) { return 1u << static_cast<unsigned>(type); }
constexpr unsigned kAnyType = (1u << std::size(kTypes)) - 1;
// A simulated clock never jumps and never stops steering.
constexpr unsigned kMeasured = kAnyType & ~bit(Type::simulated);
constexpr std::size_t kMaxSources = 32;

// Every key a source may have and the types it means something for, in the order the
// unknown-key message lists them. Selection keys belong to the whole reference: beside
// reference.sources, or in the shorthand beside the one source's own keys.
struct SourceKey {
  std::string_view name;
  unsigned types;
  bool selection = false;
};
constexpr SourceKey kSourceKeys[] = {
    {"type", kAnyType},
    {"refid", kAnyType & ~bit(Type::upstream)},
    {"holdover", kMeasured, true},
    {"unsynchronized", kMeasured, true},
    {"max_step", kMeasured, true},
    {"clock", bit(Type::system)},
    {"device", bit(Type::phc)},
    {"timescale", bit(Type::phc)},
    {"ptp4l", bit(Type::phc) | bit(Type::system)},
    {"unit", bit(Type::shm)},
    {"path", bit(Type::sock)},
    {"servers", bit(Type::upstream)},
    {"minsources", bit(Type::upstream)},
    {"drift_file", bit(Type::upstream)},
    {"poll", bit(Type::upstream)},
    {"nts_dump_dir", bit(Type::upstream)},
    {"start", bit(Type::simulated)},
    {"rate", bit(Type::simulated)},
    {"prefer", kAnyType},
    {"trust", kAnyType},
    {"require", kAnyType},
    {"noselect", kAnyType},
};
// Beside reference.sources.
constexpr std::string_view kSelectionKeys[] = {"sources", "minsources", "max_step", "holdover", "unsynchronized"};

enum class Form : std::uint8_t { shorthand, entry };

const SourceKey* find_source_key(std::string_view name) {
  const auto* key =
      std::find_if(std::begin(kSourceKeys), std::end(kSourceKeys), [&](const SourceKey& k) { return k.name == name; });
  return key == std::end(kSourceKeys) ? nullptr : key;
}

std::string not_for(Type type, unsigned types) {
  std::vector<std::string_view> names;
  for (const Type t : kTypes) {
    if (types & bit(t)) names.push_back(to_string(t));
  }
  return "not for type: " + std::string{to_string(type)} + " (only for type: " + join(names) + ")";
}

// Each key of a source belongs to the types it means something for.
void check_source_keys(const Cursor& in, Type type, Form form) {
  std::vector<std::string_view> names;
  for (const SourceKey& key : kSourceKeys) {
    if (form == Form::shorthand || !key.selection) names.push_back(key.name);
  }
  std::set<std::string, std::less<>> seen;
  for (const Cursor::Member& member : in.members()) {
    const SourceKey* key = find_source_key(member.name);
    if (key == nullptr) {
      member.key.fail("unknown key (expected one of: " + join(names) + ")");
    } else if (!seen.insert(member.name).second) {
      member.key.fail("key given twice");
    } else if (key->selection && form == Form::entry) {
      member.key.fail("belongs to reference, not to one source: move it to reference." + member.name);
    } else if ((key->types & bit(type)) == 0) {
      member.key.fail(not_for(type, key->types));
    }
  }
}

// With a list of sources, the reference mapping holds the selection's keys and nothing else.
void check_selection_keys(const Cursor& in, const Reference& reference) {
  std::set<std::string, std::less<>> seen;
  for (const Cursor::Member& member : in.members()) {
    const bool known =
        std::find(std::begin(kSelectionKeys), std::end(kSelectionKeys), member.name) != std::end(kSelectionKeys);
    const SourceKey* source_key = find_source_key(member.name);
    if (!known && member.name == "type") {
      member.key.fail("not together with sources: each entry of reference.sources has its own type");
    } else if (!known && source_key != nullptr) {
      member.key.fail("belongs to one source: move it into its entry of reference.sources");
    } else if (!known) {
      member.key.fail("unknown key (expected one of: " + join(kSelectionKeys) + ")");
    } else if (!seen.insert(member.name).second) {
      member.key.fail("key given twice");
    } else if (reference.simulated() && source_key != nullptr && source_key->selection) {
      member.key.fail(not_for(Type::simulated, source_key->types));
    }
  }
}

// The source's type, or nullopt when it names none smeard knows (then nothing else about the
// source is worth saying). Missing or not a string: reported, and read as system.
std::optional<Type> read_type(const Cursor& in) {
  const auto text = in.string();
  if (!text) return Type::system;
  for (const Type type : kTypes) {
    if (*text == to_string(type)) return type;
  }
  in.fail("unknown reference type '" + *text + "' (expected: system, phc, shm, sock, upstream, simulated)");
  return std::nullopt;
}

std::optional<std::string> parse_refid(std::string_view text) {
  const bool printable = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (text.empty() || text.size() > 4 || !printable) return std::nullopt;
  return std::string{text};
}

// The key naming what a source reads from: problems about that resource point at it.
Cursor resource(const Cursor& in, ReferenceSource& source) {
  if (in.exists()) source.resource_location = in.location();
  return in;
}

std::optional<std::string> read_socket_path(const Cursor& in) {
  auto path = in.absolute_path();
  if (path && path->size() >= 108) in.fail("a Unix socket path must be shorter than 108 bytes");
  return path;
}

void read_system(Cursor& in, ReferenceSource& source) {
  using Clock = ReferenceSource::Clock;
  source.clock =
      in["clock"].one_of<Clock>({{"realtime", Clock::realtime}, {"tai", Clock::tai}}).value_or(source.clock);
  source.ptp4l = read_socket_path(in["ptp4l"]);
}

void read_phc(Cursor& in, ReferenceSource& source) {
  using Timescale = ReferenceSource::Timescale;
  source.device = resource(in["device"].required(), source).absolute_path().value_or("");
  source.timescale =
      in["timescale"].one_of<Timescale>({{"tai", Timescale::tai}, {"utc", Timescale::utc}}).value_or(source.timescale);
  source.ptp4l = read_socket_path(in["ptp4l"]);
}

void read_shm(Cursor& in, ReferenceSource& source) {
  // ntpd's and gpsd's units: 0 to 255 (the key's last byte).
  source.unit = resource(in["unit"].required(), source).count(255).value_or(source.unit);
}

void read_sock(Cursor& in, ReferenceSource& source) {
  source.path = read_socket_path(resource(in["path"].required(), source)).value_or("");
}

constexpr unsigned kMaxAssociations = 64;
constexpr std::uint32_t kMaxKeyId = 4294967295u;

// A `servers` entry as a mapping: exactly one of server or pool, and the entry's options.
std::optional<UpstreamServer> read_server_entry(Cursor in) {
  using Kind = UpstreamServer::Kind;
  const Cursor server = in["server"];
  const Cursor pool = in["pool"];
  const Cursor max_sources = in["max_sources"];
  const Cursor key = in["key"];
  const Cursor nts = in["nts"];
  const Cursor nts_port = in["nts_port"];
  const Cursor nts_ca = in["nts_ca"];
  in.no_other_keys();
  if (server.exists() == pool.exists()) {
    in.fail(server.exists() ? "server and pool exclude each other: an entry is one or the other"
                            : "needs server: HOST[:PORT] or pool: NAME[:PORT]");
    return std::nullopt;
  }
  const Cursor& name = server.exists() ? server : pool;
  std::optional<UpstreamServer> entry =
      name.as(parse_upstream_server, "is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
  UpstreamServer out = entry.value_or(UpstreamServer{});
  out.kind = pool.exists() ? Kind::pool : Kind::server;
  // Names have no colon; IPv6 addresses do, and IPv4 ones parse.
  const bool numeric = out.host.find(':') != std::string::npos || parse_socket_address(out.host + ":1");
  if (entry && out.kind == Kind::pool && numeric) {
    pool.fail("'" + out.text + "' is an address: a pool is a name with several addresses (use server: for one)");
  }
  if (max_sources.exists() && out.kind != Kind::pool) {
    max_sources.fail("only for a pool");
  } else {
    out.max_sources = max_sources.count(16, {1, "must be from 1 to 16"}).value_or(out.max_sources);
  }
  if (key.exists()) {
    out.key_id = key.count(kMaxKeyId, {1, "must be a key id from 1 to 4294967295"});
    out.key_id_location = key.location();
  }
  if (nts.exists()) {
    out.nts = nts.boolean().value_or(false);
    out.nts_location = nts.location();
  }
  if (out.nts && key.exists()) key.fail("not together with nts: NTS authenticates by itself");
  if (nts_port.exists() && !out.nts) {
    nts_port.fail("only with nts: true");
  } else {
    out.nts_port =
        static_cast<std::uint16_t>(nts_port.count(65535, {1, "must be a port from 1 to 65535"}).value_or(out.nts_port));
  }
  if (nts_ca.exists() && !out.nts) {
    nts_ca.fail("only with nts: true");
  } else {
    out.nts_ca = nts_ca.absolute_path();
    out.nts_ca_location = nts_ca.location();
  }
  if (!entry) return std::nullopt;
  return out;
}

void read_servers(const Cursor& servers, ReferenceSource& source) {
  if (!servers.list()) return;
  if (servers.size() == 0) servers.fail("at least one server is needed");
  unsigned associations = 0;
  for (const Cursor& item : servers.items()) {
    std::optional<UpstreamServer> server;
    if (item.is_scalar()) {
      server = item.as(parse_upstream_server, "is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
    } else if (item.map("HOST[:PORT], or a mapping with server: or pool:")) {
      server = read_server_entry(item);
    }
    if (!server) continue;
    server->key = item.path();
    server->location = item.location();
    const auto same = std::ranges::find_if(
        source.servers, [&](const UpstreamServer& s) { return s.host == server->host && s.port == server->port; });
    if (same != source.servers.end()) {
      item.fail("'" + server->text + "' is already " + same->key.substr(same->key.rfind('.') + 1));
      continue;
    }
    associations += server->associations();
    source.servers.push_back(std::move(*server));
  }
  if (associations > kMaxAssociations) {
    servers.fail("at most " + std::to_string(kMaxAssociations) + " servers, a pool counting its max_sources");
  }
}

void read_upstream(Cursor& in, ReferenceSource& source) {
  read_servers(resource(in["servers"].required(), source), source);
  unsigned associations = 0;
  for (const UpstreamServer& server : source.servers) associations += server.associations();
  const Cursor minsources = in["minsources"];
  if (const auto n = minsources.count(kMaxAssociations)) {
    if (*n == 0 || (associations > 0 && *n > associations)) {
      minsources.fail("must be from 1 to the number of servers (a pool counts its max_sources)");
    } else {
      source.minsources = *n;
    }
  }
  if (auto drift_file = in["drift_file"].absolute_path()) source.drift_file = std::move(*drift_file);
  source.poll = in["poll"].seconds(1024, {1, "must be from 1 to 1024 seconds"}).value_or(source.poll);
  source.nts_dump_dir = in["nts_dump_dir"].absolute_path();
  source.nts_dump_dir_location = in["nts_dump_dir"].location();
}

struct Rate {
  std::int64_t numerator = 0;
  std::int64_t denominator = 1;
  std::string text;
};

// "100", "0.5": a positive decimal as an exact fraction.
std::optional<Rate> parse_rate(std::string_view text) {
  Rate rate{0, 1, std::string{text}};
  bool point = false, digits = false;
  for (const char c : text) {
    if (c == '.' && !point) {
      point = true;
    } else if (c >= '0' && c <= '9' && rate.numerator < 100'000'000'000 && rate.denominator < 1'000'000'000) {
      rate.numerator = rate.numerator * 10 + (c - '0');
      if (point) rate.denominator *= 10;
      digits = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digits || rate.numerator <= 0 || rate.numerator > 100'000 * rate.denominator) return std::nullopt;
  return rate;
}

void read_simulated(Cursor& in, ReferenceSource& source) {
  source.start = in["start"].required().as(leapdb::parse_rfc3339, "is not an RFC 3339 time").value_or(source.start);
  if (const auto rate = in["rate"].as(parse_rate, "is not a rate above 0 and at most 100000, e.g. 60 or 0.5")) {
    source.rate_numerator = rate->numerator;
    source.rate_denominator = rate->denominator;
    source.rate_text = rate->text;
  }
}

// One source's keys (in the shorthand, those of the reference mapping); false when its type is
// not one smeard knows.
bool read_source(Cursor in, Form form, ReferenceSource& source) {
  source.key = in.path();
  source.location = in.location();
  const auto type = read_type(in["type"].required());
  if (!type) return false;
  source.type = *type;
  check_source_keys(in, *type, form);
  source.refid = in["refid"].as(parse_refid, "must be 1 to 4 printable ASCII characters, e.g. GPS").value_or("");
  source.prefer = in["prefer"].boolean().value_or(false);
  source.trust = in["trust"].boolean().value_or(false);
  source.require = in["require"].boolean().value_or(false);
  source.noselect = in["noselect"].boolean().value_or(false);
  switch (*type) {
    case Type::system: read_system(in, source); break;
    case Type::simulated: read_simulated(in, source); break;
    case Type::phc: read_phc(in, source); break;
    case Type::shm: read_shm(in, source); break;
    case Type::sock: read_sock(in, source); break;
    case Type::upstream: read_upstream(in, source); break;
  }
  return true;
}

// "1", "0.5", "1000": seconds to at most nine decimals, from 0.001 to 10^9.
std::optional<leapdb::Nanoseconds> parse_max_step(std::string_view text) {
  const std::size_t point = text.find('.');
  const std::string_view fraction = point == std::string_view::npos ? "0" : text.substr(point + 1);
  const auto seconds = parse_whole<std::uint64_t>(text.substr(0, point));
  const auto decimals = parse_whole<std::uint64_t>(fraction);
  if (!seconds || !decimals || *seconds > 1'000'000'000 || fraction.size() > 9) return std::nullopt;
  std::uint64_t nanoseconds = *decimals;
  for (std::size_t i = fraction.size(); i < 9; ++i) nanoseconds *= 10;
  const leapdb::Nanoseconds step = std::chrono::seconds{static_cast<std::int64_t>(*seconds)} +
                                   leapdb::Nanoseconds{static_cast<std::int64_t>(nanoseconds)};
  if (step < std::chrono::milliseconds{1} || step > std::chrono::seconds{1'000'000'000}) return std::nullopt;
  return step;
}

// The keys of the selection among the sources, which both forms share.
void read_selection(Cursor& in, Reference& reference) {
  reference.holdover = in["holdover"].seconds(30 * 86400).value_or(reference.holdover);
  Cursor fallback = in["unsynchronized"];
  if (fallback.map()) {
    const Cursor stratum = fallback["local_stratum"].required();
    reference.local_stratum = stratum.count(15, {1, "must be a stratum from 1 to 15"}).value_or(0);
    fallback.no_other_keys();
  }
  reference.max_step = in["max_step"]
                           .as(parse_max_step, "is not a number of seconds from 0.001 to 1000000000, e.g. 1 or 0.5")
                           .value_or(reference.max_step);
}

// What a source takes for itself, which no other source may also take: the key naming it and
// how a message says it.
struct Resource {
  std::string_view key;  // empty: the source as a whole
  std::string text;
};

// Nothing when the resource is not named, or not named right (which is reported already).
std::optional<Resource> resource_of(const ReferenceSource& source) {
  switch (source.type) {
    case Type::system: return Resource{"", "the system clock"};
    case Type::phc:
      if (!source.device.empty()) return Resource{"device", source.device};
      break;
    case Type::shm:
      if (source.resource_location.line > 0) return Resource{"unit", "SHM unit " + std::to_string(source.unit)};
      break;
    case Type::sock:
      if (!source.path.empty()) return Resource{"path", source.path};
      break;
    case Type::simulated:
    case Type::upstream: break;
  }
  return std::nullopt;
}

// A second source of the same device, segment, socket or clock would only echo the first.
void check_shared_resources(const Reference& reference, Problems& problems) {
  for (std::size_t i = 0; i < reference.sources.size(); ++i) {
    const ReferenceSource& source = reference.sources[i];
    const auto resource = resource_of(source);
    if (!resource) continue;
    for (std::size_t j = 0; j < i; ++j) {
      const auto earlier = resource_of(reference.sources[j]);
      if (!earlier || earlier->key != resource->key || earlier->text != resource->text) continue;
      const bool whole = resource->key.empty();
      problems.add(whole ? source.location : source.resource_location,
                   whole ? source.key : source.key + "." + std::string{resource->key},
                   resource->text + " is already used by " + reference.sources[j].key);
      break;
    }
  }
}

void check_sources(const Cursor& list, const Reference& reference) {
  for (const ReferenceSource& source : reference.sources) {
    if (source.type == Type::simulated && list.size() > 1) {
      list.problems().add(
          source.location, source.key,
          "a simulated source is its own truth and cannot be cross-checked: it must be the only source");
    }
  }
  check_shared_resources(reference, list.problems());
  const bool all_read = !reference.sources.empty() && reference.sources.size() == list.size();
  if (all_read && std::all_of(reference.sources.begin(), reference.sources.end(),
                              [](const ReferenceSource& s) { return s.noselect; })) {
    list.fail("every source is noselect: nothing could ever be selected");
  }
}

// Sources that must agree: at least one, and no more than could ever be selected.
void read_minsources(const Cursor& in, const Cursor& list, Reference& reference) {
  const auto n = in.count(kMaxSources);
  if (!n) return;
  const auto noselect = std::count_if(reference.sources.begin(), reference.sources.end(),
                                      [](const ReferenceSource& s) { return s.noselect; });
  const std::size_t selectable = list.size() - static_cast<std::size_t>(noselect);
  if (*n >= 1 && *n <= selectable) {
    reference.minsources = *n;
  } else if (selectable > 0) {
    in.fail("must be from 1 to " + std::to_string(selectable) + ", the number of sources without noselect");
  }
}

void read_list(Cursor& in, Reference& reference) {
  const Cursor list = in["sources"];
  if (list.list()) {
    if (list.size() == 0) list.fail("at least one source is needed");
    if (list.size() > kMaxSources) list.fail("at most " + std::to_string(kMaxSources) + " sources");
    for (const Cursor& item : list.items()) {
      ReferenceSource source;
      if (item.map() && read_source(item, Form::entry, source) && item.has("type")) {
        reference.sources.push_back(std::move(source));
      }
    }
    check_sources(list, reference);
  }
  check_selection_keys(in, reference);
  read_selection(in, reference);
  read_minsources(in["minsources"], list, reference);
}

void read_shorthand(Cursor& in, Reference& reference) {
  ReferenceSource source;
  if (!read_source(in, Form::shorthand, source)) return;  // an unknown type: nothing else is worth saying
  if (source.noselect) in["noselect"].fail("the only source cannot be noselect: nothing could ever be selected");
  read_selection(in, reference);
  reference.sources.push_back(std::move(source));
}

}  // namespace

void read_reference(Cursor in, Reference& reference) {
  if (!in.exists()) {
    ReferenceSource system;  // the default: the kernel's clock
    system.key = in.path();
    reference.sources = {system};
    return;
  }
  if (!in.map()) return;
  reference.location = in.location();
  if (in.has("sources")) {
    read_list(in, reference);
  } else {
    read_shorthand(in, reference);
  }
}

}  // namespace config
