// Who is served and how: access, clients, ratelimit, client_policy, keys and the account.
#include <doctest/doctest.h>

#include <string>

#include "tests/unit/config/helpers.hpp"

using config_test::kListener;
using config_test::kTimescales;
using config_test::only_problem;
using config_test::parse;

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
  CHECK(only_problem(kListener + kTimescales +
                     "clients:\n  - {networks: [10.0.0.0/8], timescale: utc, key_required: true}\n") ==
        "smeard.yaml:8:60: clients[0].key_required: needs a keys file (keys: PATH)");
  CHECK(only_problem(kListener + kTimescales + "user: \"-x\"\n") ==
        "smeard.yaml:7:7: user: '-x' is not a user or group name");
  CHECK(only_problem(kListener + kTimescales + "keys: \"\"\n") == "smeard.yaml:7:7: keys: a keys file needs a path");
}
