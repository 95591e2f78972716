#pragma once
// The references smeard can serve: the system clock (CLOCK_REALTIME, as a primary server,
// trusting whatever disciplines it: chronyd, ptp4l/phc2sys, ...) and a simulated clock for
// rehearsals and tests.

#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "leapdb/table.hpp"
#include "leapdb/time.hpp"

namespace reference {

// What the kernel says about its clock discipline (adjtimex).
struct KernelClockStatus {
  bool synchronized = false;
  leapdb::Nanoseconds max_error{0};
  leapdb::Nanoseconds estimated_error{0};
  // Where the kernel is in a leap it was told of: repeating 23:59:59 (TIME_OOP), or past it
  // (TIME_WAIT); `hidden` when it reports a clock error (TIME_ERROR: unsynchronised, PPS
  // trouble) instead. `time` is its clock as adjtimex answered, which reads 23:59:59 again while
  // repeating, even in the tick before the kernel steps its own clock back; microseconds unless
  // the kernel keeps nanoseconds (STA_NANO). `tai`: its TAI-UTC, 0 when nobody set it.
  enum class Leap : std::uint8_t { none, repeating, done, hidden };
  Leap leap = Leap::none;
  leapdb::UtcTime time{};
  leapdb::Nanoseconds time_resolution{1'000};
  int tai = 0;
  friend bool operator==(const KernelClockStatus&, const KernelClockStatus&) = default;
};

KernelClockStatus read_kernel_clock_status();

// Pure. What the kernel's own handling of the inserted `leap` adds to the TAI the leap table
// gives for `reading`, one taken within a second of the leap: +1 s for a reading in the
// repeated 23:59:59; -1 s for one taken in the repetition's first tick, before the kernel
// stepped its clock back (it read past midnight); 0 otherwise. `later` was read from the kernel
// after the reading (a packet's receive timestamp is read before the packet is processed, and
// the kernel may have entered or left the repetition in between), less than a second after it.
std::chrono::seconds kernel_leap_correction(leapdb::UtcTime reading, const leapdb::Leap& leap,
                                            const KernelClockStatus& later);

// log2 seconds of the larger of the clock's resolution and the cost of reading it.
std::int8_t measure_precision();

// What the reference tells the clients about itself.
struct ReferenceState {
  std::uint8_t stratum = 1;
  std::int8_t precision = -20;
  std::uint32_t reference_id = 0;
  leapdb::Nanoseconds root_delay{0};
  leapdb::Nanoseconds root_dispersion{0};
  leapdb::UtcTime read_at{};  // the real-clock reading the state was taken at
};

// Pure. An unsynchronized kernel clock is still served (many hosts are disciplined in ways
// the kernel does not see, e.g. by a hypervisor), with no error bound claimed; the daemon logs
// that it is doing so. A simulated reference claims no error.
ReferenceState reference_state(const config::Reference& reference, const KernelClockStatus& status,
                               std::int8_t precision, leapdb::UtcTime now);

// "GPS" -> 0x47505300: up to four ASCII characters, left-aligned and zero-padded.
std::uint32_t encode_refid(const std::string& text);

}  // namespace reference
