#pragma once
// Pure. The status value behind /metrics, /status, /readyz and `smearctl status`, from the
// snapshot the workers serve and what the control thread knows besides; so what operators see
// is computed from exactly what clients are answered from.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/metrics/status.hpp"
#include "server/ntp/snapshot.hpp"
#include "server/reference/quality.hpp"
#include "server/reference/source.hpp"

namespace app {

struct StatusInputs {
  std::string version;
  const ntp::Snapshot* snapshot = nullptr;
  leapdb::UtcTime reading{};  // the system clock now
  std::string reference_type;
  std::optional<std::string> selected_source;  // the source replies name now
  std::uint64_t selection_changes = 0;
  reference::Stage stage = reference::Stage::unsynchronized;
  reference::Estimate estimate;
  std::vector<reference::SourceReport> sources;
  bool leap_files_configured = false;
  bool leap_table_loaded = false;
  std::vector<metrics::Traffic> traffic;
  bool workers_running = false;
};

metrics::Status build_status(const StatusInputs& in);

// Each timescale's smear state at `tai`, on the reference's UTC.
std::vector<metrics::TimescaleStatus> timescale_statuses(const ntp::Snapshot& snapshot, leapdb::TaiTime tai);

}  // namespace app
