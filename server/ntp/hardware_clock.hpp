#pragma once
// Pure. A hardware receive or transmit stamp is a reading of the NIC's PTP hardware clock
// (PHC), not of the system clock every other stamp is taken on. The control thread samples each
// such PHC against the system clock and publishes in the snapshot, per interface, a line from
// PHC readings to system-clock readings. A worker turns a hardware stamp into the system-clock
// reading it stands for with one small search and a multiply, or learns that it cannot (no line
// for that interface, a line too old for the stamp) and keeps the software stamp.

#include <array>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <optional>

#include "leapdb/time.hpp"

namespace ntp {

// system = system_at + (phc - phc_at) * (1 + rate), for PHC readings within `reach` of phc_at.
struct PhcMapping {
  leapdb::Nanoseconds phc_at{0};  // a PHC reading, nanoseconds on its own timescale
  leapdb::UtcTime system_at{};    // the system clock then
  leapdb::Rate rate{};            // the system clock's rate over the PHC's, minus 1
  leapdb::Nanoseconds reach{0};   // how far either side of phc_at the line is trusted; 0: not at all

  // None beyond reach (the control thread stopped sampling, or the PHC was stepped since) or
  // outside the years leap data covers. The rounding is towards minus infinity.
  std::optional<leapdb::UtcTime> to_system(leapdb::Nanoseconds phc) const;
  // Where the line puts the system clock at a PHC reading, in nanoseconds, however far away.
  leapdb::Int128 line_at(leapdb::Nanoseconds phc) const;
  friend bool operator==(const PhcMapping&, const PhcMapping&) = default;
};

// A hardware stamp as the kernel reports it (SCM_TIMESTAMPING's ts[2]) in nanoseconds; none for
// the zero stamp (the kernel's "no hardware stamp"), a malformed one, or one beyond 64 bits.
std::optional<leapdb::Nanoseconds> phc_nanoseconds(const timespec& stamp);

// The interfaces whose hardware stamps workers can convert, by interface index: a fixed table,
// so a lookup on the hot path neither allocates nor follows a pointer.
class HardwareClocks {
 public:
  static constexpr std::size_t kCapacity = 16;

  // False when the table is full or the index is 0 (no interface) or already there.
  bool add(unsigned ifindex, const PhcMapping& mapping);
  const PhcMapping* find(unsigned ifindex) const;
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The system-clock reading a hardware stamp taken on interface `ifindex` (SCM_TIMESTAMPING_PKTINFO's
  // if_index) stands for; none, and the worker keeps the software stamp, when it cannot tell.
  std::optional<leapdb::UtcTime> to_system(const timespec& stamp, unsigned ifindex) const;

  friend bool operator==(const HardwareClocks&, const HardwareClocks&) = default;

 private:
  struct Entry {
    unsigned ifindex = 0;
    PhcMapping mapping;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  std::array<Entry, kCapacity> entries_{};
  std::size_t size_ = 0;
};

}  // namespace ntp
