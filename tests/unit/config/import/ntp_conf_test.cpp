// ntp.conf (ntpd and NTPsec): servers, reference clocks, restrict, discard, tos, the leap smear.
#include <doctest/doctest.h>

#include "tests/unit/config/import/helpers.hpp"

using config::import::Format;
using import_test::accepted;
using import_test::contains;
using import_test::only_error;

namespace {

std::string accepted_yaml(std::string_view text, std::string_view file) {
  std::string yaml;
  accepted(text, Format::ntpd, &yaml, file);
  return yaml;
}

}  // namespace

TEST_CASE("ntpd: servers, pools, keys, NTS") {
  std::string yaml;
  const auto config = accepted(R"(server 0.pool.ntp.org iburst
server -4 192.0.2.10 key 5 prefer
pool 2.debian.pool.ntp.org iburst   # comment
server time.cloudflare.com nts ca /etc/ssl/certs/ca-certificates.crt
server 192.0.2.11 port 1123
keys /etc/ntpsec/ntp.keys
)",
                               Format::ntpd, &yaml);
  const auto& servers = config.reference.sources.at(0).servers;
  REQUIRE(servers.size() == 5);
  CHECK(servers[1].key_id == 5u);
  CHECK(servers[2].kind == config::UpstreamServer::Kind::pool);
  CHECK(servers[3].nts);
  CHECK(servers[3].nts_ca == "/etc/ssl/certs/ca-certificates.crt");
  CHECK(servers[4].port == 1123);
  CHECK(contains(yaml, "# in.conf:3: pool 2.debian.pool.ntp.org iburst\n"));
  CHECK(contains(yaml, "# in.conf:2: server -4 192.0.2.10 key 5 prefer: option prefer: no per-server equivalent"));
  CHECK(contains(yaml, "(NTPsec)"));                                                             // told by its NTS
  CHECK(contains(accepted_yaml("server a.example.net\n", "/etc/ntpsec/ntp.conf"), "(NTPsec)"));  // or its path
  CHECK(contains(accepted_yaml("server a.example.net\n", "/etc/ntp.conf"), "(ntpd)"));
}

TEST_CASE("ntpd: reference clocks as 127.127 addresses and NTPsec's refclock") {
  std::string yaml;
  const auto config = accepted(R"(server 127.127.28.0 prefer
server 127.127.1.0
fudge 127.127.1.0 stratum 10
server 127.127.20.0
refclock shm unit 1 prefer refid PPS
refclock gpsd unit 0
)",
                               Format::ntpd, &yaml);
  const auto& sources = config.reference.sources;
  REQUIRE(sources.size() == 2);
  CHECK(sources[0].type == config::ReferenceSource::Type::shm);
  CHECK(sources[0].unit == 0);
  CHECK(sources[1].unit == 1);
  CHECK(sources[1].prefer);
  CHECK(sources[1].refid == "PPS");
  CHECK(config.reference.local_stratum == 10);
  CHECK(contains(yaml, "# in.conf:1: server 127.127.28.0 prefer: its options: no equivalent"));
  CHECK(contains(yaml,
                 "# in.conf:4: server 127.127.20.0: no equivalent: smeard reads PHC, SHM and SOCK reference "
                 "clocks, not ntpd's driver 20"));
  CHECK(contains(yaml, "# in.conf:6: refclock gpsd unit 0: no equivalent"));
}

TEST_CASE("ntpd: restrict default kod limited serves everyone, rate limited") {
  std::string yaml;
  const auto config = accepted(R"(restrict default kod nomodify nopeer noquery limited
restrict 127.0.0.1
restrict ::1
restrict 192.0.2.66 noserve
discard average 5 minimum 2
)",
                               Format::ntpd, &yaml);
  CHECK(config.access.allow.empty());
  REQUIRE(config.access.deny.size() == 1);
  CHECK(config.access.deny[0].text == "192.0.2.66");
  CHECK(config.access.denied == config::Access::Denied::drop);
  CHECK(config.ratelimit.enabled);
  CHECK(config.ratelimit.interval == 5);
  CHECK(contains(yaml,
                 "ratelimit:   # in.conf:1: restrict default kod nomodify nopeer noquery limited\n"
                 "  interval: 5   # in.conf:5: discard average 5 minimum 2\n"));
  CHECK(contains(yaml,
                 "# in.conf:1: restrict default kod nomodify nopeer noquery limited: nomodify nopeer noquery: "
                 "not needed: smeard answers no ntpq"));
  CHECK(contains(yaml, "# in.conf:2: restrict 127.0.0.1: not needed: smeard serves these clients"));
  CHECK(contains(yaml, "# in.conf:5: discard average 5 minimum 2: option minimum 2: no equivalent"));
}

TEST_CASE("ntpd: restrict default ignore serves only the networks restricted less") {
  const auto config = accepted(R"(restrict default ignore
restrict 192.168.1.0 mask 255.255.255.0 nomodify notrap
restrict 2001:db8:: mask ffff:ffff:: nomodify
restrict 192.168.1.66 ignore
)",
                               Format::ntpd);
  REQUIRE(config.access.allow.size() == 2);
  CHECK(config.access.allow[0].text == "192.168.1.0/24");
  CHECK(config.access.allow[1].text == "2001:db8::/32");
  REQUIRE(config.access.deny.size() == 1);
  CHECK(config.access.deny[0].text == "192.168.1.66");
  CHECK(config.access.denied == config::Access::Denied::drop);
}

TEST_CASE("ntpd: a default ignored for one family leaves the other whole") {
  const auto config = accepted("restrict -6 default ignore\nrestrict 2001:db8:: mask ffff:ffff::\n", Format::ntpd);
  REQUIRE(config.access.allow.size() == 2);
  CHECK(config.access.allow[0].text == "0.0.0.0/0");
  CHECK(config.access.allow[1].text == "2001:db8::/32");
}

TEST_CASE("ntpd: a default ignored with no network allowed serves nobody of that family") {
  const auto nobody = accepted("restrict default ignore\nserver 192.0.2.1\n", Format::ntpd);
  CHECK(nobody.access.allow.empty());
  REQUIRE(nobody.access.deny.size() == 2);
  CHECK(nobody.access.deny[0].text == "0.0.0.0/0");
  CHECK(nobody.access.deny[1].text == "::/0");
  CHECK(nobody.access.denied == config::Access::Denied::drop);
  const auto ipv4_only = accepted("restrict default ignore\nrestrict 10.0.0.0 mask 255.0.0.0\n", Format::ntpd);
  REQUIRE(ipv4_only.access.allow.size() == 1);
  CHECK(ipv4_only.access.allow[0].text == "10.0.0.0/8");
  REQUIRE(ipv4_only.access.deny.size() == 1);
  CHECK(ipv4_only.access.deny[0].text == "::/0");
}

TEST_CASE("ntpd: the local clock's fudge stratum, wherever it is among the fudge options") {
  const auto config = accepted("fudge 127.127.1.0 refid LOCL stratum 10\nserver 127.127.1.0\n", Format::ntpd);
  CHECK(config.reference.local_stratum == 10);
}

TEST_CASE("ntpd: discard without limited is not needed") {
  std::string yaml;
  const auto config = accepted("discard average 4\n", Format::ntpd, &yaml);
  CHECK_FALSE(config.ratelimit.enabled);
  CHECK(contains(yaml, "# in.conf:1: discard average 4: not needed: no restrict line here says limited"));
}

TEST_CASE("ntpd: tos orphan and minsane") {
  std::string yaml;
  const auto config = accepted("pool pool.ntp.org\ntos minclock 4 minsane 3 orphan 10\n", Format::ntpd, &yaml);
  CHECK(config.reference.local_stratum == 10);
  CHECK(config.reference.sources[0].minsources == 3);
  CHECK(contains(yaml, "# in.conf:2: tos minclock 4 minsane 3 orphan 10: option minclock 4: no equivalent"));
}

TEST_CASE("ntpd: leapsmearinterval is ntpd's cosine, or NTPsec's linear in a file using NTS") {
  std::string yaml;
  auto config = accepted("leapsmearinterval 86400\n", Format::ntpd, &yaml);
  REQUIRE(config.timescales.contains("ntpd"));
  CHECK(config.timescales.at("ntpd").profile.name == "ntpd");
  CHECK(config.timescales.at("ntpd").refid == config::RefidConvention::ntpd);
  CHECK(contains(yaml, "read as ntpd's smear (cosine"));

  config = accepted("server a.example.net nts\nleapsmearinterval 86400\n", Format::ntpd);
  REQUIRE(config.timescales.contains("ntpsec"));
  CHECK(config.timescales.at("ntpsec").profile.name == "ntpsec");

  config = accepted("leapsmearinterval 3600\n", Format::ntpd);
  const smear::Profile& profile = config.timescales.at("ntpd").profile;
  CHECK(profile.shape == smear::Shape::cosine);
  CHECK(profile.anchor == smear::Anchor::end);
  CHECK(profile.window == std::chrono::seconds{3600});
}

TEST_CASE("ntpd: keys, driftfile, leapfile, interface listen") {
  std::string yaml;
  const auto config = accepted(R"(keys /etc/ntpsec/ntp.keys
trustedkey 1 2
driftfile /var/lib/ntpsec/ntp.drift
leapfile /usr/share/zoneinfo/leap-seconds.list
server a.example.net
interface listen 192.0.2.7
interface ignore wildcard
)",
                               Format::ntpd, &yaml);
  CHECK(config.keys == "/etc/ntpsec/ntp.keys");
  CHECK(contains(yaml, "# keys: ntpd's keys file is \"ID TYPE KEY\""));
  CHECK(contains(yaml, "# in.conf:2: trustedkey 1 2: not needed"));
  CHECK(config.reference.sources[0].drift_file == "/var/lib/smeard/drift");
  CHECK(config.leapdb.files == std::vector<std::string>{"/usr/share/zoneinfo/leap-seconds.list"});
  REQUIRE(config.listeners.size() == 1);
  CHECK(config.listeners[0].address.to_string() == "192.0.2.7:123");
  CHECK(contains(yaml, "# in.conf:7: interface ignore wildcard: no equivalent"));
}

TEST_CASE("ntpd: every command without an equivalent is listed with its reason") {
  std::string yaml;
  accepted(R"(statsdir /var/log/ntpsec/
statistics loopstats peerstats clockstats
filegen loopstats file loopstats type day enable
tinker panic 0
includefile use-pool
nts enable
disable monitor
bogus 1
)",
           Format::ntpd, &yaml);
  CHECK(contains(yaml, "# in.conf:1: statsdir /var/log/ntpsec/: no equivalent: smeard logs"));
  CHECK(contains(yaml, "# in.conf:3: filegen loopstats file loopstats type day enable: no equivalent"));
  CHECK(contains(yaml, "# in.conf:4: tinker panic 0: no equivalent: smeard never steps"));
  CHECK(contains(yaml, "# in.conf:5: includefile use-pool: not followed"));
  CHECK(contains(yaml, "# in.conf:6: nts enable: no direct equivalent: smeard's NTS-KE server"));
  CHECK(contains(yaml, "# in.conf:8: bogus 1: not a command smearctl import knows"));
}

TEST_CASE("ntpd: malformed lines name their line and command") {
  CHECK(only_error("server\n", Format::ntpd) == "in.conf:1: server: needs a host name or address");
  CHECK(only_error("server a key 70000\n", Format::ntpd) ==
        "in.conf:1: server: option key needs a key number from 1 to 65535");
  CHECK(only_error("server a wibble\n", Format::ntpd) == "in.conf:1: server: unknown option 'wibble'");
  CHECK(only_error("server a nts ca certs\n", Format::ntpd) == "in.conf:1: server: option ca needs an absolute path");
  CHECK(only_error("server 127.127.x\n", Format::ntpd) == "in.conf:1: server: '127.127.x' is not 127.127.TYPE.UNIT");
  CHECK(only_error("\n\nrestrict 10.0.0.0 mask 255.0.255.0\n", Format::ntpd) ==
        "in.conf:3: restrict: mask needs a network mask such as 255.255.255.0");
  CHECK(only_error("restrict default frobnicate\n", Format::ntpd) == "in.conf:1: restrict: unknown flag 'frobnicate'");
  CHECK(only_error("restrict 10.0.0.300\n", Format::ntpd) == "in.conf:1: restrict: '10.0.0.300' is not an address");
  CHECK(only_error("tos orphan\n", Format::ntpd) == "in.conf:1: tos: option orphan needs a value");
  CHECK(only_error("leapsmearinterval 30\n", Format::ntpd) ==
        "in.conf:1: leapsmearinterval: smeard smears over 60 seconds at least");
  CHECK(only_error("discard average x\n", Format::ntpd) == "in.conf:1: discard: option average needs a number");
  CHECK(only_error("keys\n", Format::ntpd) == "in.conf:1: keys: needs a path");
}
