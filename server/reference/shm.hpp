#pragma once
// NTP's shared-memory refclock: a SysV segment (key 0x4e545030 + unit) in ntpd's shmTime layout
// that gpsd (or any other writer) fills once a second with the reference's time and the system
// clock's reading when that time was taken. Each poll reads it once: in mode 0 whenever `valid`
// is set, in mode 1 only if `count` did not change during the read (the writer bumps it before
// and after writing); then clears `valid`, so a sample is taken once. Leap indicator 3 (the
// writer's alarm: no fix) refuses the sample.
//
// smeard attaches the segment, creating it if absent (0600 for units 0 and 1, 0666 from 2, as
// ntpd and gpsd do, so a gpsd started later, or one running unprivileged on units 2 and up, can
// attach), and never removes it: gpsd may still be attached, and ntpd and chrony leave theirs too.

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "server/reference/refclock.hpp"

namespace reference {

inline constexpr std::uint32_t kShmKeyBase = 0x4e545030;  // "NTP0"

// ntpd's struct shmTime, field for field (the names are the well-known ones): 96 bytes on
// LP64, and what every writer expects.
struct ShmTime {
  int mode;  // 0: plain; 1: count handshake
  int count;
  std::time_t clockTimeStampSec;  // the reference's time (UTC)
  int clockTimeStampUSec;
  std::time_t receiveTimeStampSec;  // the system clock then
  int receiveTimeStampUSec;
  int leap;  // 0 none, 1 insert, 2 delete, 3 alarm
  int precision;
  int nsamples;
  int valid;
  unsigned clockTimeStampNSec;  // newer writers: the nanoseconds, agreeing with the usec fields
  unsigned receiveTimeStampNSec;
  int dummy[8];
};
static_assert(sizeof(std::time_t) != 8 || sizeof(ShmTime) == 96);

// The segment, as the handshake reads it. The real one reads shared memory with barriers
// around each count; a test's is a struct in ordinary memory that may change under the read.
class ShmSegment {
 public:
  ShmSegment() = default;
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;
  virtual ~ShmSegment() = default;
  virtual int count() = 0;
  virtual ShmTime copy() = 0;
  virtual void clear_valid() = 0;
};

// The segment attached, or null and `error` set ("shmget(0x4e545030): Permission denied ...").
// `existing` only: a segment that does not exist yet is not created (null, `error` empty), as
// --check-config must not: run as root, it would leave one an unprivileged smeard cannot attach.
enum class ShmOpening : std::uint8_t { create, existing };
std::unique_ptr<ShmSegment> open_shm_segment(unsigned unit, std::string& error,
                                             ShmOpening opening = ShmOpening::create);

// Pure. Why smeard, running as `uid`, may not attach `unit`'s existing segment, and what to
// change; from /proc/sysvipc/shm's text (its owner and mode). Empty when the segment is not in
// it. gpsd run as root creates units 0 and 1 for its first device, mode 0600 and owned by root,
// which an unprivileged smeard then cannot attach.
std::string shm_permission_advice(unsigned unit, std::string_view sysvipc_shm, unsigned uid);

// Pure. One read of the segment.
struct ShmRead {
  enum class Status : std::uint8_t {
    empty,    // valid is 0: nothing new
    torn,     // mode 1 and the count moved: the writer was writing; valid left for the next poll
    sample,
    refused,  // consistent but unusable (leap 3, an unknown mode, fields out of range): `why`
  };
  Status status = Status::empty;
  RefclockSample sample;
  std::string why;
};
ShmRead read_shm(ShmSegment& segment);

struct ShmOptions {
  unsigned unit = 0;
  std::uint32_t reference_id = 0;
};

std::unique_ptr<Source> make_shm_source(const ShmOptions& options, std::string& error);
std::unique_ptr<Source> make_shm_source(std::unique_ptr<ShmSegment> segment, const ShmOptions& options);

}  // namespace reference
