#pragma once
// Everything a worker needs to answer a request, as one immutable value. The control thread
// builds a new one whenever something changes and publishes it; workers only read it.

#include <cstdint>

#include "leapdb/time.hpp"
#include "server/ntp/packet.hpp"

namespace ntp {

struct Snapshot {
  std::uint8_t stratum = 1;
  std::int8_t precision = -20;
  std::uint32_t reference_id = 0;
  std::uint32_t root_delay = 0;       // NTP short format
  std::uint32_t root_dispersion = 0;  // NTP short format
  leapdb::UtcTime reference_time{};
  LeapIndicator leap = LeapIndicator::none;
};

}  // namespace ntp
