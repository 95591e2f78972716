#include "server/reference/quality.hpp"

#include <algorithm>

namespace reference {

std::string_view to_string(Stage stage) {
  switch (stage) {
    case Stage::synchronized: return "synchronized";
    case Stage::holdover: return "holdover";
    case Stage::unsynchronized: return "unsynchronized";
    case Stage::local: return "local";
  }
  return "unknown";
}

Served serve(const Estimate& estimate, const HoldoverPolicy& policy, std::optional<leapdb::TaiTime> last_update,
             leapdb::TaiTime now, leapdb::TaiTime started) {
  Served out;
  ntp::ServedQuality& q = out.quality;
  // A stratum-15 upstream makes us 16, which is no stratum at all.
  q.stratum = static_cast<std::uint8_t>(std::min<int>(estimate.stratum + 1, ntp::kUnsynchronizedStratum));
  q.reference_id = estimate.reference_id;
  q.root_delay = ntp::to_ntp_short(estimate.root_delay);
  q.dispersion = estimate.dispersion;
  q.dispersion_growth = estimate.dispersion_growth;
  q.local_stratum = policy.local_stratum;
  q.last_update = last_update.value_or(started);
  const bool unusable = q.stratum >= ntp::kUnsynchronizedStratum;
  if (!last_update || unusable) {
    q.synchronized_until = leapdb::TaiTime::min();
  } else {
    q.synchronized_until = leapdb::TaiTime::max() - policy.holdover > *last_update ? *last_update + policy.holdover
                                                                                    : leapdb::TaiTime::max();
  }
  if (now < q.synchronized_until) {
    out.stage = estimate.tracking && !unusable ? Stage::synchronized : Stage::holdover;
  } else {
    out.stage = policy.local_stratum != 0 ? Stage::local : Stage::unsynchronized;
  }
  return out;
}

}  // namespace reference
