#include "server/reference/refclock.hpp"

#include <algorithm>
#include <cmath>

namespace reference {
namespace {

std::string whole_seconds(leapdb::Nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

RefclockSource::RefclockSource(std::unique_ptr<RefclockDriver> driver, RefclockOptions options)
    : driver_(std::move(driver)), options_(std::move(options)) {
  report_.name = options_.name;
  report_.why = "no sample yet";
  estimate_.stratum = 0;
  estimate_.reference_id = options_.reference_id;
  estimate_.leap = LeapWarning::unknown;
}

leapdb::Nanoseconds RefclockSource::precision_error(std::int8_t precision) {
  return leapdb::Nanoseconds{std::max<std::int64_t>(std::llround(std::ldexp(1e9, precision)), 1)};
}

RefclockSource::Taken RefclockSource::take(const RefclockSample& sample, const Tick& tick, std::string& why) {
  const leapdb::Nanoseconds age = tick.realtime - sample.received;
  if (age > options_.timeout) {
    // A segment's last sample outlives its writer: gpsd stopped, the segment stayed.
    why = "a stale sample, older than " + whole_seconds(options_.timeout) + ": whatever writes it has stopped";
    return Taken::refused;
  }
  if (age < -kFutureSlack) {
    why = "a sample received after this poll: its receive time is not this system clock's";
    return Taken::refused;
  }
  const bool utc = std::holds_alternative<leapdb::UtcTime>(sample.reference);
  const leapdb::UtcTime reference_utc =
      utc ? std::get<leapdb::UtcTime>(sample.reference) : tick.table.to_utc(std::get<leapdb::TaiTime>(sample.reference));
  if (tick.table.leap_within(sample.received, kLeapGuard) || tick.table.leap_within(reference_utc, kLeapGuard)) {
    why = "a sample within " + whole_seconds(kLeapGuard) + " of a leap second, where POSIX times are ambiguous";
    return Taken::refused;
  }
  const leapdb::TaiTime reference_tai =
      utc ? tick.table.to_tai(reference_utc) : std::get<leapdb::TaiTime>(sample.reference);
  const leapdb::Nanoseconds offset = reference_tai - system_tai(tick.table, sample.received, tick.kernel);
  const leapdb::Nanoseconds error = precision_error(sample.precision);
  if (!tracker_.add({sample.received, offset, error})) return Taken::outlier;

  last_good_ = sample.received;
  report_.offset = offset;
  report_.error = error;
  report_.last_sample = sample.received;
  estimate_.precision = sample.precision;
  estimate_.leap = sample.leap;
  return Taken::good;
}

Estimate RefclockSource::poll(const Tick& tick) {
  RefclockBatch batch;
  driver_->read(batch);
  for (Notice& n : batch.notices) notice(n.level, std::move(n.event), std::move(n.fields));

  bool good = false;
  std::string why;
  for (const RefclockSample& sample : batch.samples) {
    switch (take(sample, tick, why)) {
      case Taken::good: good = true; break;
      case Taken::outlier: break;  // the tracker's business; a run of them restarts its line
      case Taken::refused:
        last_refused_ = tick.realtime;
        refusal_ = why;
        break;
    }
  }
  for (const std::string& refusal : batch.refusals) {
    last_refused_ = tick.realtime;
    refusal_ = refusal;
  }
  failure_ = batch.failure;

  const auto recent = [&](const std::optional<leapdb::UtcTime>& at) {
    if (!at) return false;
    const leapdb::Nanoseconds age = tick.realtime - *at;
    return age >= -kFutureSlack && age <= options_.timeout;
  };
  const std::optional<OffsetTracker::Fit> fit = tracker_.fit();
  const bool tracking = recent(last_good_) && fit.has_value();

  estimate_.tracking = tracking;
  if (fit) {
    estimate_.line = fit->line;
    estimate_.dispersion = fit->error;
  }
  estimate_.last_update = last_good_;
  if (!last_good_) estimate_.line = ntp::Correction{tick.realtime, {}, {}};

  report_.reach = static_cast<std::uint8_t>((report_.reach << 1) | (good ? 1 : 0));
  if (tracking) {
    report_.state = SourceState::selected;
    report_.why.clear();
  } else if (recent(last_refused_)) {
    report_.state = SourceState::refused;
    report_.why = refusal_;
  } else {
    report_.state = SourceState::unreachable;
    report_.why = failure_ ? *failure_
                  : last_good_ ? "no good sample for " + whole_seconds(tick.realtime - *last_good_)
                               : "no sample yet";
  }
  log_state();
  return estimate_;
}

void RefclockSource::log_state() {
  // Unreachable's why counts seconds; only its first one is news.
  const std::string why = report_.state == SourceState::refused ? report_.why : "";
  if (logged_ && logged_->first == report_.state && logged_->second == why) return;
  logged_ = std::pair{report_.state, why};
  switch (report_.state) {
    case SourceState::selected:
      notice(Notice::Level::info, "refclock_reachable",
             {{"source", options_.name},
              {"offset_ns", std::to_string(report_.offset.value_or(leapdb::Nanoseconds{0}).count())}});
      break;
    case SourceState::refused:
      notice(Notice::Level::warning, "refclock_refused", {{"source", options_.name}, {"why", report_.why}});
      break;
    default:
      notice(Notice::Level::warning, "refclock_unreachable", {{"source", options_.name}, {"why", report_.why}});
      break;
  }
}

std::vector<SourceReport> RefclockSource::report() const { return {report_}; }

}  // namespace reference
