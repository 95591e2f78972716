// The control thread's side of hardware stamps: which interfaces, their PHCs sampled, the lines
// handed to snapshots, what /status shows.
#include "server/app/hardware_clocks.hpp"

#include <doctest/doctest.h>

#include <memory>

using namespace std::chrono;
using leapdb::UtcTime;

namespace {

constexpr std::uint32_t bit(int n) { return std::uint32_t{1} << n; }

struct Clocks {
  UtcTime now = UtcTime{sys_days{year{2026} / March / 1}} + hours{12};
  bool failing = false;
  int reads = 0;
};

class FakePhc final : public reference::PhcDevice {
 public:
  explicit FakePhc(Clocks& clocks) : clocks_(clocks) {}
  reference::PhcCapabilities capabilities() const override { return {true, true, true}; }
  reference::PhcRead read(reference::CrossTimestamp) override {
    ++clocks_.reads;
    reference::PhcRead out;
    if (clocks_.failing) {
      out.error = "PTP_SYS_OFFSET_PRECISE: No such device";
      return out;
    }
    out.status = reference::PhcRead::Status::ok;
    out.triples.push_back({clocks_.now, clocks_.now.time_since_epoch() + seconds{37}, clocks_.now});
    return out;
  }

 private:
  Clocks& clocks_;
};

struct FakeDriver final : io::TimestampDriver {
  explicit FakeDriver(Clocks& clocks) : clocks_(clocks) {}
  std::vector<io::NetworkInterface> interfaces() override {
    return {{"lo", 1, true, true}, {"eth0", 2, true, false}, {"veth0", 3, true, false}};
  }
  std::optional<io::TimestampingInfo> ts_info(const std::string& name, std::string&) override {
    if (name != "eth0") return io::TimestampingInfo{SOF_TIMESTAMPING_SOFTWARE, -1, 0, 0};
    return io::TimestampingInfo{SOF_TIMESTAMPING_RAW_HARDWARE, 0, bit(HWTSTAMP_TX_ON), bit(HWTSTAMP_FILTER_ALL)};
  }
  std::optional<int> set_hwtstamp(const std::string&, bool, int filter, std::string&) override {
    ++sets;
    return filter;
  }
  std::unique_ptr<reference::PhcDevice> open_phc(int, std::string&) override {
    return std::make_unique<FakePhc>(clocks_);
  }
  int sets = 0;

 private:
  Clocks& clocks_;
};

}  // namespace

TEST_CASE("every interface that can: eth0 in hardware, converting once its PHC has two samples; veth0 in software") {
  Clocks clocks;
  auto owned = std::make_unique<FakeDriver>(clocks);
  FakeDriver& driver = *owned;
  app::HardwareClocks hardware{std::move(owned)};
  config::HardwareTimestamps all;
  all.all = true;
  CHECK(hardware.check(all).empty());
  steady_clock::time_point tick{};
  hardware.configure(all, tick);
  CHECK(hardware.any_hardware());
  CHECK(clocks.reads == 1);
  CHECK(hardware.table().empty());  // one sample: no line yet

  auto rows = hardware.status();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].interface == "eth0");
  CHECK(rows[0].mode == "hardware");
  CHECK(rows[0].phc == "/dev/ptp0");
  CHECK(rows[0].filter == "all");
  CHECK(rows[0].transmit);
  CHECK_FALSE(rows[0].converting);
  CHECK(rows[1].interface == "veth0");
  CHECK(rows[1].mode == "software");
  CHECK(rows[1].reason ==
        "veth0: the driver has no hardware timestamps (ethtool: software only); using software stamps");

  // Sampled every two seconds, not every tick.
  clocks.now += seconds{1};
  hardware.poll(tick += seconds{1});
  CHECK(clocks.reads == 1);
  clocks.now += seconds{1};
  hardware.poll(tick += seconds{1});
  CHECK(clocks.reads == 2);
  const ntp::HardwareClocks table = hardware.table();
  REQUIRE(table.size() == 1);
  CHECK(table.to_system(timespec{clocks.now.time_since_epoch().count() / 1'000'000'000 + 37 + 1, 0}, 2) ==
        floor<seconds>(clocks.now) + seconds{1});
  CHECK_FALSE(table.to_system(timespec{1, 0}, 3).has_value());
  rows = hardware.status();
  CHECK(rows[0].converting);
  CHECK(*rows[0].offset_seconds == -37.0);
  CHECK(*rows[0].rate_ppm == 0.0);

  // A reload with the same interfaces keeps eth0's PHC and samples: no second SIOCSHWTSTAMP.
  hardware.configure(all, tick);
  CHECK(driver.sets == 1);
  CHECK(hardware.table().size() == 1);

  // A PHC that cannot be read keeps its line only until it is stale, which the worker sees.
  clocks.failing = true;
  clocks.now += seconds{2};
  hardware.poll(tick += seconds{2});
  CHECK(hardware.table().size() == 1);

  // Off again.
  hardware.configure(config::HardwareTimestamps{}, tick);
  CHECK_FALSE(hardware.any_hardware());
  CHECK(hardware.status().empty());
  CHECK(hardware.table().empty());
}

TEST_CASE("a named interface that is not there is a problem naming where it is written") {
  Clocks clocks;
  app::HardwareClocks hardware{std::make_unique<FakeDriver>(clocks)};
  config::HardwareTimestamps named;
  named.interfaces = {"eth0", "eth9"};
  named.locations = {{"smeard.yaml", 4, 23}, {"smeard.yaml", 4, 29}};
  const auto problems = hardware.check(named);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].to_string() ==
        "smeard.yaml:4:29: hardware_timestamps[1]: no network interface named 'eth9' (ip link lists those there are)");
}
