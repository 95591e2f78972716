#include "config/config.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

config::ParseResult parse(const std::string& text) { return config::parse(text, "smeard.yaml"); }

// The one problem a configuration has, as the operator would read it.
std::string only_problem(const std::string& text) {
  const auto result = parse(text);
  CHECK_FALSE(result.config.has_value());
  REQUIRE(result.problems.size() == 1);
  return result.problems.front().to_string();
}

const std::string kTimescales = "timescales:\n  utc:\n    smear: none\n";

}  // namespace

TEST_CASE("the embedded default is valid and matches what the README promises") {
  const auto result = config::parse(config::embedded_default(), config::kEmbeddedDefaultName);
  REQUIRE(result.problems.empty());
  const config::Config& c = *result.config;
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].address.to_string() == "0.0.0.0:123");
  CHECK(c.listeners[1].address.to_string() == "[::]:123");
  CHECK(c.listeners[0].timescale == "google");
  CHECK(c.timescales.at("google").profile.name == "google");
  CHECK(c.timescales.at("google").profile.shape == smear::Shape::linear);
  CHECK(c.workers == 0);
  CHECK(c.reference.refid == "LOCL");
  CHECK(c.source == "<embedded default>");
  CHECK(c.leapdb.files ==
        std::vector<std::string>{"/usr/share/zoneinfo/leap-seconds.list", "/usr/share/zoneinfo/leapseconds"});
  CHECK_FALSE(c.leapdb.allow_unhashed);
  CHECK(c.leapdb.expiry_warning_days == 28);
  REQUIRE(c.metrics.listen.has_value());
  CHECK(c.metrics.listen->to_string() == "127.0.0.1:9466");
}

TEST_CASE("metrics endpoint: on by default on loopback, movable, or off") {
  const std::string base = "listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales;
  CHECK(parse(base).config->metrics.listen->to_string() == "127.0.0.1:9466");
  CHECK(parse(base + "metrics: {listen: \"[::1]:9999\"}\n").config->metrics.listen->to_string() == "[::1]:9999");
  CHECK_FALSE(parse(base + "metrics: {listen: off}\n").config->metrics.listen.has_value());
  CHECK(parse(base + "log_format: json\n").config->log_json);
  CHECK_FALSE(parse(base).config->log_json);
  CHECK(only_problem(base + "log_format: xml\n") == "smeard.yaml:7:13: log_format: 'xml' is not keyvalue or json");
}

TEST_CASE("a full configuration") {
  const auto result = parse(R"(
listeners:
  - address: "127.0.0.1:12300"
    timescale: utc
  - address: "[2001:db8::1]:123"
    timescale: utc
timescales:
  utc: {smear: none}
reference: {type: system, refid: GPS}
workers: 3
leapdb:
  files: [/a/leap-seconds.list, /b/right/UTC]
  allow_unhashed: true
  expiry_warning_days: 14
clients: []
metrics:
)");
  REQUIRE(result.problems.empty());
  const config::Config& c = *result.config;
  CHECK(c.listeners[0].address.to_string() == "127.0.0.1:12300");
  CHECK(c.listeners[0].location.line == 3);
  CHECK(c.listeners[0].location.column == 14);
  CHECK(c.listeners[1].address.family == config::SocketAddress::Family::ipv6);
  CHECK(c.listeners[1].address.to_string() == "[2001:db8::1]:123");
  CHECK(c.reference.refid == "GPS");
  CHECK(c.workers == 3);
  CHECK(c.leapdb.files == std::vector<std::string>{"/a/leap-seconds.list", "/b/right/UTC"});
  CHECK(c.leapdb.allow_unhashed);
  CHECK(c.leapdb.expiry_warning_days == 14);
}

TEST_CASE("errors name file, line, column and key") {
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "colour: blue\n") ==
        "smeard.yaml:7:1: colour: unknown key (expected one of: listeners, timescales, reference, workers, leapdb, "
        "clients, client_policy, metrics, log_format, access, ratelimit, keys, user, group, seccomp, nts)");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n    port: 5\n" + kTimescales) ==
        "smeard.yaml:4:5: listeners[0].port: unknown key (expected one of: address, timescale)");
  CHECK(only_problem("listeners: 5\n" + kTimescales) == "smeard.yaml:1:12: listeners: expected a list, found a scalar");
  CHECK(only_problem("listeners:\n  - address: \"localhost:123\"\n    timescale: utc\n" + kTimescales) ==
        "smeard.yaml:2:14: listeners[0].address: 'localhost:123' is not a numeric address with a port, e.g. "
        "\"0.0.0.0:123\" or \"[::]:123\"");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:0\"\n    timescale: utc\n" + kTimescales) ==
        "smeard.yaml:2:14: listeners[0].address: '127.0.0.1:0' needs a port from 1 to 65535");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: smeared\n" + kTimescales) ==
        "smeard.yaml:3:16: listeners[0].timescale: no timescale named 'smeared' under timescales");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n" + kTimescales) ==
        "smeard.yaml:2:5: listeners[0].timescale: required key is missing");
  CHECK(only_problem(kTimescales) == "smeard.yaml:1:1: listeners: required key is missing");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "workers: lots\n") == "smeard.yaml:7:10: workers: 'lots' is not 'auto' or a thread count from 1 to 1024");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "reference: {type: system, refid: TOOLONG}\n") ==
        "smeard.yaml:7:34: reference.refid: 'TOOLONG' must be 1 to 4 printable ASCII characters, e.g. GPS");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "reference: {type: gps}\n") ==
        "smeard.yaml:7:19: reference.type: unknown reference type 'gps' (expected: system, phc, shm, sock, upstream, simulated)");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\ntimescales:\n  utc:\n    smear: "
                     "gogle\n")
            .starts_with("smeard.yaml:6:12: timescales.utc.smear: unknown profile 'gogle'"));
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "metrics: {listen: x}\n") ==
        "smeard.yaml:7:19: metrics.listen: 'x' is not a numeric address with a port, e.g. \"127.0.0.1:9466\", or off");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "leapdb: {files: [/x, /x]}\n") == "smeard.yaml:7:22: leapdb.files[1]: '/x' is listed twice");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "leapdb: {allow_unhashed: maybe}\n") ==
        "smeard.yaml:7:26: leapdb.allow_unhashed: 'maybe' is not true or false");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "leapdb: {files: /x}\n") == "smeard.yaml:7:17: leapdb.files: expected a list, found a scalar");
}

TEST_CASE("every problem is reported, not just the first") {
  const auto result = parse("listeners:\n  - address: nowhere\n    timescale: none\n  - {}\nbogus: 1\n");
  CHECK_FALSE(result.config.has_value());
  CHECK(result.problems.size() == 6);  // bogus, address, 2 missing keys, timescales missing, unknown timescale
}

TEST_CASE("repeated keys and addresses are refused") {
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "workers: 2\nworkers: 3\n") == "smeard.yaml:8:1: workers: key given twice");
  CHECK(only_problem("listeners:\n  - {address: \"127.0.0.1:123\", timescale: utc}\n  - {address: \"127.0.0.1:123\", "
                     "timescale: utc}\n" + kTimescales) ==
        "smeard.yaml:3:15: listeners[1].address: 127.0.0.1:123 is already used by listeners[0]");
}

TEST_CASE("keys count every item in the file, even ones that were not listeners") {
  const auto result = parse(
      "listeners:\n  - \"127.0.0.1:1230\"\n  - {address: \"127.0.0.1:1231\", timescale: tai}\n  - {address: "
      "\"127.0.0.1:1231\", timescale: utc}\n" + kTimescales);
  REQUIRE(result.problems.size() == 3);
  CHECK(result.problems[0].to_string() == "smeard.yaml:2:5: listeners[0]: expected a mapping, found a scalar");
  CHECK(result.problems[1].to_string() ==
        "smeard.yaml:3:44: listeners[1].timescale: no timescale named 'tai' under timescales");
  CHECK(result.problems[2].to_string() ==
        "smeard.yaml:4:15: listeners[2].address: 127.0.0.1:1231 is already used by listeners[1]");
}

TEST_CASE("YAML syntax errors carry their position") {
  const std::string problem = only_problem("listeners: [\n  {address: \"1.2.3.4:1\"\n");
  CHECK(problem.starts_with("smeard.yaml:"));
  CHECK(problem.find("YAML syntax error") != std::string::npos);
  CHECK(only_problem("") == "smeard.yaml: expected a mapping with at least 'listeners' and 'timescales', found nothing");
}

TEST_CASE("socket addresses") {
  CHECK(config::parse_socket_address("0.0.0.0:123")->is_wildcard());
  CHECK(config::parse_socket_address("[::]:123")->is_wildcard());
  CHECK_FALSE(config::parse_socket_address("127.0.0.1:123")->is_wildcard());
  CHECK(config::parse_socket_address("[::ffff:127.0.0.1]:9")->to_string() == "[::ffff:127.0.0.1]:9");
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:123", "[::1]",
                          "[::1:123", "256.0.0.1:1", "[127.0.0.1]:1", "127.0.0.1:1x"}) {
    CAPTURE(bad);
    CHECK_FALSE(config::parse_socket_address(bad).has_value());
  }
}

namespace {
const std::string kListener = "listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n";
}

TEST_CASE("timescales: presets, custom profiles, refid conventions, announce, rehearsal") {
  const auto result = parse(kListener + R"(timescales:
  utc: {smear: none, announce: 3600}
  smeared: {smear: google}
  ntpd-like: {smear: ntpd, refid: chrony}
  custom:
    smear: {profile: cosine, window: 600, anchor: end}
    refid: reference
    rehearsal: {leap_at: "2026-11-23T15:00:00Z", sign: "-"}
)");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const auto& t = result.config->timescales;
  CHECK(t.at("utc").profile.shape == smear::Shape::none);
  CHECK(t.at("utc").announce == std::chrono::hours{1});
  CHECK(t.at("smeared").profile.name == "google");
  CHECK(t.at("smeared").refid == config::RefidConvention::ntpd);
  CHECK(t.at("ntpd-like").refid == config::RefidConvention::chrony);
  CHECK(t.at("custom").profile.shape == smear::Shape::cosine);
  CHECK(t.at("custom").profile.window == std::chrono::seconds{600});
  CHECK(t.at("custom").profile.anchor == smear::Anchor::end);
  CHECK(t.at("custom").refid == config::RefidConvention::reference);
  REQUIRE(t.at("custom").rehearsal.has_value());
  CHECK(t.at("custom").rehearsal->sign == -1);
  CHECK(leapdb::format_rfc3339(t.at("custom").rehearsal->leap_at) == "2026-11-23T15:00:00.000000000Z");

  CHECK(only_problem(kListener + "timescales:\n  utc: {smear: {profile: linear, window: 5}}\n") ==
        "smeard.yaml:5:16: timescales.utc.smear: profile 'linear:window=5': window must be a number of seconds from 60 "
        "to 2592000");
  CHECK(only_problem(kListener + "timescales:\n  utc: {smear: none, refid: gps}\n") ==
        "smeard.yaml:5:29: timescales.utc.refid: 'gps' is not ntpd, chrony or reference");
  CHECK(only_problem(kListener + "timescales:\n  utc: {smear: none, rehearsal: {leap_at: soon}}\n") ==
        "smeard.yaml:5:43: timescales.utc.rehearsal.leap_at: 'soon' is not an RFC 3339 time, e.g. 2026-11-23T15:00:00Z");
}

TEST_CASE("an empty timescale name is refused, not crashed on later") {
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: \"\"\n" + kTimescales) ==
        "smeard.yaml:3:16: listeners[0].timescale: a timescale name is needed");
}

TEST_CASE("client pins and policy") {
  const auto result = parse(kListener + kTimescales + R"(clients:
  - networks: ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
    timescale: utc
client_policy: {mismatch: drop, sticky: 600, mixed_window: 120, table_size: 4096}
)");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const auto& pins = result.config->clients;
  REQUIRE(pins.size() == 3);
  CHECK(pins[0].prefix_length == 104);
  CHECK(pins[1].prefix_length == 32);
  CHECK(pins[2].prefix_length == 128);
  CHECK(pins[0].timescale == "utc");
  CHECK(pins[0].location.line == 8);
  const auto& policy = result.config->client_policy;
  CHECK(policy.mismatch == config::ClientPolicy::Mismatch::drop);
  CHECK(policy.sticky == std::chrono::seconds{600});
  CHECK(policy.mixed_window == std::chrono::seconds{120});
  CHECK(policy.table_size == 4096);

  CHECK(only_problem(kListener + kTimescales + "clients:\n  - {networks: [10.0.0.1/8], timescale: utc}\n") ==
        "smeard.yaml:8:17: clients[0].networks[0]: '10.0.0.1/8' is not a network such as 10.0.0.0/8 or 2001:db8::/32");
  CHECK(only_problem(kListener + kTimescales + "clients:\n  - {networks: [10.0.0.0/8], timescale: tai}\n") ==
        "smeard.yaml:8:41: clients[0].timescale: no timescale named 'tai' under timescales");
  CHECK(only_problem(kListener + kTimescales + "client_policy: {table_size: 1000}\n") ==
        "smeard.yaml:7:29: client_policy.table_size: must be a power of two from 1024 to 67108864");
}

TEST_CASE("access, rate limiting, keys and the account") {
  const auto result = parse(kListener + kTimescales + R"(access:
  allow: ["10.0.0.0/8", "2001:db8::/32"]
  deny: ["10.66.0.0/16"]
  denied: drop
  min_version: 3
ratelimit: {interval: -2, burst: 16, leak: 0, table_size: 2048}
keys: /etc/smeard/ntp.keys
clients:
  - {networks: ["192.0.2.0/24"], timescale: utc, key_required: true}
user: ntp
group: "123"
seccomp: false
)");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const config::Config& c = *result.config;
  REQUIRE(c.access.allow.size() == 2);
  CHECK(c.access.allow[1].prefix_length == 32);
  CHECK(c.access.allow[0].location.line == 8);
  REQUIRE(c.access.deny.size() == 1);
  CHECK(c.access.deny[0].text == "10.66.0.0/16");
  CHECK(c.access.denied == config::Access::Denied::drop);
  CHECK(c.access.min_version == 3);
  CHECK(c.ratelimit.enabled);
  CHECK(c.ratelimit.interval == -2);
  CHECK(c.ratelimit.burst == 16);
  CHECK(c.ratelimit.leak == 0);
  CHECK(c.ratelimit.table_size == 2048);
  CHECK(c.keys == "/etc/smeard/ntp.keys");
  CHECK(c.keys_location.line == 13);
  REQUIRE(c.clients.size() == 1);
  CHECK(c.clients[0].key_required);
  CHECK(c.user == "ntp");
  CHECK(c.group == "123");
  CHECK(c.user_location.line == 16);
  CHECK_FALSE(c.seccomp);

  // Off and open by default.
  const auto plain = parse(kListener + kTimescales);
  REQUIRE(plain.config);
  CHECK_FALSE(plain.config->ratelimit.enabled);
  CHECK(plain.config->access.allow.empty());
  CHECK(plain.config->access.denied == config::Access::Denied::kod);
  CHECK(plain.config->access.min_version == 1);
  CHECK_FALSE(plain.config->keys);
  CHECK_FALSE(plain.config->user);
  CHECK(plain.config->seccomp);

  CHECK(only_problem(kListener + kTimescales + "seccomp: maybe\n").find("smeard.yaml:7:10: seccomp:") == 0);
  CHECK(only_problem(kListener + kTimescales + "access: {allow: []}\n") ==
        "smeard.yaml:7:17: access.allow: an empty list would serve nobody; leave allow out to serve everyone");
  CHECK(only_problem(kListener + kTimescales + "access: {deny: [10.0.0.1/8]}\n") ==
        "smeard.yaml:7:17: access.deny[0]: '10.0.0.1/8' is not a network such as 10.0.0.0/8 or 2001:db8::/32");
  CHECK(only_problem(kListener + kTimescales + "access: {denied: reject}\n") ==
        "smeard.yaml:7:18: access.denied: 'reject' is not kod (a KoD DENY reply) or drop");
  CHECK(only_problem(kListener + kTimescales + "access: {min_version: 0}\n") ==
        "smeard.yaml:7:23: access.min_version: must be an NTP version from 1 to 4");
  CHECK(only_problem(kListener + kTimescales + "ratelimit: {interval: 13}\n") ==
        "smeard.yaml:7:23: ratelimit.interval: '13' is not a log2 of seconds from -4 (1/16 s) to 12 (4096 s)");
  CHECK(only_problem(kListener + kTimescales + "ratelimit: {burst: 0}\n") ==
        "smeard.yaml:7:20: ratelimit.burst: must be from 1 to 255");
  CHECK(only_problem(kListener + kTimescales + "ratelimit: {table_size: 1000}\n") ==
        "smeard.yaml:7:25: ratelimit.table_size: must be a power of two from 1024 to 16777216");
  CHECK(only_problem(kListener + kTimescales + "clients:\n  - {networks: [10.0.0.0/8], timescale: utc, key_required: true}\n") ==
        "smeard.yaml:8:60: clients[0].key_required: needs a keys file (keys: PATH)");
  CHECK(only_problem(kListener + kTimescales + "user: \"-x\"\n") == "smeard.yaml:7:7: user: '-x' is not a user or group name");
  CHECK(only_problem(kListener + kTimescales + "keys: \"\"\n") == "smeard.yaml:7:7: keys: a keys file needs a path");
}

TEST_CASE("networks") {
  const auto v4 = config::parse_network("10.1.0.0/16").value();
  CHECK(v4.prefix_length == 112);
  CHECK(v4.network[10] == 0xff);
  CHECK(v4.network[12] == 10);
  CHECK(config::parse_network("2001:db8:8000::/33").value().prefix_length == 33);
  CHECK(config::parse_network("0.0.0.0/0").value().prefix_length == 96);
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10/8", "::/129", "10.0.0.1/24", "x"}) {
    CAPTURE(bad);
    CHECK_FALSE(config::parse_network(bad).has_value());
  }
}

TEST_CASE("simulated reference") {
  const auto result =
      parse(kListener + kTimescales + "reference: {type: simulated, start: \"2016-12-31T23:00:00Z\", rate: 0.25}\n");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const auto& ref = result.config->reference;
  CHECK(ref.type == config::Reference::Type::simulated);
  CHECK(leapdb::format_rfc3339(ref.start) == "2016-12-31T23:00:00.000000000Z");
  CHECK(ref.rate_numerator == 25);
  CHECK(ref.rate_denominator == 100);
  CHECK(only_problem(kListener + kTimescales + "reference: {type: simulated}\n") ==
        "smeard.yaml:7:12: reference.start: required key is missing");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: simulated, start: \"2016-12-31T23:00:00Z\", rate: 0}\n") ==
        "smeard.yaml:7:67: reference.rate: '0' is not a rate above 0 and at most 100000, e.g. 60 or 0.5");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, rate: 2}\n") ==
        "smeard.yaml:7:27: reference.rate: not for type: system (only for type: simulated)");
}

TEST_CASE("references: each type with its own keys, and one key per type") {
  using config::Reference;
  const auto ref = [](const std::string& yaml) {
    const auto result = parse(kListener + kTimescales + yaml);
    REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
    return result.config->reference;
  };
  const Reference system = ref("reference: {type: system, clock: tai, holdover: 600, unsynchronized: {local_stratum: 10}}\n");
  CHECK(system.clock == Reference::Clock::tai);
  CHECK(system.holdover == std::chrono::seconds{600});
  CHECK(system.local_stratum == 10);
  CHECK(system.reference_id_text() == "LOCL");
  CHECK(ref("reference: {type: system}\n").holdover == std::chrono::hours{1});

  const Reference phc = ref("reference: {type: phc, device: /dev/ptp0, timescale: utc}\n");
  CHECK(phc.device == "/dev/ptp0");
  CHECK(phc.timescale == Reference::Timescale::utc);
  CHECK(phc.reference_id_text() == "PHC");
  CHECK(phc.resource_location.line == 7);
  CHECK(phc.resource_location.column == 32);
  CHECK(ref("reference: {type: phc, device: /dev/ptp1}\n").timescale == Reference::Timescale::tai);

  const Reference shm = ref("reference: {type: shm, unit: 2, refid: GPS}\n");
  CHECK(shm.unit == 2);
  CHECK(shm.reference_id_text() == "GPS");
  CHECK(ref("reference: {type: shm, unit: 1}\n").reference_id_text() == "SHM1");

  CHECK(ref("reference: {type: sock, path: /run/chrony.ttyS0.sock}\n").path == "/run/chrony.ttyS0.sock");

  const Reference upstream = ref(
      "reference: {type: upstream, servers: [ntp1.example.net, \"192.0.2.1:1123\", \"[2001:db8::1]:123\", \"2001:db8::2\"], "
      "minsources: 2, drift_file: /var/lib/smeard/drift, poll: 8}\n");
  REQUIRE(upstream.servers.size() == 4);
  CHECK(upstream.servers[0].host == "ntp1.example.net");
  CHECK(upstream.servers[0].port == 123);
  CHECK(upstream.servers[1].host == "192.0.2.1");
  CHECK(upstream.servers[1].port == 1123);
  CHECK(upstream.servers[2].host == "2001:db8::1");
  CHECK(upstream.servers[3].host == "2001:db8::2");
  CHECK(upstream.servers[3].port == 123);
  CHECK(upstream.minsources == 2);
  CHECK(upstream.drift_file == "/var/lib/smeard/drift");
  CHECK(upstream.poll == std::chrono::seconds{8});

  CHECK(only_problem(kListener + kTimescales + "reference: {type: upstream, servers: [a], refid: GPS}\n") ==
        "smeard.yaml:7:43: reference.refid: not for type: upstream (only for type: system, simulated, phc, shm, sock)");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: phc}\n") ==
        "smeard.yaml:7:12: reference.device: required key is missing");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: phc, device: ptp0}\n") ==
        "smeard.yaml:7:32: reference.device: 'ptp0' must be an absolute path");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: shm, unit: 256}\n") ==
        "smeard.yaml:7:30: reference.unit: '256' is not a whole number from 0 to 255");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: upstream, servers: [\"a:0\"]}\n") ==
        "smeard.yaml:7:39: reference.servers[0]: 'a:0' is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: upstream, servers: [a, b], minsources: 3}\n") ==
        "smeard.yaml:7:58: reference.minsources: must be from 1 to the number of servers");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, unsynchronized: {local_stratum: 16}}\n") ==
        "smeard.yaml:7:59: reference.unsynchronized.local_stratum: '16' is not a whole number from 0 to 15");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, clock: monotonic}\n") ==
        "smeard.yaml:7:34: reference.clock: 'monotonic' is not one of: realtime, tai");
  for (const char* bad : {"", ":123", "[::1", "[::1]x", "host:", "host:99999", "-host", "ho st", "[nothost]:1"}) {
    CAPTURE(bad);
    CHECK_FALSE(config::parse_upstream_server(bad).has_value());
  }
}

TEST_CASE("nts: files, rotation, KE listeners handing clients to their timescale's port, limits") {
  const std::string ntp = "listeners:\n  - {address: \"0.0.0.0:1123\", timescale: smeared}\n"
                          "  - {address: \"0.0.0.0:123\", timescale: utc}\n"
                          "timescales:\n  smeared: {smear: google}\n  utc: {smear: none}\n";
  const std::string files = "nts:\n  certificate: /c.pem\n  private_key: /k.pem\n  cookie_key_file: /s.key\n";

  SUBCASE("defaults, and the port of the timescale's NTP listener when it is not 123") {
    const auto result = parse(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: smeared}\n"
                                            "    - {address: \"0.0.0.0:4461\", timescale: utc}\n");
    REQUIRE(result.config);
    REQUIRE(result.config->nts);
    const config::Nts& nts = *result.config->nts;
    CHECK(nts.certificate == "/c.pem");
    CHECK(nts.private_key == "/k.pem");
    CHECK(nts.cookie_key_file == "/s.key");
    CHECK(nts.cookie_key_file_location.line == 10);
    CHECK(nts.rotation == std::chrono::hours{24});
    CHECK(nts.max_connections == 256);
    CHECK(nts.handshake_timeout == std::chrono::seconds{5});
    CHECK(nts.rate_interval == std::chrono::seconds{1});
    CHECK(nts.rate_burst == 16);
    REQUIRE(nts.listeners.size() == 2);
    CHECK(nts.listeners[0].address.to_string() == "0.0.0.0:4460");
    CHECK(nts.listeners[0].timescale == "smeared");
    CHECK(nts.listeners[0].port == 1123);
    CHECK(nts.listeners[0].server.empty());
    CHECK_FALSE(nts.listeners[1].port);  // 123 is what the client assumes anyway
  }
  SUBCASE("everything set") {
    const auto result = parse(ntp + files + "  rotation: 3600\n  max_connections: 10\n  handshake_timeout: 2\n"
                                            "  ratelimit: {interval: 10, burst: 3}\n  listeners:\n"
                                            "    - {address: \"[::]:4460\", timescale: utc, server: ntp.example.net, "
                                            "port: 1123}\n");
    REQUIRE(result.config);
    const config::Nts& nts = *result.config->nts;
    CHECK(nts.rotation == std::chrono::hours{1});
    CHECK(nts.max_connections == 10);
    CHECK(nts.handshake_timeout == std::chrono::seconds{2});
    CHECK(nts.rate_interval == std::chrono::seconds{10});
    CHECK(nts.rate_burst == 3);
    CHECK(nts.listeners[0].server == "ntp.example.net");
    CHECK(nts.listeners[0].port == 1123);  // the operator's word, even if it serves another timescale
  }
  SUBCASE("without a server, the address a client reached NTS-KE at must serve the timescale") {
    const std::string specific = "listeners:\n  - {address: \"10.0.0.1:1123\", timescale: smeared}\n"
                                 "  - {address: \"10.0.0.2:1123\", timescale: utc}\n"
                                 "  - {address: \"0.0.0.0:123\", timescale: utc}\n"
                                 "timescales:\n  smeared: {smear: google}\n  utc: {smear: none}\n" + files + "  listeners:\n";
    const auto ke = [&](const std::string& item) { return specific + "    - " + item + "\n"; };
    // Each address leads to its own listener.
    const auto good = parse(ke("{address: \"10.0.0.1:4460\", timescale: smeared}") +
                            "    - {address: \"10.0.0.2:4460\", timescale: utc}\n");
    REQUIRE(good.config);
    CHECK(good.config->nts->listeners[0].port == 1123);
    CHECK(good.config->nts->listeners[1].port == 1123);
    // Port 123 at 10.0.0.1 is the wildcard's: utc.
    const auto to_123 = parse(ke("{address: \"10.0.0.1:4460\", timescale: utc}"));
    REQUIRE(to_123.config);
    CHECK_FALSE(to_123.config->nts->listeners[0].port);
    CHECK(only_problem(ke("{address: \"10.0.0.2:4460\", timescale: smeared}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "where no NTP listener of timescale 'smeared' answers; add one, or set server and port");
    CHECK(only_problem(ke("{address: \"0.0.0.0:4460\", timescale: smeared}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "where no NTP listener of timescale 'smeared' answers on every address; add one, or set server and port");
    CHECK(only_problem(ke("{address: \"0.0.0.0:4460\", timescale: utc, port: 1123}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients would ask for time at 10.0.0.1:1123 "
          "(listeners[0]), which serves 'smeared', not 'utc'; set server, or the port of a listener of 'utc'");
    CHECK(only_problem(ke("{address: \"10.0.0.1:4460\", timescale: smeared, port: 999}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "port 999, where no NTP listener answers; set server, or the port of a listener of timescale 'smeared'");
    CHECK(only_problem(ke("{address: \"[::]:4460\", timescale: utc}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "where no NTP listener of timescale 'utc' answers on every address; add one, or set server and port");
    // With a server, where its clients go is the operator's to say.
    CHECK(parse(ke("{address: \"10.0.0.2:4460\", timescale: smeared, server: ntp.example.net}")).config);
  }
  SUBCASE("errors") {
    const std::string ke = "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: smeared}\n";
    CHECK(only_problem(ntp + "nts:\n  certificate: /c.pem\n  private_key: /k.pem\n" + ke) ==
          "smeard.yaml:8:3: nts.cookie_key_file: required key is missing");
    CHECK(only_problem(ntp + files + "  cookie: x\n" + ke) ==
          "smeard.yaml:11:3: nts.cookie: unknown key (expected one of: certificate, private_key, cookie_key_file, "
          "rotation, listeners, max_connections, handshake_timeout, ratelimit)");
    CHECK(only_problem(ntp + files + "  rotation: 10\n" + ke) == "smeard.yaml:11:13: nts.rotation: must be at least 60 seconds");
    CHECK(only_problem(ntp + files + "  rotation: 1d\n" + ke) ==
          "smeard.yaml:11:13: nts.rotation: '1d' is not a whole number of seconds from 0 to 2592000");
    CHECK(only_problem(ntp + files + "  handshake_timeout: 0\n" + ke) ==
          "smeard.yaml:11:22: nts.handshake_timeout: must be from 1 to 60 seconds");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: tai}\n") ==
          "smeard.yaml:12:44: nts.listeners[0].timescale: no NTP listener serves a timescale named 'tai'");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"host:4460\", timescale: utc}\n") ==
          "smeard.yaml:12:17: nts.listeners[0].address: 'host:4460' is not a numeric address with a port, e.g. "
          "\"0.0.0.0:4460\" or \"[::]:4460\"");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: utc}\n"
                                     "    - {address: \"0.0.0.0:4460\", timescale: smeared}\n") ==
          "smeard.yaml:13:17: nts.listeners[1].address: 0.0.0.0:4460 is already used by nts.listeners[0]");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"127.0.0.1:9466\", timescale: utc}\n") ==
          "smeard.yaml:12:17: nts.listeners[0].address: 127.0.0.1:9466 is already used by metrics.listen");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: utc, server: "
                                     "\"ntp:123\"}\n") ==
          "smeard.yaml:12:57: nts.listeners[0].server: 'ntp:123' is not a host name or address without a port");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: utc, port: 0}\n") ==
          "smeard.yaml:12:55: nts.listeners[0].port: must be a port from 1 to 65535");
    CHECK(only_problem(ntp + files + "  listeners: []\n") ==
          "smeard.yaml:11:14: nts.listeners: at least one NTS-KE listener is needed");
    CHECK(only_problem(ntp + files + "  certificate: \"\"\n" + ke).ends_with("nts.certificate: key given twice"));
  }
}
