// The format a file is in, and what every translation has.
#include <doctest/doctest.h>

#include "tests/unit/config/import/helpers.hpp"

using config::import::Format;
using config::import::guess_format;
using import_test::accepted;
using import_test::contains;

TEST_CASE("formats by name") {
  CHECK(config::import::parse_format("chrony") == Format::chrony);
  CHECK(config::import::parse_format("ntpd") == Format::ntpd);
  CHECK(config::import::parse_format("ntpd-rs") == Format::ntpd_rs);
  CHECK_FALSE(config::import::parse_format("ntpsec"));
  CHECK(config::import::to_string(Format::ntpd_rs) == "ntpd-rs");
}

TEST_CASE("the format is told by the directives only one daemon has") {
  CHECK(guess_format("pool 2.debian.pool.ntp.org iburst\nmakestep 1 3\nrtcsync\n") == Format::chrony);
  CHECK(guess_format("server a\n  leapsectz right/UTC\n") == Format::chrony);
  CHECK(guess_format("pool 0.debian.pool.ntp.org iburst\nrestrict default kod\ntos maxclock 11\n") == Format::ntpd);
  CHECK(guess_format("leapsmearinterval 86400\n") == Format::ntpd);
  CHECK(guess_format("[observability]\nlog-level = \"info\"\n") == Format::ntpd_rs);
  CHECK(guess_format("# x\n[[source]]\nmode = \"pool\"\n") == Format::ntpd_rs);
  CHECK_FALSE(guess_format("server a.example.net\n"));         // both have it
  CHECK_FALSE(guess_format("makestepper 1\nrestricted 2\n"));  // whole words only
  CHECK_FALSE(guess_format(""));
}

TEST_CASE("every translation is a complete configuration naming its origin") {
  std::string yaml;
  const auto config = accepted("", Format::chrony, &yaml, "/etc/chrony/chrony.conf");
  CHECK(yaml.starts_with("# smeard configuration imported from /etc/chrony/chrony.conf (chronyd) by smearctl import."));
  REQUIRE(config.listeners.size() == 2);
  CHECK(config.listeners[0].address.to_string() == "0.0.0.0:123");
  CHECK(config.listeners[1].address.to_string() == "[::]:123");
  CHECK(config.metrics.listen->to_string() == "127.0.0.1:9466");
  CHECK(config.reference.sources.at(0).type == config::ReferenceSource::Type::system);
  CHECK_FALSE(contains(yaml, "# Not carried over"));
}

TEST_CASE("names that need quoting in YAML are quoted") {
  std::string yaml;
  const auto config = accepted("keyfile /etc/chrony/a\"b\\c:d\n", Format::chrony, &yaml);
  CHECK(config.keys == "/etc/chrony/a\"b\\c:d");
}

TEST_CASE("at most 64 servers, a pool counting its max_sources") {
  std::string text;
  for (int i = 0; i < 5; ++i) text += "pool p" + std::to_string(i) + ".example.net maxsources 16\n";
  std::string yaml;
  const auto config = accepted(text, Format::chrony, &yaml);
  CHECK(config.reference.sources[0].servers.size() == 4);
  CHECK(contains(yaml, "# in.conf:5: pool p4.example.net maxsources 16: left out: smeard polls at most 64 servers"));
}

TEST_CASE("what smeard would refuse is an error of the line it comes from") {
  using import_test::only_error;
  CHECK(only_error("rtcsync\nserver a/b iburst\n", Format::chrony) ==
        "in.conf:2: server: smeard refuses it: 'a/b' is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
  CHECK(only_error("pool 192.0.2.1\n", Format::chrony) ==
        "in.conf:1: pool: smeard refuses it: '192.0.2.1' is an address: a pool is a name with several addresses "
        "(use server: for one)");
  CHECK(only_error("refclock PHC ptp0\n", Format::chrony) ==
        "in.conf:1: refclock: smeard refuses it: 'ptp0' must be an absolute path");
  CHECK(only_error("refclock SHM 0 refid TOOLONG\n", Format::chrony) ==
        "in.conf:1: refclock: smeard refuses it: 'TOOLONG' must be 1 to 4 printable ASCII characters, e.g. GPS");
  CHECK(only_error("hwtimestamp eth0:1\n", Format::chrony) ==
        "in.conf:1: hwtimestamp: smeard refuses it: 'eth0:1' is not an interface name (1 to 15 characters, no '/', "
        "':' or white space)");
  CHECK(only_error("[[source]]\nmode = \"server\"\naddress = \"-x\"\n", Format::ntpd_rs) ==
        "in.conf:3: address: smeard refuses it: '-x' is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
}
