// ntpd-rs's ntp.toml, read with toml++.
#include <doctest/doctest.h>

#include "tests/unit/config/import/helpers.hpp"

using config::import::Format;
using import_test::accepted;
using import_test::contains;
using import_test::only_error;

TEST_CASE("ntpd-rs: sources, servers and synchronization") {
  std::string yaml;
  const auto config = accepted(R"([observability]
log-level = "info"

[[source]]
mode = "pool"
address = "ntpd-rs.pool.ntp.org"
count = 4

[[source]]
mode = "server"
address = "[2001:db8::1]:1123"

[[source]]
mode = "nts"
address = "nts.example.net:4461"
certificate-authority = "/etc/ssl/ca.pem"

[[source]]
mode = "sock"
path = "/run/ntpd-rs.sock"

[[server]]
listen = "[::]:123"
rate-limiting-cutoff-ms = 1000
allowlist = { filter = ["10.0.0.0/8"], action = "deny" }
denylist = { filter = ["10.66.0.0/16"], action = "ignore" }

[synchronization]
minimum-agreeing-sources = 2
local-stratum = 12
single-step-panic-threshold = 1800
)",
                               Format::ntpd_rs, &yaml);
  const auto& sources = config.reference.sources;
  REQUIRE(sources.size() == 2);
  const auto& servers = sources[0].servers;
  REQUIRE(servers.size() == 3);
  CHECK(servers[0].kind == config::UpstreamServer::Kind::pool);
  CHECK(servers[0].max_sources == 4);
  CHECK(servers[1].host == "2001:db8::1");
  CHECK(servers[1].port == 1123);
  CHECK(servers[2].nts);
  CHECK(servers[2].nts_port == 4461);
  CHECK(servers[2].nts_ca == "/etc/ssl/ca.pem");
  CHECK(sources[0].minsources == 2);
  CHECK(sources[1].type == config::ReferenceSource::Type::sock);
  CHECK(contains(yaml, "# in.conf:20: path = \"/run/ntpd-rs.sock\": carried over in the sock source of line 19"));
  CHECK(config.reference.local_stratum == 12);
  REQUIRE(config.listeners.size() == 1);
  CHECK(config.listeners[0].address.to_string() == "[::]:123");
  CHECK(config.ratelimit.enabled);
  CHECK(config.ratelimit.interval == 0);
  CHECK(config.ratelimit.burst == 1);
  REQUIRE(config.access.allow.size() == 1);
  CHECK(config.access.allow[0].text == "10.0.0.0/8");
  CHECK(config.access.deny[0].text == "10.66.0.0/16");
  CHECK(contains(yaml,
                 "        # in.conf:5: mode = \"pool\"\n        # in.conf:7: count = 4\n"
                 "        - {pool: \"ntpd-rs.pool.ntp.org\", max_sources: 4}   # in.conf:6: address = "
                 "\"ntpd-rs.pool.ntp.org\"\n"));
  CHECK(contains(yaml, "# in.conf:2: log-level = \"info\": no equivalent: smeard logs"));
  CHECK(contains(yaml, "# in.conf:31: single-step-panic-threshold = 1800: no equivalent: smeard never steps"));
}

TEST_CASE("ntpd-rs: the default minimum-agreeing-sources and no [[server]] are said in the header") {
  std::string yaml;
  accepted("[[source]]\nmode = \"server\"\naddress = \"a.example.net\"\n", Format::ntpd_rs, &yaml);
  CHECK(contains(yaml, "# ntpd-rs needs 3 sources to agree"));
  CHECK(contains(yaml, "# ntpd-rs served no clients"));
}

TEST_CASE("ntpd-rs: other sections are listed with their reasons") {
  std::string yaml;
  accepted(R"([[nts-ke-server]]
listen = "0.0.0.0:4460"

[keyset]
key-rotation-interval = 86400

[synchronization.algorithm]
step-threshold = 0.01

[wibble]
x = 1
)",
           Format::ntpd_rs, &yaml);
  CHECK(contains(yaml, "# in.conf:2: listen = \"0.0.0.0:4460\": no direct equivalent: smeard's NTS-KE server"));
  CHECK(contains(yaml, "# in.conf:5: key-rotation-interval = 86400: no direct equivalent"));
  CHECK(contains(yaml, "# in.conf:8: step-threshold = 0.01: no equivalent: smeard's filter"));
  CHECK(contains(yaml, "# in.conf:11: x = 1: not a section smearctl import knows"));
}

TEST_CASE("ntpd-rs: malformed files name their line and key") {
  CHECK(only_error("[[source]]\nmode = \n", Format::ntpd_rs).starts_with("in.conf:2: toml: "));
  for (const char* header : {"[&", "[[[a]]]", "[[=", "[a.]", "[a. &]", "  [\x7f]"}) {
    CHECK(only_error("x = 1\n" + std::string{header} + "\n", Format::ntpd_rs) ==
          "in.conf:2: toml: a table header names a table: [name] or [[name]]");
  }
  // Brackets in a value over several lines are not table headers.
  CHECK(only_error("x = [\n[&\n", Format::ntpd_rs).starts_with("in.conf:2: toml: "));
  const auto config = accepted("[server.x]\n\"a b\" = [\n  [1, 2],\n]\n", Format::ntpd_rs);
  CHECK(only_error("[[source]]\naddress = \"a\"\n", Format::ntpd_rs) ==
        "in.conf:1: source.mode: needs mode = \"server\", \"pool\", \"nts\", \"sock\" or \"pps\"");
  CHECK(only_error("[[source]]\nmode = \"broadcast\"\naddress = \"a\"\n", Format::ntpd_rs) ==
        "in.conf:2: source.mode: unknown mode 'broadcast' (server, pool, nts, sock or pps)");
  CHECK(only_error("[[source]]\nmode = \"server\"\n", Format::ntpd_rs) ==
        "in.conf:1: source.address: needs address = \"HOST[:PORT]\"");
  CHECK(only_error("[[source]]\nmode = \"pool\"\naddress = \"p\"\ncount = 40\n", Format::ntpd_rs) ==
        "in.conf:4: source.count: must be from 1 to 16");
  CHECK(only_error("[[source]]\nmode = \"server\"\naddress = \"a:0\"\n", Format::ntpd_rs) ==
        "in.conf:3: source.address: 'a:0' is not HOST, HOST:PORT or [IPv6]:PORT");
  CHECK(only_error("[[server]]\nallowlist = { filter = [\"10.0.0.1/33\"] }\n", Format::ntpd_rs) ==
        "in.conf:2: server.allowlist.filter: must be subnets such as \"10.0.0.0/8\"");
  CHECK(only_error("[synchronization]\nlocal-stratum = 0\n", Format::ntpd_rs) ==
        "in.conf:2: synchronization.local-stratum: must be from 1 to 16");
}
