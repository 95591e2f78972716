#pragma once
// Pure. What replies may claim from a reference's estimate: stratum, refid, root delay and
// dispersion, the last update, and how long that holds once the reference stops steering
// (holdover), after which they say unsynchronized, or serve this clock at a local stratum.

#include <chrono>
#include <cstdint>
#include <string_view>

#include "server/ntp/snapshot.hpp"
#include "server/reference/source.hpp"

namespace reference {

struct HoldoverPolicy {
  leapdb::Nanoseconds holdover = std::chrono::hours{1};
  std::uint8_t local_stratum = 0;  // 0: unsynchronized (LI=3, stratum 16) after holdover
};

enum class Stage : std::uint8_t {
  synchronized,    // the reference steers the served time now
  holdover,        // it stopped; served from its last estimate, the dispersion growing
  unsynchronized,  // replies say LI=3, stratum 16
  local,           // replies serve this clock at the local stratum
};
std::string_view to_string(Stage stage);

struct Served {
  ntp::ServedQuality quality;
  Stage stage = Stage::unsynchronized;
};

// `last_update` and `now` are the estimate's last_update and the present on the TAI axis the
// snapshot serves from; `started` stands in for a last update that never happened, so a local
// stratum's dispersion grows from when smeard started.
Served serve(const Estimate& estimate, const HoldoverPolicy& policy, std::optional<leapdb::TaiTime> last_update,
             leapdb::TaiTime now, leapdb::TaiTime started);

}  // namespace reference
