#pragma once
// The interfaces smeard stamps on in hardware, kept by the control thread: switched on at start
// and on reload (io/hardware_timestamps), each interface's outcome logged once; each one's PHC
// sampled every few seconds against the system clock (a PhcReader, as a phc reference reads
// it); and the lines workers convert hardware stamps with, for every snapshot.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/io/hardware_timestamps.hpp"
#include "server/metrics/status.hpp"
#include "server/ntp/hardware_clock.hpp"
#include "server/reference/phc.hpp"
#include "server/reference/phc_mapping.hpp"

namespace app {

class HardwareClocks {
 public:
  explicit HardwareClocks(std::unique_ptr<io::TimestampDriver> driver);

  // Named interfaces that do not exist: the configuration is refused with these.
  std::vector<config::Problem> check(const config::HardwareTimestamps& wanted);
  // Switches on what `wanted` asks for; an interface already stamping in hardware keeps its PHC
  // and samples. A new one's PHC is sampled at once.
  void configure(const config::HardwareTimestamps& wanted, std::chrono::steady_clock::time_point now);
  // Samples every PHC once kSampleInterval has passed since the last time.
  void poll(std::chrono::steady_clock::time_point now);

  ntp::HardwareClocks table() const;
  bool any_hardware() const;
  std::vector<metrics::HardwareTimestampStatus> status() const;

  // Three samples within a line's reach (PhcMappingEstimator::kReach), so one lost read costs nothing.
  static constexpr std::chrono::seconds kSampleInterval{2};

 private:
  struct Interface {
    io::InterfaceStamps stamps;
    std::unique_ptr<reference::PhcReader> reader;  // hardware only
    reference::PhcMappingEstimator estimator;
    std::optional<bool> readable;  // as last logged
  };
  void sample(Interface& interface);
  void log_outcome(const Interface& interface);

  std::unique_ptr<io::TimestampDriver> driver_;
  std::vector<Interface> interfaces_;
  std::map<std::string, std::string, std::less<>> logged_;  // interface -> its outcome as last logged
  std::optional<std::chrono::steady_clock::time_point> sampled_;
};

}  // namespace app
