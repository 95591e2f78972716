#include "server/io/hardware_timestamps.hpp"

#include "server/io/udp_socket.hpp"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace io {
namespace {

constexpr std::uint32_t bit(int n) { return std::uint32_t{1} << n; }

// The receive filters that stamp NTP packets, best first.
constexpr std::array<std::pair<int, const char*>, 2> kNtpFilters{
    {{HWTSTAMP_FILTER_ALL, "all"}, {HWTSTAMP_FILTER_NTP_ALL, "ntp_all"}}};

std::string filter_names(std::uint32_t filters) {
  static constexpr std::array<const char*, 16> kNames{"none",
                                                      "all",
                                                      "some",
                                                      "ptp_v1_l4_event",
                                                      "ptp_v1_l4_sync",
                                                      "ptp_v1_l4_delay_req",
                                                      "ptp_v2_l4_event",
                                                      "ptp_v2_l4_sync",
                                                      "ptp_v2_l4_delay_req",
                                                      "ptp_v2_l2_event",
                                                      "ptp_v2_l2_sync",
                                                      "ptp_v2_l2_delay_req",
                                                      "ptp_v2_event",
                                                      "ptp_v2_sync",
                                                      "ptp_v2_delay_req",
                                                      "ntp_all"};
  std::string names;
  for (std::size_t i = 1; i < kNames.size(); ++i) {
    if ((filters & bit(static_cast<int>(i))) != 0) names += (names.empty() ? "" : ", ") + std::string{kNames[i]};
  }
  return names.empty() ? "none" : names;
}

InterfaceStamps software(InterfaceStamps out, const std::string& why) {
  out.hardware = false;
  out.transmit = false;
  out.phc.reset();
  out.reason = out.name + ": " + why + "; using software stamps";
  return out;
}

class Ioctls {
 public:
  Ioctls() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}

  // The ioctl on `interface` with `data` as ifr_data (or the flags in ifr_flags); "" or why not.
  std::string call(unsigned long request, const std::string& interface, void* data, short* flags = nullptr) const {
    if (!fd_) return std::string{"socket: "} + std::strerror(errno);
    ifreq request_for{};
    std::strncpy(request_for.ifr_name, interface.c_str(), IFNAMSIZ - 1);
    request_for.ifr_data = static_cast<char*>(data);
    if (::ioctl(fd_.get(), request, &request_for) != 0) return std::strerror(errno);
    if (flags != nullptr) *flags = request_for.ifr_flags;
    return {};
  }

 private:
  UniqueFd fd_;
};

class KernelDriver final : public TimestampDriver {
 public:
  std::vector<NetworkInterface> interfaces() override {
    std::vector<NetworkInterface> out;
    struct if_nameindex* list = ::if_nameindex();
    if (list == nullptr) return out;
    for (const struct if_nameindex* i = list; i->if_index != 0 && i->if_name != nullptr; ++i) {
      NetworkInterface interface { i->if_name, i->if_index, false, false };
      short flags = 0;
      if (ioctls_.call(SIOCGIFFLAGS, interface.name, nullptr, &flags).empty()) {
        interface.up = (flags & IFF_UP) != 0;
        interface.loopback = (flags & IFF_LOOPBACK) != 0;
      }
      out.push_back(std::move(interface));
    }
    ::if_freenameindex(list);
    return out;
  }

  std::optional<TimestampingInfo> ts_info(const std::string& interface, std::string& error) override {
    ethtool_ts_info info{};
    info.cmd = ETHTOOL_GET_TS_INFO;
    if (const std::string failed = ioctls_.call(SIOCETHTOOL, interface, &info); !failed.empty()) {
      error = "SIOCETHTOOL ETHTOOL_GET_TS_INFO: " + failed;
      return std::nullopt;
    }
    return TimestampingInfo{info.so_timestamping, info.phc_index, info.tx_types, info.rx_filters};
  }

  std::optional<int> set_hwtstamp(const std::string& interface, bool transmit, int rx_filter,
                                  std::string& error) override {
    hwtstamp_config config{};
    config.tx_type = transmit ? HWTSTAMP_TX_ON : HWTSTAMP_TX_OFF;
    config.rx_filter = rx_filter;
    if (const std::string failed = ioctls_.call(SIOCSHWTSTAMP, interface, &config); !failed.empty()) {
      error = "SIOCSHWTSTAMP: " + failed;
      return std::nullopt;
    }
    return config.rx_filter;
  }

  std::unique_ptr<reference::PhcDevice> open_phc(int phc_index, std::string& error) override {
    return reference::open_phc_device("/dev/ptp" + std::to_string(phc_index), error);
  }

 private:
  Ioctls ioctls_;
};

}  // namespace

std::unique_ptr<TimestampDriver> kernel_timestamp_driver() { return std::make_unique<KernelDriver>(); }

std::vector<config::Problem> missing_interfaces(const config::HardwareTimestamps& wanted,
                                                const std::vector<NetworkInterface>& present) {
  std::vector<config::Problem> problems;
  for (std::size_t i = 0; i < wanted.interfaces.size(); ++i) {
    const std::string& name = wanted.interfaces[i];
    if (std::ranges::any_of(present, [&](const NetworkInterface& n) { return n.name == name; })) continue;
    problems.push_back(config::Problem{i < wanted.locations.size() ? wanted.locations[i] : config::SourceLocation{},
                                       "hardware_timestamps[" + std::to_string(i) + "]",
                                       "no network interface named '" + name + "' (ip link lists those there are)"});
  }
  return problems;
}

std::vector<NetworkInterface> chosen_interfaces(const config::HardwareTimestamps& wanted,
                                                const std::vector<NetworkInterface>& present) {
  std::vector<NetworkInterface> chosen;
  if (wanted.all) {
    std::ranges::copy_if(present, std::back_inserter(chosen),
                         [](const NetworkInterface& n) { return n.up && !n.loopback; });
    return chosen;
  }
  for (const std::string& name : wanted.interfaces) {
    const auto found = std::ranges::find(present, name, &NetworkInterface::name);
    if (found != present.end()) chosen.push_back(*found);
  }
  return chosen;
}

InterfaceStamps enable_hardware_timestamps(const NetworkInterface& interface, TimestampDriver& driver) {
  InterfaceStamps out;
  out.name = interface.name;
  out.index = interface.index;
  std::string error;
  const std::optional<TimestampingInfo> info = driver.ts_info(interface.name, error);
  if (!info) return software(std::move(out), "the driver does not say what it can stamp (" + error + ")");
  if ((info->so_timestamping & SOF_TIMESTAMPING_RAW_HARDWARE) == 0) {
    return software(std::move(out), "the driver has no hardware timestamps (ethtool: software only)");
  }
  if (info->phc_index < 0) {
    return software(std::move(out),
                    "the driver stamps in hardware but has no PTP hardware clock to convert the stamps");
  }
  const auto filter =
      std::ranges::find_if(kNtpFilters, [&](const auto& f) { return (info->rx_filters & bit(f.first)) != 0; });
  if (filter == kNtpFilters.end()) {
    return software(std::move(out), "the driver stamps only some packets in hardware (receive filters: " +
                                        filter_names(info->rx_filters) + "), not NTP requests");
  }
  out.transmit = (info->tx_types & bit(HWTSTAMP_TX_ON)) != 0;
  const std::optional<int> granted = driver.set_hwtstamp(interface.name, out.transmit, filter->first, error);
  if (!granted) return software(std::move(out), "cannot switch hardware stamps on (" + error + ")");
  // A driver may widen the filter (NTP_ALL to ALL), never narrow it and still stamp NTP.
  const auto in_force = std::ranges::find(kNtpFilters, *granted, &std::pair<int, const char*>::first);
  if (in_force == kNtpFilters.end()) {
    return software(std::move(out), "the driver put receive filter " + filter_names(bit(*granted)) + " in force, not " +
                                        filter->second);
  }
  out.filter = in_force->second;
  out.phc_index = info->phc_index;
  out.phc = driver.open_phc(info->phc_index, error);
  if (!out.phc) return software(std::move(out), "cannot read its PTP hardware clock (" + error + ")");
  out.hardware = true;
  return out;
}

bool any_hardware(const std::vector<InterfaceStamps>& interfaces) {
  return std::ranges::any_of(interfaces, [](const InterfaceStamps& i) { return i.hardware; });
}

}  // namespace io
