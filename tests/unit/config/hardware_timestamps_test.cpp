// hardware_timestamps: which interfaces stamp NTP packets in hardware.
#include <doctest/doctest.h>

#include <string>

#include "tests/unit/config/helpers.hpp"

using config_test::kListener;
using config_test::kTimescales;
using config_test::only_problem;
using config_test::parse;

namespace {

// The key is on line 7, after the listener and the timescales; its value in column 22.
std::string with(const std::string& value) { return kListener + kTimescales + "hardware_timestamps: " + value + "\n"; }

}  // namespace

TEST_CASE("hardware timestamps are off unless asked for") {
  const auto off = parse(kListener + kTimescales);
  CHECK_FALSE(off.config->hardware_timestamps.all);
  CHECK(off.config->hardware_timestamps.interfaces.empty());
  CHECK(parse(with("[]")).config->hardware_timestamps.interfaces.empty());
  CHECK(parse(with("")).config->hardware_timestamps.interfaces.empty());
}

TEST_CASE("hardware timestamps on named interfaces, with where each is named") {
  const auto result = parse(with("[eth0, enp1s0f1, bond0.100, veth-a_1]"));
  REQUIRE(result.problems.empty());
  const config::HardwareTimestamps& h = result.config->hardware_timestamps;
  CHECK_FALSE(h.all);
  CHECK(h.interfaces == std::vector<std::string>{"eth0", "enp1s0f1", "bond0.100", "veth-a_1"});
  REQUIRE(h.locations.size() == 4);
  CHECK(h.locations[1].line == 7);
  CHECK(h.locations[1].column == 29);
  CHECK(h.locations[1].file == "smeard.yaml");
}

TEST_CASE("hardware timestamps on every interface that can") {
  CHECK(parse(with("\"*\"")).config->hardware_timestamps.all);
  CHECK(parse(with("'*'")).config->hardware_timestamps.interfaces.empty());
}

TEST_CASE("hardware timestamps: what is refused, where it is written") {
  CHECK(
      only_problem(with("eth0")) ==
      "smeard.yaml:7:22: hardware_timestamps: expected a list of interface names or \"*\" (every interface that can)");
  CHECK(only_problem(with("{eth0: true}")) ==
        "smeard.yaml:7:22: hardware_timestamps: expected a list, found a mapping");
  CHECK(only_problem(with("[eth0, \"*\"]")) ==
        "smeard.yaml:7:29: hardware_timestamps[1]: \"*\" stands alone, not in a list: hardware_timestamps: \"*\"");
  CHECK(only_problem(with("[eth0, eth0]")) == "smeard.yaml:7:29: hardware_timestamps[1]: 'eth0' is listed twice");
  CHECK(only_problem(with("[[eth0]]")) == "smeard.yaml:7:23: hardware_timestamps[0]: expected a string, found a list");
  const std::string bad = " is not an interface name (1 to 15 characters, no '/', ':' or white space)";
  CHECK(only_problem(with("[abcdefghijklmnop]")) ==
        "smeard.yaml:7:23: hardware_timestamps[0]: 'abcdefghijklmnop'" + bad);
  CHECK(only_problem(with("[\"\"]")) == "smeard.yaml:7:23: hardware_timestamps[0]: ''" + bad);
  CHECK(only_problem(with("[eth0:1]")) == "smeard.yaml:7:23: hardware_timestamps[0]: 'eth0:1'" + bad);
  CHECK(only_problem(with("[a/b]")) == "smeard.yaml:7:23: hardware_timestamps[0]: 'a/b'" + bad);
  CHECK(only_problem(with("[\"eth 0\"]")) == "smeard.yaml:7:23: hardware_timestamps[0]: 'eth 0'" + bad);
  CHECK(only_problem(with("[..]")) == "smeard.yaml:7:23: hardware_timestamps[0]: '..'" + bad);
}

TEST_CASE("interface names as Linux allows them") {
  CHECK(config::valid_interface_name("eth0"));
  CHECK(config::valid_interface_name("abcdefghijklmno"));  // 15: the longest
  CHECK_FALSE(config::valid_interface_name("abcdefghijklmnop"));
  CHECK_FALSE(config::valid_interface_name(""));
  CHECK_FALSE(config::valid_interface_name("."));
  CHECK(config::valid_interface_name("..."));
  CHECK_FALSE(config::valid_interface_name("a\tb"));
  CHECK_FALSE(config::valid_interface_name(std::string{"a\0b", 3}));
}
