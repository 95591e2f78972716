#pragma once
// The references smeard can serve: the system clock (CLOCK_REALTIME, as a primary server,
// trusting whatever disciplines it: chronyd, ptp4l/phc2sys, ...) and a simulated clock for
// rehearsals and tests.

#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "leapdb/time.hpp"

namespace reference {

// What the kernel says about its clock discipline (adjtimex).
struct KernelClockStatus {
  bool synchronized = false;
  leapdb::Nanoseconds max_error{0};
  leapdb::Nanoseconds estimated_error{0};
  // Where the kernel is in a leap it was told of: repeating 23:59:59 (TIME_OOP), or past it
  // (TIME_WAIT). `time` is its clock as it answered, read together with the state, so it reads
  // 23:59:59 again while repeating; microseconds unless the kernel keeps nanoseconds (STA_NANO).
  enum class Leap : std::uint8_t { none, repeating, done };
  Leap leap = Leap::none;
  leapdb::UtcTime time{};
  leapdb::Nanoseconds time_resolution{1'000};
  friend bool operator==(const KernelClockStatus&, const KernelClockStatus&) = default;
};

KernelClockStatus read_kernel_clock_status();

// Pure. Whether `reading`, taken in the last second before an inserted leap, was taken while
// the kernel repeated that second. `later` was read from the kernel after the reading (a
// packet's receive timestamp is read before the packet is processed, and the kernel may have
// entered or left the repetition in between), and less than a second after it.
bool read_in_repeated_second(leapdb::UtcTime reading, const KernelClockStatus& later);

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
