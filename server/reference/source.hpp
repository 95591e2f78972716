#pragma once
// A reference as the control thread sees it. Polled once a control tick (about a second), a
// source does its own non-blocking I/O (a device, a shared-memory segment, a socket) and says
// where true time is relative to the system clock, the clock every kernel timestamp is taken
// on; how well it knows that; and what it knows about leaps. What is judged from the samples
// (filters, selection, discipline) is pure and lives beside each source; what replies claim
// from an estimate is quality.hpp's.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leapdb/table.hpp"
#include "leapdb/time.hpp"
#include "server/ntp/snapshot.hpp"
#include "server/reference/kernel.hpp"
#include "server/reference/ptp4l.hpp"

namespace reference {

// What a reference announces about the coming UTC midnight.
enum class LeapWarning : std::uint8_t { none, insert, remove, unknown };
std::string_view to_string(LeapWarning warning);

// The system clock at one control tick. Sources convert their own system-clock readings to TAI
// with system_tai(table, reading, kernel), the kernel's status read after the reading.
struct Tick {
  const leapdb::LeapTable& table;
  leapdb::UtcTime realtime;           // CLOCK_REALTIME, read first
  leapdb::Nanoseconds monotonic_raw;  // CLOCK_MONOTONIC_RAW, read right after it
  KernelClockStatus kernel;           // read after both
};

struct Estimate {
  // Reference TAI minus the system clock's TAI, as a line through a recent system-clock reading.
  ntp::Correction line;
  // A good sample arrived within the source's expected interval: the line is steered now, not
  // extrapolated. False through holdover.
  bool tracking = false;
  // The system-clock reading of the last good sample; none: never had one.
  std::optional<leapdb::UtcTime> last_update;
  // The root dispersion as of last_update (everything that bounds the error but the root delay:
  // the sample's own error, its upstream's dispersion, the filter's jitter), and how fast it
  // grows from there: RFC 5905's 15 ppm, or more when the frequency is known worse than that.
  leapdb::Nanoseconds dispersion{0};
  leapdb::Rate dispersion_growth = leapdb::Rate::from_ppb(15'000);
  leapdb::Nanoseconds root_delay{0};
  // The reference's own stratum (0 for a refclock, an upstream server's for NTP), and what
  // replies name it by (four ASCII characters for a refclock, an IPv4 address otherwise).
  std::uint8_t stratum = 0;
  std::uint32_t reference_id = 0;
  std::int8_t precision = -30;  // log2 seconds; replies say the worse of this and the system clock's
  LeapWarning leap = LeapWarning::unknown;
  // How many independent clocks agree on this estimate (an upstream source: its servers that
  // agree); each is a vote in the selection among sources.
  std::size_t voices = 1;
};

// One row of `chronyc sources`.
enum class SourceState : std::uint8_t {
  selected,     // steers the estimate
  candidate,    // usable, agrees with the selection, not (alone) steering
  falseticker,  // disagrees with the others
  unreachable,  // no good sample lately
  refused,      // refused outright: smears, unsynchronized, a kiss-o'-death, a bad device
};
std::string_view to_string(SourceState state);

struct SourceReport {
  std::string name;  // "system", "/dev/ptp0", "SHM(0)", "SOCK(/run/...)", "ntp1.example.net", "192.0.2.1:123"
  SourceState state = SourceState::unreachable;
  int stratum = 0;
  std::chrono::seconds poll{1};
  std::uint8_t reach = 0;  // the last eight polls, newest in bit 0
  // The last good sample: its offset (reference minus system clock), path delay and error.
  std::optional<leapdb::Nanoseconds> offset;
  std::optional<leapdb::Nanoseconds> delay;
  std::optional<leapdb::Nanoseconds> error;
  std::optional<leapdb::UtcTime> last_sample;  // system clock
  std::string why;  // for refused and falseticker sources: one sentence
  std::string type;  // the configured source's: "system", "phc", "upstream"...
  // An upstream association's address now, "192.0.2.1:123" (its name is `name`); empty for a
  // vacant one (a pool not filled, a name that did not resolve) and for other sources.
  std::string address;
  std::uint64_t unauthentic = 0;  // replies dropped because they failed authentication
};

// Something worth a log line, as a value: sources do not log, the daemon does.
struct Notice {
  enum class Level : std::uint8_t { info, warning, error };
  Level level = Level::info;
  std::string event;  // e.g. "source_refused"
  std::vector<std::pair<std::string, std::string>> fields;
};

class Source {
 public:
  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  virtual ~Source() = default;

  // Never blocks for long: reads what has arrived, sends what is due.
  virtual Estimate poll(const Tick& tick) = 0;
  virtual std::vector<SourceReport> report() const = 0;
  std::vector<Notice> take_notices() { return std::exchange(notices_, {}); }

 protected:
  void notice(Notice::Level level, std::string event, std::vector<std::pair<std::string, std::string>> fields) {
    notices_.push_back(Notice{level, std::move(event), std::move(fields)});
  }
  // ptp4l's verdict on the clock this source reads, logged when it changes.
  ptp4l::Verdict ask_ptp4l(ptp4l::Monitor& monitor, const std::string& source, leapdb::Nanoseconds raw) {
    ptp4l::Verdict verdict = monitor.poll(raw);
    if (monitor.changed()) {
      notice(verdict.synchronized ? Notice::Level::info : Notice::Level::warning, "ptp4l_state",
             {{"source", source}, {"ptp4l", monitor.path()},
              {"port_state", verdict.port_state.empty() ? "unknown" : verdict.port_state},
              {"synchronized", verdict.synchronized ? "true" : "false"}, {"why", verdict.why}});
    }
    return verdict;
  }

 private:
  std::vector<Notice> notices_;
};

}  // namespace reference
