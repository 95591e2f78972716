#pragma once
// The system clock (CLOCK_REALTIME) as the reference: smeard serves it as a primary
// (stratum 1) server, trusting whatever disciplines it (chronyd, ptp4l/phc2sys, ...).

#include <cstdint>

#include "config/config.hpp"
#include "leapdb/time.hpp"
#include "server/ntp/snapshot.hpp"

namespace reference {

// What the kernel says about its clock discipline (adjtimex).
struct KernelClockStatus {
  bool synchronized = false;
  leapdb::Nanoseconds max_error{0};
  leapdb::Nanoseconds estimated_error{0};
  friend bool operator==(const KernelClockStatus&, const KernelClockStatus&) = default;
};

KernelClockStatus read_kernel_clock_status();

// log2 seconds of the larger of the clock's resolution and the cost of reading it.
std::int8_t measure_precision();

// Pure: the snapshot served for the system reference at `now`. An unsynchronized kernel
// clock is still served (many hosts are disciplined in ways the kernel does not see, e.g.
// by a hypervisor), with no error bound claimed; the daemon logs that it is doing so.
ntp::Snapshot system_snapshot(const config::Reference& reference, const KernelClockStatus& status,
                              std::int8_t precision, leapdb::UtcTime now);

// "GPS" -> 0x47505300: up to four ASCII characters, left-aligned and zero-padded.
std::uint32_t encode_refid(const std::string& text);

}  // namespace reference
