// The file as a whole: the embedded default, top-level keys, how problems are reported, addresses.
#include <doctest/doctest.h>

#include <string>

#include "tests/unit/config/helpers.hpp"

using config_test::kListener;
using config_test::kTimescales;
using config_test::only_problem;
using config_test::parse;

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
  CHECK(c.reference.sources[0].refid == "LOCL");
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
  CHECK(parse(base).config->metrics.allow.empty());
  CHECK(parse(base).config->metrics.max_connections_per_address == 4);
  const auto guarded = parse(base + "metrics: {allow: [\"127.0.0.1/32\", \"::1\"], max_connections_per_address: 2}\n");
  REQUIRE(guarded.config);
  REQUIRE(guarded.config->metrics.allow.size() == 2);
  CHECK(guarded.config->metrics.allow[0].text == "127.0.0.1/32");
  CHECK(guarded.config->metrics.allow[1].prefix_length == 128);
  CHECK(guarded.config->metrics.allow[0].location.column == 19);
  CHECK(guarded.config->metrics.max_connections_per_address == 2);
  CHECK(only_problem(base + "metrics: {allow: []}\n") ==
        "smeard.yaml:7:18: metrics.allow: an empty list would let nobody connect; leave allow out to let everyone");
  CHECK(only_problem(base + "metrics: {allow: [10.0.0.0/33]}\n") ==
        "smeard.yaml:7:19: metrics.allow[0]: '10.0.0.0/33' is not a network such as 10.0.0.0/8 or 2001:db8::/32");
  CHECK(only_problem(base + "metrics: {max_connections_per_address: 0}\n") ==
        "smeard.yaml:7:40: metrics.max_connections_per_address: must be from 1 to 32, the endpoint's sessions in all");
  CHECK(only_problem(base + "metrics: {max_connections_per_address: 33}\n") ==
        "smeard.yaml:7:40: metrics.max_connections_per_address: '33' is not a whole number from 0 to 32");
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
  CHECK(c.reference.sources[0].refid == "GPS");
  CHECK(c.workers == 3);
  CHECK(c.leapdb.files == std::vector<std::string>{"/a/leap-seconds.list", "/b/right/UTC"});
  CHECK(c.leapdb.allow_unhashed);
  CHECK(c.leapdb.expiry_warning_days == 14);
}

TEST_CASE("errors name file, line, column and key") {
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "colour: blue\n") ==
        "smeard.yaml:7:1: colour: unknown key (expected one of: listeners, timescales, reference, workers, leapdb, "
        "clients, client_policy, metrics, log_format, access, ratelimit, keys, user, group, seccomp, interleaved, nts, "
        "hardware_timestamps)");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n    port: 5\n" + kTimescales) ==
        "smeard.yaml:4:5: listeners[0].port: unknown key (expected one of: address, timescale, xdp)");
  CHECK(only_problem("listeners: 5\n" + kTimescales) ==
        "smeard.yaml:1:12: listeners: expected a list, found a scalar");
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
                     "workers: lots\n") ==
        "smeard.yaml:7:10: workers: 'lots' is not 'auto' or a thread count from 1 to 1024");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "reference: {type: system, refid: TOOLONG}\n") ==
        "smeard.yaml:7:34: reference.refid: 'TOOLONG' must be 1 to 4 printable ASCII characters, e.g. GPS");
  CHECK(only_problem("listeners:\n  - address: \"127.0.0.1:123\"\n    timescale: utc\n" + kTimescales +
                     "reference: {type: gps}\n") ==
        "smeard.yaml:7:19: reference.type: unknown reference type 'gps' (expected: system, phc, shm, sock, upstream, "
        "simulated)");
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
                     "timescale: utc}\n" +
                     kTimescales) ==
        "smeard.yaml:3:15: listeners[1].address: 127.0.0.1:123 is already used by listeners[0]");
}

TEST_CASE("keys count every item in the file, even ones that were not listeners") {
  const auto result = parse(
      "listeners:\n  - \"127.0.0.1:1230\"\n  - {address: \"127.0.0.1:1231\", timescale: tai}\n  - {address: "
      "\"127.0.0.1:1231\", timescale: utc}\n" +
      kTimescales);
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
  CHECK(only_problem("") ==
        "smeard.yaml: expected a mapping with at least 'listeners' and 'timescales', found nothing");
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

TEST_CASE("listeners[].xdp: an interface, how to attach, and one listener per interface") {
  const std::string listeners = "listeners:\n  - address: \"10.0.0.1:123\"\n    timescale: utc\n    xdp:\n";
  const auto full = parse(kTimescales + listeners +
                          "      interface: eth0\n      mode: generic\n      zero_copy: off\n      busy_poll: true\n");
  REQUIRE(full.config.has_value());
  const auto& xdp = full.config->listeners[0].xdp;
  REQUIRE(xdp.has_value());
  CHECK(xdp->interface == "eth0");
  CHECK(xdp->mode == config::Xdp::Mode::generic);
  CHECK(xdp->zero_copy == config::Xdp::ZeroCopy::off);
  CHECK(xdp->busy_poll);
  CHECK(xdp->location.line == 8);

  const auto defaults = parse(kTimescales + listeners + "      interface: eth0\n");
  REQUIRE(defaults.config.has_value());
  CHECK(defaults.config->listeners[0].xdp->mode == config::Xdp::Mode::automatic);
  CHECK(defaults.config->listeners[0].xdp->zero_copy == config::Xdp::ZeroCopy::automatic);
  CHECK_FALSE(defaults.config->listeners[0].xdp->busy_poll);
  CHECK_FALSE(parse(kTimescales + kListener).config->listeners[0].xdp.has_value());

  CHECK(only_problem(kTimescales + listeners + "      mode: native\n") ==
        "smeard.yaml:8:7: listeners[0].xdp.interface: required key is missing");
  CHECK(only_problem(kTimescales + listeners + "      interface: eth0\n      mode: fast\n") ==
        "smeard.yaml:9:13: listeners[0].xdp.mode: 'fast' is not auto, native (in the driver) or generic (after the "
        "driver, slower)");
  CHECK(only_problem(kTimescales + listeners + "      interface: \"a/b\"\n") ==
        "smeard.yaml:8:18: listeners[0].xdp.interface: 'a/b' is not an interface name (1 to 15 characters, no '/', "
        "':' or white space)");
  CHECK(only_problem(kTimescales + listeners + "      interface: eth0\n      mode: generic\n      zero_copy: on\n") ==
        "smeard.yaml:10:18: listeners[0].xdp.zero_copy: zero-copy needs the driver's XDP: use mode: native or auto");
  CHECK(only_problem(kTimescales + listeners + "      interface: eth0\n      queue: 1\n") ==
        "smeard.yaml:9:7: listeners[0].xdp.queue: unknown key (expected one of: interface, mode, zero_copy, busy_poll)");
  CHECK(only_problem(kTimescales + listeners + "      interface: eth0\n" +
                     "  - address: \"[fd00::1]:123\"\n    timescale: utc\n    xdp: {interface: eth0}\n") ==
        "smeard.yaml:11:22: listeners[1].xdp.interface: 'eth0' already serves listeners[0] through AF_XDP; an "
        "interface takes one XDP listener");
}

TEST_CASE("listeners[].xdp needs a specific address") {
  CHECK(only_problem(kTimescales + "listeners:\n  - address: \"0.0.0.0:123\"\n    timescale: utc\n" +
                     "    xdp: {interface: eth0}\n") ==
        "smeard.yaml:7:10: listeners[0].xdp: needs a listener with a specific address: on a wildcard the program "
        "would also take NTP requests routed through this host to others");
}
