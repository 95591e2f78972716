// Which interfaces get hardware stamps, and the reason each of the others keeps software ones.
#include "server/io/hardware_timestamps.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using io::InterfaceStamps;
using io::NetworkInterface;
using io::TimestampingInfo;

namespace {

constexpr std::uint32_t bit(int n) { return std::uint32_t{1} << n; }

// What a NIC with a PHC offers (as `ethtool -T` on an ice or mlx5 port shows).
const TimestampingInfo kCapable{SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE |
                                    SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_SOFTWARE,
                                2, bit(HWTSTAMP_TX_OFF) | bit(HWTSTAMP_TX_ON),
                                bit(HWTSTAMP_FILTER_NONE) | bit(HWTSTAMP_FILTER_ALL)};

class FakePhc final : public reference::PhcDevice {
 public:
  reference::PhcCapabilities capabilities() const override { return {}; }
  reference::PhcRead read(reference::CrossTimestamp) override { return {}; }
};

struct FakeDriver final : io::TimestampDriver {
  std::vector<NetworkInterface> present{{"lo", 1, true, true}, {"eth0", 2, true, false}, {"eth1", 3, false, false}};
  std::map<std::string, TimestampingInfo> info{{"eth0", kCapable}, {"eth1", kCapable}};
  std::string set_error;
  std::optional<int> granted;  // the filter the driver puts in force; unset: the one asked for
  std::string phc_error;
  struct Set {
    std::string interface;
    bool transmit;
    int filter;
  };
  std::vector<Set> sets;
  std::vector<int> opened;

  std::vector<NetworkInterface> interfaces() override { return present; }
  std::optional<TimestampingInfo> ts_info(const std::string& interface, std::string& error) override {
    const auto found = info.find(interface);
    if (found != info.end()) return found->second;
    error = "SIOCETHTOOL ETHTOOL_GET_TS_INFO: Operation not supported";
    return std::nullopt;
  }
  std::optional<int> set_hwtstamp(const std::string& interface, bool transmit, int filter,
                                  std::string& error) override {
    sets.push_back({interface, transmit, filter});
    if (!set_error.empty()) {
      error = set_error;
      return std::nullopt;
    }
    return granted.value_or(filter);
  }
  std::unique_ptr<reference::PhcDevice> open_phc(int index, std::string& error) override {
    opened.push_back(index);
    if (!phc_error.empty()) {
      error = phc_error;
      return nullptr;
    }
    return std::make_unique<FakePhc>();
  }
};

InterfaceStamps enable(FakeDriver& driver, const std::string& name = "eth0") {
  return io::enable_hardware_timestamps(NetworkInterface{name, 2, true, false}, driver);
}

}  // namespace

TEST_CASE("a NIC with a PHC that stamps every packet: receive filter ALL, transmit on, its PHC opened") {
  FakeDriver driver;
  const InterfaceStamps eth0 = enable(driver);
  CHECK(eth0.hardware);
  CHECK(eth0.transmit);
  CHECK(eth0.index == 2);
  CHECK(eth0.phc_index == 2);
  CHECK(eth0.phc_path() == "/dev/ptp2");
  CHECK(eth0.filter == "all");
  CHECK(eth0.reason.empty());
  CHECK(eth0.phc != nullptr);
  REQUIRE(driver.sets.size() == 1);
  CHECK(driver.sets[0].transmit);
  CHECK(driver.sets[0].filter == HWTSTAMP_FILTER_ALL);
  CHECK(driver.opened == std::vector<int>{2});
  CHECK(io::any_hardware(std::vector<InterfaceStamps>(1)) == false);
}

TEST_CASE("NTP_ALL where the driver has no ALL; receive-only where it cannot stamp transmits") {
  FakeDriver driver;
  driver.info["eth0"].rx_filters = bit(HWTSTAMP_FILTER_NONE) | bit(HWTSTAMP_FILTER_NTP_ALL);
  driver.info["eth0"].tx_types = bit(HWTSTAMP_TX_OFF);
  const InterfaceStamps eth0 = enable(driver);
  CHECK(eth0.hardware);
  CHECK_FALSE(eth0.transmit);
  CHECK(eth0.filter == "ntp_all");
  CHECK(driver.sets[0].filter == HWTSTAMP_FILTER_NTP_ALL);
  CHECK_FALSE(driver.sets[0].transmit);
  // A driver may widen NTP_ALL to ALL.
  driver.granted = HWTSTAMP_FILTER_ALL;
  CHECK(enable(driver).filter == "all");
}

TEST_CASE("software stamps, each with its reason") {
  FakeDriver driver;
  SUBCASE("the driver does not answer") {
    const InterfaceStamps out = enable(driver, "veth0");
    CHECK_FALSE(out.hardware);
    CHECK(out.reason ==
          "veth0: the driver does not say what it can stamp (SIOCETHTOOL ETHTOOL_GET_TS_INFO: Operation not "
          "supported); using software stamps");
  }
  SUBCASE("software only (veth, most virtual NICs)") {
    driver.info["veth0"] = TimestampingInfo{
        SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE, -1, 0, 0};
    CHECK(enable(driver, "veth0").reason ==
          "veth0: the driver has no hardware timestamps (ethtool: software only); using software stamps");
    CHECK(driver.sets.empty());
  }
  SUBCASE("hardware stamps but no PHC") {
    driver.info["eth0"].phc_index = -1;
    CHECK(enable(driver).reason ==
          "eth0: the driver stamps in hardware but has no PTP hardware clock to convert the stamps; using software "
          "stamps");
  }
  SUBCASE("PTP packets only: no use for NTP") {
    driver.info["eth0"].rx_filters =
        bit(HWTSTAMP_FILTER_NONE) | bit(HWTSTAMP_FILTER_PTP_V2_L4_EVENT) | bit(HWTSTAMP_FILTER_PTP_V2_EVENT);
    CHECK(enable(driver).reason ==
          "eth0: the driver stamps only some packets in hardware (receive filters: ptp_v2_l4_event, ptp_v2_event), "
          "not NTP requests; using software stamps");
    CHECK(driver.sets.empty());
    driver.info["eth0"].rx_filters = 0;
    CHECK(enable(driver).reason ==
          "eth0: the driver stamps only some packets in hardware (receive filters: none), not NTP requests; using "
          "software stamps");
  }
  SUBCASE("SIOCSHWTSTAMP refused (no CAP_NET_ADMIN, as after a reload)") {
    driver.set_error = "SIOCSHWTSTAMP: Operation not permitted";
    const InterfaceStamps out = enable(driver);
    CHECK_FALSE(out.hardware);
    CHECK(out.reason ==
          "eth0: cannot switch hardware stamps on (SIOCSHWTSTAMP: Operation not permitted); using software stamps");
    CHECK(driver.opened.empty());
  }
  SUBCASE("the driver narrows the filter to PTP") {
    driver.granted = HWTSTAMP_FILTER_PTP_V2_EVENT;
    CHECK(enable(driver).reason ==
          "eth0: the driver put receive filter ptp_v2_event in force, not all; using software stamps");
  }
  SUBCASE("its PHC cannot be opened") {
    driver.phc_error = "/dev/ptp2: cannot open: Permission denied";
    const InterfaceStamps out = enable(driver);
    CHECK_FALSE(out.hardware);
    CHECK(out.phc == nullptr);
    CHECK(
        out.reason ==
        "eth0: cannot read its PTP hardware clock (/dev/ptp2: cannot open: Permission denied); using software stamps");
  }
}

TEST_CASE("which interfaces: those named, or every one up and not loopback; a name that is not there is an error") {
  FakeDriver driver;
  config::HardwareTimestamps wanted;
  wanted.all = true;
  auto chosen = io::chosen_interfaces(wanted, driver.present);
  REQUIRE(chosen.size() == 1);
  CHECK(chosen[0].name == "eth0");

  wanted = {};
  wanted.interfaces = {"eth1", "lo", "eht0"};
  wanted.locations = {{"smeard.yaml", 9, 23}, {"smeard.yaml", 9, 29}, {"smeard.yaml", 9, 33}};
  chosen = io::chosen_interfaces(wanted, driver.present);
  REQUIRE(chosen.size() == 2);  // named: down or loopback, still asked
  CHECK(chosen[0].name == "eth1");
  CHECK(chosen[1].name == "lo");
  const auto problems = io::missing_interfaces(wanted, driver.present);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].to_string() ==
        "smeard.yaml:9:33: hardware_timestamps[2]: no network interface named 'eht0' (ip link lists those there are)");
  CHECK(io::missing_interfaces(config::HardwareTimestamps{}, {}).empty());
}

TEST_CASE("the socket flags ask for raw hardware stamps and the interface they were taken on") {
  CHECK((io::kHardwareTimestampingFlags & SOF_TIMESTAMPING_RAW_HARDWARE) != 0);
  CHECK((io::kHardwareTimestampingFlags & SOF_TIMESTAMPING_OPT_PKTINFO) != 0);
  CHECK((io::kHardwareTimestampingFlags & SOF_TIMESTAMPING_SOFTWARE) == 0);  // the socket's own choice
}

TEST_CASE("the kernel driver lists this machine's interfaces") {
  auto driver = io::kernel_timestamp_driver();
  const auto present = driver->interfaces();
  CHECK(std::ranges::any_of(present, [](const NetworkInterface& n) { return n.loopback && n.index > 0; }));
}
