#include "server/app/hardware_clocks.hpp"

#include <algorithm>

#include "server/app/log.hpp"

namespace app {

HardwareClocks::HardwareClocks(std::unique_ptr<io::TimestampDriver> driver) : driver_(std::move(driver)) {}

std::vector<config::Problem> HardwareClocks::check(const config::HardwareTimestamps& wanted) {
  if (wanted.interfaces.empty()) return {};
  return io::missing_interfaces(wanted, driver_->interfaces());
}

void HardwareClocks::configure(const config::HardwareTimestamps& wanted, std::chrono::steady_clock::time_point now) {
  const std::vector<io::NetworkInterface> chosen = wanted.all || !wanted.interfaces.empty()
                                                       ? io::chosen_interfaces(wanted, driver_->interfaces())
                                                       : std::vector<io::NetworkInterface>{};
  std::vector<Interface> next;
  std::size_t hardware = 0;
  for (const io::NetworkInterface& wanted_interface : chosen) {
    const auto kept = std::ranges::find_if(interfaces_, [&](const Interface& i) {
      return i.stamps.hardware && i.stamps.name == wanted_interface.name && i.stamps.index == wanted_interface.index;
    });
    if (kept != interfaces_.end()) {
      next.push_back(std::move(*kept));
    } else {
      Interface fresh;
      fresh.stamps = io::enable_hardware_timestamps(wanted_interface, *driver_);
      if (fresh.stamps.hardware) fresh.reader = std::make_unique<reference::PhcReader>(std::move(fresh.stamps.phc));
      next.push_back(std::move(fresh));
    }
    // The snapshot's table is fixed; past it, an interface's stamps could not be converted.
    Interface& added = next.back();
    if (added.stamps.hardware && ++hardware > ntp::HardwareClocks::kCapacity) {
      added.stamps.hardware = false;
      added.reader.reset();
      added.stamps.reason = added.stamps.name + ": more than " + std::to_string(ntp::HardwareClocks::kCapacity) +
                            " interfaces with hardware stamps; using software stamps";
    }
  }
  interfaces_ = std::move(next);
  for (Interface& interface : interfaces_) {
    log_outcome(interface);
    if (interface.reader && !interface.estimator.newest()) sample(interface);  // new: its first sample now
  }
  if (!sampled_) sampled_ = now;
}

void HardwareClocks::log_outcome(const Interface& interface) {
  const io::InterfaceStamps& s = interface.stamps;
  const std::string outcome = s.hardware ? s.phc_path() + " " + s.filter + (s.transmit ? " tx" : "") : s.reason;
  const auto [previous, inserted] = logged_.try_emplace(s.name, outcome);
  if (!inserted && previous->second == outcome) return;
  previous->second = outcome;
  if (s.hardware) {
    log(Level::info, "hardware_timestamps",
        {{"interface", s.name},
         {"mode", "hardware"},
         {"phc", s.phc_path()},
         {"rx_filter", s.filter},
         {"transmit", s.transmit ? "hardware" : "software (the driver has no hardware transmit stamps)"}});
  } else {
    log(Level::warning, "hardware_timestamps", {{"interface", s.name}, {"mode", "software"}, {"reason", s.reason}});
  }
}

void HardwareClocks::poll(std::chrono::steady_clock::time_point now) {
  if (sampled_ && now - *sampled_ < kSampleInterval) return;
  sampled_ = now;
  for (Interface& interface : interfaces_) {
    if (interface.reader) sample(interface);
  }
}

void HardwareClocks::sample(Interface& interface) {
  const std::string& name = interface.stamps.name;
  std::string error;
  std::vector<reference::PhcReader::Fallback> fallbacks;
  const std::optional<reference::PhcReading> reading = interface.reader->read(error, fallbacks);
  for (const reference::PhcReader::Fallback& fallback : fallbacks) {
    log(Level::info, "phc_cross_timestamp_unsupported",
        {{"interface", name},
         {"device", interface.stamps.phc_path()},
         {"error", fallback.error},
         {"fallback", std::string{reference::to_string(fallback.next)}}});
  }
  if (interface.readable != reading.has_value()) {
    interface.readable = reading.has_value();
    if (reading) {
      log(Level::info, "hardware_clock_readable",
          {{"interface", name},
           {"device", interface.stamps.phc_path()},
           {"method", std::string{reference::to_string(interface.reader->method())}}});
    } else {
      log(Level::warning, "hardware_clock_unreadable",
          {{"interface", name},
           {"device", interface.stamps.phc_path()},
           {"error", error},
           {"detail", "its hardware stamps are not converted until it reads again: software stamps serve"}});
    }
  }
  if (!reading) return;
  const bool had_line = interface.estimator.mapping().has_value();
  if (interface.estimator.add(*reading) == reference::PhcMappingEstimator::Added::restarted && had_line) {
    log(Level::info, "hardware_clock_stepped",
        {{"interface", name},
         {"device", interface.stamps.phc_path()},
         {"detail", "the PHC or the system clock was stepped: its line is drawn afresh"}});
  }
}

ntp::HardwareClocks HardwareClocks::table() const {
  ntp::HardwareClocks table;
  for (const Interface& interface : interfaces_) {
    if (const std::optional<ntp::PhcMapping> line = interface.estimator.mapping(); line && interface.stamps.hardware) {
      table.add(interface.stamps.index, *line);
    }
  }
  return table;
}

bool HardwareClocks::any_hardware() const {
  return std::ranges::any_of(interfaces_, [](const Interface& i) { return i.stamps.hardware; });
}

std::vector<metrics::HardwareTimestampStatus> HardwareClocks::status() const {
  std::vector<metrics::HardwareTimestampStatus> rows;
  for (const Interface& interface : interfaces_) {
    const io::InterfaceStamps& s = interface.stamps;
    metrics::HardwareTimestampStatus row;
    row.interface = s.name;
    row.mode = s.hardware ? "hardware" : "software";
    row.ifindex = s.index;
    row.reason = s.reason;
    if (s.hardware) {
      row.phc = s.phc_path();
      row.filter = s.filter;
      row.transmit = s.transmit;
    }
    if (const std::optional<ntp::PhcMapping> line = interface.estimator.mapping(); line && s.hardware) {
      row.converting = true;
      // In 128 bits: a PHC nobody set may be anywhere in 64.
      const leapdb::Int128 offset = leapdb::Int128{line->system_at.time_since_epoch().count()} - line->phc_at.count();
      row.offset_seconds = static_cast<double>(offset) / 1e9;
      row.rate_ppm = line->rate.ppm();
      row.last_sample = static_cast<double>(line->system_at.time_since_epoch().count()) / 1e9;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace app
