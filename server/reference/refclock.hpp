#pragma once
// What the refclock drivers share (NTP's SHM segment, chrony's SOCK socket): a driver hands over
// whatever samples arrived since the last poll, each a system-clock reading and the reference's
// time then; this turns them into an Estimate through an OffsetTracker, keeps the row of
// `chronyc sources`, and says when samples stop. It stops tracking when no good sample came
// within `timeout`, and the daemon's holdover takes over from there. Pure: drivers do the I/O.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "server/reference/source.hpp"
#include "server/reference/tracker.hpp"

namespace reference {

// One sample from a refclock.
struct RefclockSample {
  leapdb::UtcTime received;  // the system clock when the reference's time was taken
  // The reference's time at `received`: POSIX UTC as NTP's drivers give it, or TAI.
  std::variant<leapdb::UtcTime, leapdb::TaiTime> reference;
  LeapWarning leap = LeapWarning::none;
  std::int8_t precision = -20;  // log2 seconds, as the driver states it
};

// What a driver found since the last poll: samples; records it refused (one sentence each, e.g.
// "leap indicator 3: the reference is not synchronized"), which make the source refused when
// nothing good comes either; notices of its own (drivers log what only they can judge, such as
// malformed datagrams, once); and a failure that stopped it reading at all.
struct RefclockBatch {
  std::vector<RefclockSample> samples;
  std::vector<std::string> refusals;
  std::vector<Notice> notices;
  std::optional<std::string> failure;
};

class RefclockDriver {
 public:
  RefclockDriver() = default;
  RefclockDriver(const RefclockDriver&) = delete;
  RefclockDriver& operator=(const RefclockDriver&) = delete;
  virtual ~RefclockDriver() = default;
  // Never blocks: takes what has arrived.
  virtual void read(RefclockBatch& into) = 0;
};

struct RefclockOptions {
  std::string name;  // "SHM(0)", "SOCK(/run/chrony.ttyS0.sock)"
  std::uint32_t reference_id = 0;
  // Without a good sample for this long the source stops tracking: four missed samples of a
  // 1 Hz source, so one late sample is not a holdover.
  leapdb::Nanoseconds timeout = std::chrono::seconds{4};
};

class RefclockSource final : public Source {
 public:
  RefclockSource(std::unique_ptr<RefclockDriver> driver, RefclockOptions options);
  Estimate poll(const Tick& tick) override;
  std::vector<SourceReport> report() const override;

  // A sample's own error bound: its stated precision, at least a nanosecond.
  static leapdb::Nanoseconds precision_error(std::int8_t precision);
  // Either side of a leap, POSIX readings are ambiguous (the inserted second repeats one).
  static constexpr leapdb::Nanoseconds kLeapGuard = std::chrono::seconds{2};
  // A receive time further ahead of the poll than this is not a reading of this clock.
  static constexpr leapdb::Nanoseconds kFutureSlack = std::chrono::seconds{1};

 private:
  enum class Taken : std::uint8_t { good, outlier, refused };
  Taken take(const RefclockSample& sample, const Tick& tick, std::string& why);
  void log_state();

  std::unique_ptr<RefclockDriver> driver_;
  RefclockOptions options_;
  OffsetTracker tracker_;
  std::optional<leapdb::UtcTime> last_good_;     // receive time of the last good sample
  std::optional<leapdb::UtcTime> last_refused_;  // the poll that last refused a record
  std::string refusal_;                          // why, then
  std::optional<std::string> failure_;           // the driver's, at the last poll
  std::optional<std::pair<SourceState, std::string>> logged_;  // state and why as last logged
  Estimate estimate_;
  SourceReport report_;
};

}  // namespace reference
