#pragma once
// Hardware timestamps on the interfaces the configuration names (or, with "*", every interface
// that is up and not loopback): for each, the driver is asked what it can stamp (SIOCETHTOOL
// ETHTOOL_GET_TS_INFO, what `ethtool -T` shows); where it stamps every received packet
// (HWTSTAMP_FILTER_ALL, or NTP_ALL where that is all it offers) and has a PTP hardware clock to
// convert the stamps with, stamping is switched on (SIOCSHWTSTAMP: RX filter, TX on where it
// can) and the PHC opened. A driver that stamps only PTP packets is no use to NTP, whose
// requests it would not stamp: that interface keeps software stamps, as does any whose driver
// cannot, each with the reason. The kernel calls go through a Driver, a fake in tests.

#include <linux/net_tstamp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/reference/phc.hpp"

namespace io {

struct NetworkInterface {
  std::string name;
  unsigned index = 0;
  bool up = false;
  bool loopback = false;
};

// ETHTOOL_GET_TS_INFO's answer.
struct TimestampingInfo {
  std::uint32_t so_timestamping = 0;  // SOF_TIMESTAMPING_* the driver supports
  int phc_index = -1;                 // /dev/ptpN; -1: none
  std::uint32_t tx_types = 0;         // 1 << HWTSTAMP_TX_*
  std::uint32_t rx_filters = 0;       // 1 << HWTSTAMP_FILTER_*
};

class TimestampDriver {
 public:
  virtual ~TimestampDriver() = default;
  virtual std::vector<NetworkInterface> interfaces() = 0;  // if_nameindex, with SIOCGIFFLAGS
  virtual std::optional<TimestampingInfo> ts_info(const std::string& interface, std::string& error) = 0;
  // SIOCSHWTSTAMP; the receive filter the driver put in force (it may widen the one asked
  // for), or none and `error`.
  virtual std::optional<int> set_hwtstamp(const std::string& interface, bool transmit, int rx_filter,
                                          std::string& error) = 0;
  virtual std::unique_ptr<reference::PhcDevice> open_phc(int phc_index, std::string& error) = 0;
};

std::unique_ptr<TimestampDriver> kernel_timestamp_driver();

// One interface's outcome.
struct InterfaceStamps {
  std::string name;
  unsigned index = 0;
  bool hardware = false;
  bool transmit = false;                      // hardware: transmit stamps too (receive always)
  int phc_index = -1;                         // hardware: the PHC its stamps are on
  std::string filter;                         // hardware: "all" or "ntp_all"
  std::string reason;                         // software: why, as logged
  std::unique_ptr<reference::PhcDevice> phc;  // hardware: open

  std::string phc_path() const { return "/dev/ptp" + std::to_string(phc_index); }
};

// The interfaces `wanted` names that do not exist, as configuration problems
// ("FILE:LINE:COL: hardware_timestamps[1]: no network interface named 'eht0'"). An operator's
// typo is an error, not a silent fallback.
std::vector<config::Problem> missing_interfaces(const config::HardwareTimestamps& wanted,
                                                const std::vector<NetworkInterface>& present);

// The interfaces to stamp on: those named, or for "*" every one up and not loopback.
std::vector<NetworkInterface> chosen_interfaces(const config::HardwareTimestamps& wanted,
                                                const std::vector<NetworkInterface>& present);

// Asks the driver of each and switches hardware stamping on where it can.
InterfaceStamps enable_hardware_timestamps(const NetworkInterface& interface, TimestampDriver& driver);

bool any_hardware(const std::vector<InterfaceStamps>& interfaces);

// What a listener socket adds to its SO_TIMESTAMPING flags when any_hardware(): the NIC's
// receive stamps in ts[2] of SCM_TIMESTAMPING; with each received packet, the interface it came
// in on (SCM_TIMESTAMPING_PKTINFO), whose PHC the stamp is on; IP_PKTINFO on the error queue's
// transmit stamps (OPT_CMSG), which says the same for them; and a software transmit stamp as well
// as the hardware one (OPT_TX_SWHW), for replies that leave through an interface without hardware
// stamps or whose hardware stamp cannot be converted. Transmit stamps themselves are asked for per
// datagram (kHardwareTransmitFlag), only for the replies that need one.
inline constexpr std::uint32_t kHardwareTimestampingFlags = SOF_TIMESTAMPING_RX_HARDWARE |
                                                            SOF_TIMESTAMPING_RAW_HARDWARE |
                                                            SOF_TIMESTAMPING_OPT_PKTINFO |
                                                            SOF_TIMESTAMPING_OPT_CMSG | SOF_TIMESTAMPING_OPT_TX_SWHW;
inline constexpr std::uint32_t kHardwareTransmitFlag = SOF_TIMESTAMPING_TX_HARDWARE;

}  // namespace io
