#pragma once
// Pure. The status value behind /metrics, /status, /readyz and `smearctl status`, from the
// snapshot the workers serve and what the control thread knows besides; so what operators see
// is computed from exactly what clients are answered from.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/counting/talkers.hpp"
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

// Talkers as /status shows them: "192.0.2.1" for IPv4 (mapped) addresses, "2001:db8::1" else.
std::vector<metrics::ClientStatus> client_statuses(const std::vector<counting::Talker>& talkers);
std::string address_text(const std::array<std::uint8_t, 16>& ip);

// Each timescale's smear state at `tai`, on the reference's UTC.
std::vector<metrics::TimescaleStatus> timescale_statuses(const ntp::Snapshot& snapshot, leapdb::TaiTime tai);

}  // namespace app
