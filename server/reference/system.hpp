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
  bool in_inserted_second = false;  // TIME_OOP: 23:59:59 is being repeated
  leapdb::Nanoseconds max_error{0};
  leapdb::Nanoseconds estimated_error{0};
  friend bool operator==(const KernelClockStatus&, const KernelClockStatus&) = default;
};

KernelClockStatus read_kernel_clock_status();

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
