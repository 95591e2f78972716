// chrony.conf: each directive smeard has an equivalent for lands where smeard reads it; the
// others are listed with their line and the reason.
#include <doctest/doctest.h>

#include "tests/unit/config/import/helpers.hpp"

using config::import::Format;
using import_test::accepted;
using import_test::contains;
using import_test::only_error;

namespace {

const config::ReferenceSource& upstream(const config::Config& config) {
  for (const auto& source : config.reference.sources) {
    if (source.type == config::ReferenceSource::Type::upstream) return source;
  }
  FAIL("no upstream source");
  return config.reference.sources.front();
}

}  // namespace

TEST_CASE("chrony: servers and pools with their options") {
  std::string yaml;
  const auto config = accepted(R"(server ntp1.example.net iburst nts ntsport 4461
server 192.0.2.1 port 11123 key 7 minpoll 4
pool pool.example.net maxsources 3
pool 2.debian.pool.ntp.org iburst
server 2001:db8::1
minsources 2
keyfile /etc/chrony/chrony.keys
)",
                               Format::chrony, &yaml);
  const auto& servers = upstream(config).servers;
  REQUIRE(servers.size() == 5);
  CHECK(servers[0].host == "ntp1.example.net");
  CHECK(servers[0].nts);
  CHECK(servers[0].nts_port == 4461);
  CHECK(servers[1].host == "192.0.2.1");
  CHECK(servers[1].port == 11123);
  CHECK(servers[1].key_id == 7u);
  CHECK(servers[2].kind == config::UpstreamServer::Kind::pool);
  CHECK(servers[2].max_sources == 3);
  CHECK(servers[3].max_sources == 4);  // chrony's default
  CHECK(upstream(config).minsources == 2);
  CHECK(contains(yaml, "# in.conf:1: server ntp1.example.net iburst nts ntsport 4461\n"));
  CHECK(contains(yaml, "# in.conf:1: server ntp1.example.net iburst nts ntsport 4461: option iburst: no equivalent"));
  CHECK(contains(yaml,
                 "# in.conf:2: server 192.0.2.1 port 11123 key 7 minpoll 4: option minpoll 4: no per-server "
                 "equivalent"));
}

TEST_CASE("chrony: a key without a keys file is left out") {
  std::string yaml;
  const auto config = accepted("server a.example.net key 3\n", Format::chrony, &yaml);
  CHECK_FALSE(upstream(config).servers[0].key_id);
  CHECK(contains(yaml, "# in.conf:1: server a.example.net key 3: option key 3: left out: there is no keys file"));
}

TEST_CASE("chrony: key and nts together keep NTS, saying so") {
  std::string yaml;
  const auto config = accepted("server a.example.net nts key 3\n", Format::chrony, &yaml);
  CHECK(upstream(config).servers[0].nts);
  CHECK_FALSE(upstream(config).servers[0].key_id);
  CHECK(contains(yaml, "option key: left out: NTS authenticates by itself"));
}

TEST_CASE("chrony: the same server twice is polled once") {
  std::string yaml;
  const auto config = accepted("server a.example.net\nserver a.example.net iburst\n", Format::chrony, &yaml);
  CHECK(upstream(config).servers.size() == 1);
  CHECK(contains(yaml, "# in.conf:2: server a.example.net iburst: no equivalent: the same server"));
}

TEST_CASE("chrony: minsources above the servers configured is left out") {
  std::string yaml;
  const auto config = accepted("server a.example.net\nminsources 3\n", Format::chrony, &yaml);
  CHECK(upstream(config).minsources == 1);
  CHECK(contains(yaml, "# in.conf:2: minsources 3: left out: more servers must agree than are configured (1"));
}

TEST_CASE("chrony: reference clocks become sources beside the servers") {
  std::string yaml;
  const auto config = accepted(R"(server a.example.net
refclock PHC /dev/ptp0 poll 0 tai
refclock PHC /dev/ptp1 refid PTP1 prefer
refclock SHM 0 refid GPS noselect
refclock SOCK /run/chrony.ttyS0.sock
refclock PPS /dev/pps0
)",
                               Format::chrony, &yaml);
  const auto& sources = config.reference.sources;
  REQUIRE(sources.size() == 5);
  CHECK(sources[1].type == config::ReferenceSource::Type::phc);
  CHECK(sources[1].device == "/dev/ptp0");
  CHECK(sources[1].timescale == config::ReferenceSource::Timescale::tai);
  CHECK(sources[2].timescale == config::ReferenceSource::Timescale::utc);  // chronyd's default for a PHC
  CHECK(sources[2].refid == "PTP1");
  CHECK(sources[2].prefer);
  CHECK(sources[3].type == config::ReferenceSource::Type::shm);
  CHECK(sources[3].unit == 0);
  CHECK(sources[3].noselect);
  CHECK(sources[4].type == config::ReferenceSource::Type::sock);
  CHECK(sources[4].path == "/run/chrony.ttyS0.sock");
  CHECK(contains(yaml, "# in.conf:2: refclock PHC /dev/ptp0 poll 0 tai: option poll 0: no equivalent"));
  CHECK(contains(yaml, "# in.conf:6: refclock PPS /dev/pps0: no equivalent: smeard reads PHC, SHM and SOCK"));
}

TEST_CASE("chrony: no servers, the system clock") {
  std::string yaml;
  const auto config = accepted("driftfile /var/lib/chrony/drift\nminsources 2\n", Format::chrony, &yaml);
  REQUIRE(config.reference.sources.size() == 1);
  CHECK(config.reference.sources[0].type == config::ReferenceSource::Type::system);
  CHECK(contains(yaml, "# in.conf:1: driftfile /var/lib/chrony/drift: no equivalent: there are no servers to poll"));
  CHECK(contains(yaml, "# in.conf:2: minsources 2: no equivalent: there are no servers to agree"));
}

TEST_CASE("chrony: state files move to smeard's directory") {
  std::string yaml;
  const auto config =
      accepted("server a.example.net nts\ndriftfile /var/lib/chrony/chrony.drift\nntsdumpdir /var/lib/chrony\n",
               Format::chrony, &yaml);
  CHECK(upstream(config).drift_file == "/var/lib/smeard/drift");
  CHECK(upstream(config).nts_dump_dir == "/var/lib/smeard");
  CHECK(contains(yaml, "drift_file: \"/var/lib/smeard/drift\"   # in.conf:2: driftfile /var/lib/chrony/chrony.drift"));
}

TEST_CASE("chrony: an NTS dump directory without NTS servers is not needed") {
  std::string yaml;
  const auto config = accepted("server a.example.net\nntsdumpdir /var/lib/chrony\n", Format::chrony, &yaml);
  CHECK_FALSE(upstream(config).nts_dump_dir);
  CHECK(contains(yaml, "# in.conf:2: ntsdumpdir /var/lib/chrony: not needed: no server here uses NTS"));
}

TEST_CASE("chrony: allow and deny, chrony's short networks included") {
  std::string yaml;
  const auto config = accepted(R"(allow 192.168/16
allow 10/8
allow 172.16.1
allow 2001:db8::/32
allow 192.0.2.7
deny 192.168.100/24
deny 10.1.2.3/8
)",
                               Format::chrony, &yaml);
  REQUIRE(config.access.allow.size() == 5);
  CHECK(config.access.allow[0].text == "192.168.0.0/16");
  CHECK(config.access.allow[1].text == "10.0.0.0/8");
  CHECK(config.access.allow[2].text == "172.16.1.0/24");
  CHECK(config.access.allow[3].text == "2001:db8::/32");
  CHECK(config.access.allow[4].text == "192.0.2.7");
  REQUIRE(config.access.deny.size() == 2);
  CHECK(config.access.deny[0].text == "192.168.100.0/24");
  CHECK(config.access.deny[1].text == "10.0.0.0/8");  // chrony clears the host bits too
  CHECK(contains(yaml, "smeard checks deny first"));
}

TEST_CASE("chrony: allow all, and deny all") {
  auto config = accepted("allow\n", Format::chrony);
  REQUIRE(config.access.allow.size() == 2);
  CHECK(config.access.allow[0].text == "0.0.0.0/0");
  CHECK(config.access.allow[1].text == "::/0");
  config = accepted("allow all 10/8\ndeny all\n", Format::chrony);
  REQUIRE(config.access.allow.size() == 1);
  CHECK(config.access.deny.size() == 2);
}

TEST_CASE("chrony: without allow, chronyd served nobody, which the header says") {
  std::string yaml;
  const auto config = accepted("server a.example.net\n", Format::chrony, &yaml);
  CHECK(config.access.allow.empty());
  CHECK(contains(yaml, "# chronyd served NTP clients only from networks named by allow"));
}

TEST_CASE("chrony: an allowed host name is left for the operator") {
  std::string yaml;
  const auto config = accepted("allow ntp.example.net\n", Format::chrony, &yaml);
  CHECK(config.access.allow.empty());
  CHECK(contains(yaml, "# in.conf:1: allow ntp.example.net: not carried over: a host name"));
}

TEST_CASE("chrony: ratelimit") {
  std::string yaml;
  auto config = accepted("ratelimit interval 1 burst 16 leak 3\n", Format::chrony, &yaml);
  CHECK(config.ratelimit.enabled);
  CHECK(config.ratelimit.interval == 1);
  CHECK(config.ratelimit.burst == 16);
  CHECK(config.ratelimit.leak == 3);
  config = accepted("ratelimit\n", Format::chrony);
  CHECK(config.ratelimit.enabled);
  CHECK(config.ratelimit.interval == 3);
  config = accepted("ratelimit interval -6 kod 2\n", Format::chrony, &yaml);
  CHECK(config.ratelimit.interval == -4);
  CHECK(contains(yaml, "interval -6: smeard's shortest is -4"));
  CHECK(contains(yaml, "option kod 2: smeard sends at most one KoD RATE per interval"));
}

TEST_CASE("chrony: local stratum") {
  std::string yaml;
  auto config = accepted("server a.example.net\nlocal stratum 8 orphan distance 0.1\n", Format::chrony, &yaml);
  CHECK(config.reference.local_stratum == 8);
  CHECK(contains(yaml, "unsynchronized: {local_stratum: 8}   # in.conf:2: local stratum 8 orphan distance 0.1"));
  CHECK(contains(yaml, "option orphan: no equivalent"));
  CHECK(contains(yaml, "option distance 0.1: no equivalent"));
  config = accepted("local\n", Format::chrony);
  CHECK(config.reference.local_stratum == 10);  // chronyd's default
}

TEST_CASE("chrony: smoothtime leaponly is the chrony preset, other wanders a quadratic of their own") {
  std::string yaml;
  auto config = accepted("smoothtime 400 0.001024 leaponly\nleapsecmode slew\n", Format::chrony, &yaml);
  REQUIRE(config.timescales.contains("chrony"));
  CHECK(config.timescales.at("chrony").profile.name == "chrony");
  CHECK(config.timescales.at("chrony").refid == config::RefidConvention::chrony);
  CHECK(config.listeners[0].timescale == "chrony");
  CHECK(contains(yaml, "# in.conf:2: leapsecmode slew: no equivalent: smeard never touches the system clock"));

  config = accepted("smoothtime 400 0.001\n", Format::chrony, &yaml);
  REQUIRE(config.timescales.contains("smoothed"));
  const smear::Profile& profile = config.timescales.at("smoothed").profile;
  CHECK(profile.shape == smear::Shape::quadratic);
  CHECK(profile.wander_ppm_per_s == doctest::Approx(0.001));
  CHECK(contains(yaml, "without leaponly: smeard smooths only leap seconds"));
}

TEST_CASE("chrony: no smoothtime, true UTC") {
  const auto config = accepted("server a.example.net\n", Format::chrony);
  REQUIRE(config.timescales.contains("utc"));
  CHECK(config.timescales.at("utc").profile.shape == smear::Shape::none);
}

TEST_CASE("chrony: leap files") {
  auto config = accepted("leapsectz right/UTC\n", Format::chrony);
  CHECK(config.leapdb.files ==
        std::vector<std::string>{"/usr/share/zoneinfo/right/UTC", "/usr/share/zoneinfo/leap-seconds.list"});
  config = accepted("leapseclist /usr/share/zoneinfo/leap-seconds.list\n", Format::chrony);
  CHECK(config.leapdb.files == std::vector<std::string>{"/usr/share/zoneinfo/leap-seconds.list"});
  config = accepted("server a.example.net\n", Format::chrony);
  CHECK(config.leapdb.files.size() == 2);  // Debian's tzdata files
  // leapsectz brings the list a leapseclist names too: listed once.
  config = accepted("leapsectz right/UTC\nleapseclist /usr/share/zoneinfo/leap-seconds.list\n", Format::chrony);
  CHECK(config.leapdb.files ==
        std::vector<std::string>{"/usr/share/zoneinfo/right/UTC", "/usr/share/zoneinfo/leap-seconds.list"});
}

TEST_CASE("chrony: a bindaddress of one family leaves the other on its wildcard; the last of a family counts") {
  const auto config = accepted("bindaddress 192.0.2.1\nbindaddress 192.0.2.7\nallow\n", Format::chrony);
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[0].address.to_string() == "192.0.2.7:123");
  CHECK(config.listeners[1].address.to_string() == "[::]:123");
}

TEST_CASE("chrony: keyfile, port, bindaddress, hwtimestamp") {
  std::string yaml;
  const auto config = accepted(R"(keyfile /etc/chrony/chrony.keys
port 1123
bindaddress 192.0.2.7
bindaddress 2001:db8::7
hwtimestamp eth0 rxfilter all
hwtimestamp *
)",
                               Format::chrony, &yaml);
  CHECK(config.keys == "/etc/chrony/chrony.keys");
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[0].address.to_string() == "192.0.2.7:1123");
  CHECK(config.listeners[1].address.to_string() == "[2001:db8::7]:1123");
  CHECK(config.hardware_timestamps.all);
  CHECK(contains(yaml, "# in.conf:5: hwtimestamp eth0 rxfilter all: its options: no equivalent"));
  CHECK(contains(yaml, "# in.conf:5: hwtimestamp eth0 rxfilter all: not needed: * stamps every interface"));
  const auto named = accepted("hwtimestamp eth0\nhwtimestamp eth1\n", Format::chrony);
  CHECK(named.hardware_timestamps.interfaces == std::vector<std::string>{"eth0", "eth1"});
}

TEST_CASE("chrony: port alone listens on every address") {
  const auto config = accepted("port 11123\n", Format::chrony);
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[0].address.to_string() == "0.0.0.0:11123");
  CHECK(config.listeners[1].address.to_string() == "[::]:11123");
}

TEST_CASE("chrony: every directive without an equivalent is listed with its reason") {
  std::string yaml;
  accepted(R"(confdir /etc/chrony/conf.d
sourcedir /run/chrony-dhcp
include /etc/chrony/extra.conf
makestep 1 3
rtcsync
logdir /var/log/chrony
cmdallow 127.0.0.1
peer 192.0.2.9
wibble 3
)",
           Format::chrony, &yaml);
  CHECK(contains(yaml, "# in.conf:1: confdir /etc/chrony/conf.d: not followed: import the files it names too"));
  CHECK(contains(yaml, "# in.conf:2: sourcedir /run/chrony-dhcp: not followed: its .sources files"));
  CHECK(contains(yaml, "# in.conf:3: include /etc/chrony/extra.conf: not followed"));
  CHECK(contains(yaml, "# in.conf:4: makestep 1 3: no equivalent: smeard never steps"));
  CHECK(contains(yaml, "# in.conf:5: rtcsync: no equivalent: smeard never sets the real-time clock"));
  CHECK(contains(yaml, "# in.conf:6: logdir /var/log/chrony: no equivalent: smeard logs to standard error"));
  CHECK(contains(yaml, "# in.conf:7: cmdallow 127.0.0.1: no equivalent: smeard takes no commands"));
  CHECK(contains(yaml, "# in.conf:8: peer 192.0.2.9: no equivalent: smeard has no symmetric"));
  CHECK(contains(yaml, "# in.conf:9: wibble 3: not a directive smearctl import knows"));
}

TEST_CASE("chrony: comments of every kind are skipped") {
  std::string yaml;
  accepted("# a\n% b\n! server x.example.net\n; c\n  \nserver a.example.net # trailing\n", Format::chrony, &yaml);
  CHECK_FALSE(contains(yaml, "x.example.net"));
  CHECK(contains(yaml, "# in.conf:6: server a.example.net\n"));
}

TEST_CASE("chrony: malformed lines name their line and directive") {
  CHECK(only_error("\nserver\n", Format::chrony) == "in.conf:2: server: needs a host name or address");
  CHECK(only_error("server a.example.net key x\n", Format::chrony) ==
        "in.conf:1: server: option key needs a number from 1 to 4294967295");
  CHECK(only_error("server a.example.net port\n", Format::chrony) == "in.conf:1: server: option port needs a value");
  CHECK(only_error("server a.example.net bogus\n", Format::chrony) == "in.conf:1: server: unknown option 'bogus'");
  CHECK(only_error("allow 300.1/16\n", Format::chrony) ==
        "in.conf:1: allow: '300.1/16' is not a network such as 192.168.1.0/24 or 2001:db8::/32");
  CHECK(only_error("ratelimit burst 0\n", Format::chrony) ==
        "in.conf:1: ratelimit: burst needs a number from 1 to 255");
  CHECK(only_error("ratelimit interval 13\n", Format::chrony) ==
        "in.conf:1: ratelimit: interval needs a log2 of seconds from -19 to 12");
  CHECK(only_error("local stratum 16\n", Format::chrony) == "in.conf:1: local: stratum needs a number from 1 to 15");
  CHECK(only_error("smoothtime 400\n", Format::chrony) == "in.conf:1: smoothtime: needs MAXFREQ MAXWANDER [leaponly]");
  CHECK(only_error("smoothtime 400 fast\n", Format::chrony) ==
        "in.conf:1: smoothtime: MAXFREQ (ppm) and MAXWANDER (ppm per second) must be positive numbers");
  CHECK(only_error("keyfile\n", Format::chrony) == "in.conf:1: keyfile: needs one path");
  CHECK(only_error("minsources x\n", Format::chrony) == "in.conf:1: minsources: needs one number from 1 to 64");
  CHECK(only_error("refclock SHM x\n", Format::chrony) ==
        "in.conf:1: refclock: SHM needs a segment number from 0 to 255");
  CHECK(only_error("bindaddress eth0\n", Format::chrony) == "in.conf:1: bindaddress: needs one IPv4 or IPv6 address");
}
