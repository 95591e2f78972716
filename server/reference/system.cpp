#include "server/reference/system.hpp"

#include <algorithm>

namespace reference {

Estimate SystemSource::poll(const Tick& tick) {
  const KernelClockStatus& kernel = tick.kernel;
  std::vector<std::string> problems = kernel_disagreements(kernel, tick.table, tick.realtime);
  for (const std::string& problem : problems) {
    if (std::ranges::find(disagreements_, problem) == disagreements_.end()) {
      notice(Notice::Level::warning, "kernel_leap_disagreement", {{"problem", problem}});
    }
  }
  if (!disagreements_.empty() && problems.empty()) {
    notice(Notice::Level::info, "kernel_leap_agreement", {{"detail", "the kernel and the leap table agree again"}});
  }
  disagreements_ = std::move(problems);

  const int table_tai = tick.table.tai_utc_at(tick.realtime);
  const bool tai_agrees = !options_.tai || kernel.tai == table_tai;
  std::optional<ptp4l::Verdict> steered;
  if (ptp4l_) steered = ask_ptp4l(*ptp4l_, "system", tick.monotonic_raw);
  const bool ptp_synchronized = !steered || steered->synchronized;
  const bool usable = kernel.synchronized && tai_agrees && ptp_synchronized;
  if (!synchronized_ || *synchronized_ != usable) {
    if (usable) {
      notice(Notice::Level::info, "system_clock_synchronized",
             {{"max_error_ns", std::to_string(kernel.max_error.count())},
              {"estimated_error_ns", std::to_string(kernel.estimated_error.count())}});
    } else if (!ptp_synchronized) {
      notice(Notice::Level::warning, "system_clock_unsynchronized", {{"detail", steered->why}});
    } else if (!kernel.synchronized) {
      notice(Notice::Level::warning, "system_clock_unsynchronized",
             {{"detail", "the kernel reports no clock discipline (adjtimex): after holdover replies say so, "
                         "unless unsynchronized.local_stratum is set"}});
    } else {
      notice(Notice::Level::warning, "system_clock_unsynchronized",
             {{"detail", "clock: tai needs the kernel's TAI offset (" + std::to_string(kernel.tai) +
                             " s) set to the leap table's (" + std::to_string(table_tai) + " s)"}});
    }
    synchronized_ = usable;
  }

  estimate_.line = ntp::Correction{tick.realtime, {}, {}};
  estimate_.tracking = usable;
  estimate_.stratum = 0;
  estimate_.reference_id = options_.reference_id;
  estimate_.precision = options_.precision;
  estimate_.leap = kernel.armed > 0 ? LeapWarning::insert : kernel.armed < 0 ? LeapWarning::remove : LeapWarning::none;
  if (usable) {
    // The discipline sets the kernel's maximum error to its root distance; it is all we know.
    estimate_.last_update = tick.realtime;
    estimate_.dispersion = kernel.max_error;
    estimate_.root_delay = {};
  }
  report_.state = usable ? SourceState::selected : !ptp_synchronized ? SourceState::refused : SourceState::unreachable;
  report_.reach = static_cast<std::uint8_t>((report_.reach << 1) | (usable ? 1 : 0));
  report_.why = usable                 ? ""
                : !ptp_synchronized    ? steered->why
                : kernel.synchronized  ? "the kernel's TAI offset disagrees with the leap table"
                                       : "the kernel says the clock is unsynchronized";
  if (usable) {
    report_.offset = leapdb::Nanoseconds{0};
    report_.error = kernel.max_error;
    report_.last_sample = tick.realtime;
  }
  return estimate_;
}

std::vector<SourceReport> SystemSource::report() const { return {report_}; }

Estimate SimulatedSource::poll(const Tick& tick) {
  last_ = tick.realtime;
  Estimate e;
  e.line = ntp::Correction{tick.realtime, {}, {}};
  e.tracking = true;
  e.last_update = tick.realtime;
  e.dispersion_growth = {};
  e.reference_id = reference_id_;
  e.leap = LeapWarning::unknown;
  return e;
}

std::vector<SourceReport> SimulatedSource::report() const {
  SourceReport r;
  r.name = "simulated";
  r.state = SourceState::selected;
  r.reach = 0xff;
  r.offset = leapdb::Nanoseconds{0};
  r.error = leapdb::Nanoseconds{0};
  r.last_sample = last_;
  return {r};
}

}  // namespace reference
