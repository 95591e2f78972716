#pragma once
// The kernel's view of the system clock (adjtimex): whether something disciplines it, its error
// bound, its TAI offset and where it is in a leap it was told of; and what that means for a
// reading taken near an inserted second.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "leapdb/table.hpp"
#include "leapdb/time.hpp"

namespace reference {

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
  // A leap the kernel was told to apply at the next UTC midnight (STA_INS, STA_DEL): +1, -1, 0.
  int armed = 0;
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

// Pure. The system clock's TAI for `reading`: the leap table's, plus the kernel's part within a
// second of an inserted leap (`later` read after the reading, as above).
leapdb::TaiTime system_tai(const leapdb::LeapTable& table, leapdb::UtcTime reading, const KernelClockStatus& later);

// Pure. Where the kernel and the leap table disagree at `now`, one sentence each: a TAI offset
// set to another value; a leap armed that the table does not have at the coming midnight; or,
// in the last hours before a leap in the table, a synchronized kernel never told of it
// (whatever disciplines this clock may then slew or smear the leap itself, and smeard's smear
// would come on top).
std::vector<std::string> kernel_disagreements(const KernelClockStatus& status, const leapdb::LeapTable& table,
                                              leapdb::UtcTime now);
inline constexpr std::chrono::hours kKernelLeapArmingWindow{6};

// log2 seconds of the larger of the clock's resolution and the cost of reading it.
std::int8_t measure_precision();

// "GPS" -> 0x47505300: up to four ASCII characters, left-aligned and zero-padded.
std::uint32_t encode_refid(const std::string& text);

}  // namespace reference
