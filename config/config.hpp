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

#include "leapdb/time.hpp"
#include "smear/profile.hpp"

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

// A listener's AF_XDP fast path: its requests arriving on `interface` are taken by an XDP
// program and answered through AF_XDP sockets; the rest still reach its kernel sockets.
struct Xdp {
  enum class Mode : std::uint8_t { automatic, native, generic };
  enum class ZeroCopy : std::uint8_t { automatic, on, off };
  std::string interface;
  Mode mode = Mode::automatic;
  ZeroCopy zero_copy = ZeroCopy::automatic;
  bool busy_poll = false;
  SourceLocation location;  // of the interface
};

struct Listener {
  std::string key;  // "listeners[N]", N counting every item in the file
  SocketAddress address;
  std::string timescale;
  SourceLocation location;            // of the address, for errors found when binding
  SourceLocation timescale_location;  // of the timescale name
  std::optional<Xdp> xdp;
};

// How a smeared timescale marks itself in the refid while a smear is in progress.
enum class RefidConvention : std::uint8_t {
  ntpd,       // 254.x.y.z, the low 24 bits the signed offset in 2.22 fixed point
  chrony,     // 127.127.1.255
  reference,  // the reference's own refid, unchanged
};

// A synthetic leap added to one timescale's own copy of the leap table, to rehearse a smear
// on staging clients against the real clock.
struct Rehearsal {
  leapdb::UtcTime leap_at{};  // the instant the leap takes effect
  int sign = 1;
  SourceLocation location;  // of leap_at
};

struct Timescale {
  smear::Profile profile;  // shape none: true UTC
  RefidConvention refid = RefidConvention::ntpd;
  leapdb::Nanoseconds announce = std::chrono::hours{24};  // true UTC: how long LI warns before a leap
  std::optional<Rehearsal> rehearsal;
  SourceLocation location;  // of the timescale's entry
};

// An entry of an upstream source's servers: a server (a numeric address, or a name whose
// addresses are tried in turn) or a pool (a name giving up to max_sources servers at once).
struct UpstreamServer {
  enum class Kind : std::uint8_t { server, pool };
  Kind kind = Kind::server;
  std::string host;  // as written, without brackets
  std::uint16_t port = 123;
  std::string text;  // as written, for messages
  std::string key;   // "reference.sources[N].servers[M]"
  SourceLocation location;   // of the entry
  unsigned max_sources = 4;  // a pool's associations (chrony's maxsources), 1 to 16
  // How requests are authenticated: a symmetric key of the keys file, or NTS (RFC 8915).
  std::optional<std::uint32_t> key_id;
  SourceLocation key_id_location;
  bool nts = false;
  SourceLocation nts_location;
  std::uint16_t nts_port = 4460;      // the NTS-KE server's port
  std::optional<std::string> nts_ca;  // PEM bundle; unset: the system's CAs
  SourceLocation nts_ca_location;
  // How many servers it adds to the source: 1, a pool's max_sources.
  unsigned associations() const { return kind == Kind::pool ? max_sources : 1; }
};

// "ntp1.example.net", "192.0.2.1:123", "[2001:db8::1]:1123", "2001:db8::1".
std::optional<UpstreamServer> parse_upstream_server(std::string_view text);

// One time source: an entry of reference.sources, or the reference mapping itself in the
// single-source shorthand `reference: {type: ...}`.
struct ReferenceSource {
  enum class Type : std::uint8_t { system, simulated, phc, shm, sock, upstream };
  Type type = Type::system;
  std::string key;   // "reference.sources[N]", or "reference" in the shorthand: prefixes every message
  std::string refid;  // 1 to 4 printable ASCII characters; empty: the type's default (reference_id_text)
  SourceLocation location;           // of the entry
  SourceLocation resource_location;  // of what names the device, segment, socket or servers
  // system: the kernel's CLOCK_REALTIME, or with `tai` its TAI offset checked against the table.
  enum class Clock : std::uint8_t { realtime, tai };
  Clock clock = Clock::realtime;
  // phc: a PTP hardware clock and the timescale it keeps.
  std::string device;
  enum class Timescale : std::uint8_t { tai, utc };
  Timescale timescale = Timescale::tai;
  // phc and system: linuxptp's management socket (as `pmc -u -s PATH`); the source counts as
  // synchronized only while ptp4l says its port is a synchronized slave (or it is a traceable
  // grandmaster). Unset: ptp4l is not asked.
  std::optional<std::string> ptp4l;
  // shm: the NTP shared-memory refclock segment (key 0x4e545030 + unit).
  unsigned unit = 0;
  // sock: chrony's SOCK refclock socket, which smeard creates.
  std::string path;
  // upstream: NTP servers serving true UTC, and how many of them must agree.
  std::vector<UpstreamServer> servers;
  unsigned minsources = 1;
  std::optional<std::string> drift_file;
  leapdb::Nanoseconds poll = std::chrono::seconds{16};
  std::optional<std::string> nts_dump_dir;  // NTS cookies kept across restarts (chrony's ntsdumpdir)
  SourceLocation nts_dump_dir_location;
  // simulated (only ever the one source): time starts at `start` when smeard starts and runs
  // rate_numerator / rate_denominator times as fast as real time.
  leapdb::UtcTime start{};
  std::int64_t rate_numerator = 1;
  std::int64_t rate_denominator = 1;
  std::string rate_text = "1";
  // chrony's per-source selection options.
  bool prefer = false;    // selected alone whenever it is a truechimer
  bool trust = false;     // a falseticker only if another trusted source disagrees with it
  bool require = false;   // nothing is selected unless one required source is a truechimer
  bool noselect = false;  // measured and reported, never selected

  // The refid replies name the source by: the configured one, or the type's default (LOCL,
  // PHC, SHM0..., SOCK); upstream sources name their selected server instead.
  std::string reference_id_text() const;
};

std::string_view to_string(ReferenceSource::Type type);

// Where time comes from: every source, one selection among them, and what replies say once
// none is left.
struct Reference {
  std::vector<ReferenceSource> sources;  // at least one; a simulated source only alone
  SourceLocation location;               // of the reference mapping
  // Sources that must agree (be truechimers) before any steers the served time.
  unsigned minsources = 1;
  // A source whose time jumps by more than this while nothing else confirms it is refused
  // until an operator raises max_step (and reloads) or restarts smeard.
  leapdb::Nanoseconds max_step = std::chrono::seconds{1};
  // How long replies keep their claims once no source steers, and what they say after:
  // unsynchronized, or this clock at a local stratum.
  leapdb::Nanoseconds holdover = std::chrono::hours{1};
  unsigned local_stratum = 0;  // 0: unsynchronized

  // The one simulated source, if that is the reference.
  const ReferenceSource* simulated() const;
};


struct Network {
  std::array<std::uint8_t, 16> network{};  // IPv4 as ::ffff:a.b.c.d
  unsigned prefix_length = 0;               // over the 128 bits
  std::string text;                         // as written, for messages
  SourceLocation location;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address.
std::optional<Network> parse_network(std::string_view text);

// Clients in these networks may only use this timescale, and perhaps only with a key.
struct ClientPin : Network {
  std::string timescale;
  bool key_required = false;  // requests without a valid MAC get a crypto-NAK
};

// Who is served at all: deny is checked first; an empty allow list means everyone.
struct Access {
  std::vector<Network> allow;
  std::vector<Network> deny;
  enum class Denied : std::uint8_t { kod, drop };
  Denied denied = Denied::kod;  // KoD DENY, or silence
  unsigned min_version = 1;     // older requests are dropped
};

// Per client address, as chrony's ratelimit: on average one answer every 2^interval seconds,
// `burst` at once; of the requests over the limit, 1 in 2^leak is answered anyway (so a
// victim whose address is spoofed still gets some time), the rest get at most one KoD RATE
// per interval and are otherwise dropped.
struct RateLimit {
  bool enabled = false;
  int interval = 3;                // log2 seconds, -4 to 12
  unsigned burst = 8;              // 1 to 255
  unsigned leak = 2;               // 0 (never) to 8
  unsigned table_size = 1u << 16;  // client addresses remembered per worker thread
};

struct ClientPolicy {
  enum class Mismatch : std::uint8_t { deny, drop };
  Mismatch mismatch = Mismatch::deny;  // a pinned (or stuck) client asking another timescale
  leapdb::Nanoseconds sticky{0};       // 0: off; else how long an unpinned client's first timescale sticks
  leapdb::Nanoseconds mixed_window = std::chrono::hours{1};
  unsigned table_size = 1u << 20;      // client slots for the sticky table and the mixed-client detector
};

struct LeapDb {
  std::vector<std::string> files;  // loaded together: all must be valid and agree
  bool allow_unhashed = false;     // accept a leap-seconds.list without #h (never a wrong one)
  unsigned expiry_warning_days = 28;
};

// The HTTP endpoint for /metrics, /healthz, /readyz and /status. On by default, on loopback,
// on a port that clashes with neither chrony_exporter (9123) nor ntpd-rs (9975).
struct Metrics {
  std::optional<SocketAddress> listen = SocketAddress{SocketAddress::Family::ipv4, {127, 0, 0, 1}, 9466};
  SourceLocation location;  // of listen, for errors found when binding
  // Who may connect (as access.allow; empty: everyone); others are closed at accept.
  std::vector<Network> allow;
  // Sessions one peer address may hold open at once, so one client cannot take them all.
  unsigned max_connections_per_address = 4;
};

// One NTS-KE listener (RFC 8915): TLS on TCP, handing its clients cookies for one timescale
// and the NTP server and port that serve it.
struct NtsKeListener {
  std::string key;  // "nts.listeners[N]"
  SocketAddress address;
  std::string timescale;
  std::string server;                 // Server record; empty: none (the client asks the KE host)
  std::optional<std::uint16_t> port;  // Port record; unset: the timescale's NTP port if not 123
  SourceLocation location;
  SourceLocation timescale_location;
};

// Network Time Security: certificate and key for TLS, the fleet's shared cookie secret, how
// often cookie keys rotate, and the KE listeners with their limits.
struct Nts {
  std::string certificate;  // PEM chain, leaf first
  std::string private_key;  // PEM
  std::string cookie_key_file;
  SourceLocation certificate_location;
  SourceLocation private_key_location;
  SourceLocation cookie_key_file_location;
  leapdb::Nanoseconds rotation = std::chrono::hours{24};
  std::vector<NtsKeListener> listeners;
  unsigned max_connections = 256;
  leapdb::Nanoseconds handshake_timeout = std::chrono::seconds{5};
  leapdb::Nanoseconds rate_interval = std::chrono::seconds{1};  // per address: one session this often,
  unsigned rate_burst = 16;                                     // after a burst of this many
};

// Which interfaces stamp NTP packets in hardware (through the NIC's PTP hardware clock) where
// the driver can: none (the default), the interfaces named, or with "*" every interface that is
// up and not loopback. An interface whose driver cannot falls back to the kernel's software
// stamps; a named interface that does not exist is an error, found when smeard starts.
struct HardwareTimestamps {
  bool all = false;  // "*"
  std::vector<std::string> interfaces;
  std::vector<SourceLocation> locations;  // of each name, for errors found at start
  bool operator==(const HardwareTimestamps& other) const { return all == other.all && interfaces == other.interfaces; }
};

// Linux's rules for an interface name: 1 to 15 bytes (IFNAMSIZ less the NUL), no '/', ':' or
// white space, not "." or "..".
bool valid_interface_name(std::string_view name);

struct Config {
  std::string source;  // file name, or "<embedded default>"
  std::vector<Listener> listeners;
  std::map<std::string, Timescale, std::less<>> timescales;
  Reference reference;
  LeapDb leapdb;
  std::vector<ClientPin> clients;
  ClientPolicy client_policy;
  Metrics metrics;
  Access access;
  RateLimit ratelimit;
  // A chrony-format keys file for symmetric-key authentication (RFC 5905, RFC 8573).
  std::optional<std::string> keys;
  SourceLocation keys_location;
  std::optional<Nts> nts;
  // Who smeard runs as once its sockets are bound; unset: the user "smeard" if it exists.
  std::optional<std::string> user;
  std::optional<std::string> group;
  SourceLocation user_location;
  SourceLocation group_location;
  // Worker threads run under a seccomp allow-list (any other system call kills smeard).
  bool seccomp = true;
  bool interleaved = true;  // answer RFC 9769 interleaved requests in kind (as chrony serves)
  bool log_json = false;  // log_format: json (one JSON object a line) or keyvalue (the default)
  unsigned workers = 0;  // worker threads per listener; 0: one per core
  HardwareTimestamps hardware_timestamps;
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
