#include "server/reference/shm.hpp"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace reference {
namespace {

class KernelShm final : public ShmSegment {
 public:
  explicit KernelShm(void* address) : shm_(static_cast<volatile ShmTime*>(address)) {}
  ~KernelShm() override { ::shmdt(const_cast<ShmTime*>(shm_)); }
  KernelShm(const KernelShm&) = delete;
  KernelShm& operator=(const KernelShm&) = delete;

  // The fences keep the reads of the other fields between the two reads of count, on the
  // compiler's side and the CPU's; the writer fences its side the same way.
  int count() override {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const int value = shm_->count;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return value;
  }

  ShmTime copy() override {
    ShmTime t{};
    t.mode = shm_->mode;
    t.count = shm_->count;
    t.clockTimeStampSec = shm_->clockTimeStampSec;
    t.clockTimeStampUSec = shm_->clockTimeStampUSec;
    t.receiveTimeStampSec = shm_->receiveTimeStampSec;
    t.receiveTimeStampUSec = shm_->receiveTimeStampUSec;
    t.leap = shm_->leap;
    t.precision = shm_->precision;
    t.nsamples = shm_->nsamples;
    t.valid = shm_->valid;
    t.clockTimeStampNSec = shm_->clockTimeStampNSec;
    t.receiveTimeStampNSec = shm_->receiveTimeStampNSec;
    return t;
  }

  void clear_valid() override {
    shm_->valid = 0;
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

 private:
  volatile ShmTime* shm_;
};

std::string hex_key(unsigned unit) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", kShmKeyBase + unit);
  return text;
}

// Seconds beyond this overflow nanoseconds in 64 bits (the year 2255 is far enough).
constexpr std::int64_t kMaxSeconds = 9'000'000'000;

// A time from the segment's seconds and nanoseconds, or none when out of range.
std::optional<leapdb::UtcTime> segment_time(std::time_t seconds, std::int64_t nanoseconds) {
  const std::int64_t s = seconds;
  if (s < 0 || s >= kMaxSeconds || nanoseconds < 0 || nanoseconds >= 1'000'000'000) return std::nullopt;
  return leapdb::utc_from_unix_nanoseconds(s * 1'000'000'000 + nanoseconds);
}

}  // namespace

ShmRead read_shm(ShmSegment& segment) {
  ShmRead out;
  const int before = segment.count();
  const ShmTime t = segment.copy();
  const int after = segment.count();
  if (t.mode != 0 && t.mode != 1) {
    // Not ours to clear: a segment in a layout we do not know.
    out.status = ShmRead::Status::refused;
    out.why = "the segment is in mode " + std::to_string(t.mode) + " (only modes 0 and 1 are defined)";
    return out;
  }
  if (t.valid == 0) return out;
  if (t.mode == 1 && before != after) {
    out.status = ShmRead::Status::torn;
    return out;
  }
  // Taken: the same sample is not read again.
  segment.clear_valid();

  // Writers that predate the nanosecond fields leave them zero (or, in old layouts, garbage):
  // they count only when both agree with the microseconds.
  const bool usec_in_range = t.clockTimeStampUSec >= 0 && t.clockTimeStampUSec < 1'000'000 &&
                             t.receiveTimeStampUSec >= 0 && t.receiveTimeStampUSec < 1'000'000;
  if (!usec_in_range) {
    out.status = ShmRead::Status::refused;
    out.why = "the segment's microsecond fields are out of range";
    return out;
  }
  const bool nsec_agree = t.clockTimeStampNSec / 1000 == static_cast<unsigned>(t.clockTimeStampUSec) &&
                          t.receiveTimeStampNSec / 1000 == static_cast<unsigned>(t.receiveTimeStampUSec);
  const std::int64_t clock_ns = nsec_agree ? std::int64_t{t.clockTimeStampNSec} : std::int64_t{t.clockTimeStampUSec} * 1000;
  const std::int64_t receive_ns =
      nsec_agree ? std::int64_t{t.receiveTimeStampNSec} : std::int64_t{t.receiveTimeStampUSec} * 1000;
  const std::optional<leapdb::UtcTime> clock = segment_time(t.clockTimeStampSec, clock_ns);
  const std::optional<leapdb::UtcTime> received = segment_time(t.receiveTimeStampSec, receive_ns);
  if (!clock || !received) {
    out.status = ShmRead::Status::refused;
    out.why = "the segment's times are out of range";
    return out;
  }

  switch (t.leap) {
    case 0: out.sample.leap = LeapWarning::none; break;
    case 1: out.sample.leap = LeapWarning::insert; break;
    case 2: out.sample.leap = LeapWarning::remove; break;
    case 3:
      out.status = ShmRead::Status::refused;
      out.why = "leap indicator 3: the writer says the reference is not synchronized (gpsd: no fix yet)";
      return out;
    default:
      out.status = ShmRead::Status::refused;
      out.why = "leap " + std::to_string(t.leap) + " is no NTP leap indicator";
      return out;
  }
  out.status = ShmRead::Status::sample;
  out.sample.received = *received;
  out.sample.reference = *clock;
  // Coarser than a second is no time service; finer than a nanosecond says nothing more.
  out.sample.precision = static_cast<std::int8_t>(std::clamp(t.precision, -30, 0));
  return out;
}

namespace {

class ShmDriver final : public RefclockDriver {
 public:
  explicit ShmDriver(std::unique_ptr<ShmSegment> segment) : segment_(std::move(segment)) {}

  void read(RefclockBatch& into) override {
    ShmRead got = read_shm(*segment_);
    switch (got.status) {
      case ShmRead::Status::sample: into.samples.push_back(got.sample); break;
      case ShmRead::Status::refused: into.refusals.push_back(std::move(got.why)); break;
      case ShmRead::Status::empty:
      case ShmRead::Status::torn: break;  // a torn read is retried at the next poll
    }
  }

 private:
  std::unique_ptr<ShmSegment> segment_;
};

struct SegmentOwner {
  unsigned uid = 0;
  unsigned mode = 0;
};

// /proc/sysvipc/shm: a header, then per segment "key shmid perms size cpid lpid nattch uid gid
// cuid cgid ...", the key in decimal and perms in octal.
std::optional<SegmentOwner> find_owner(std::string_view sysvipc_shm, key_t key) {
  std::istringstream lines{std::string{sysvipc_shm}};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields{line};
    long long line_key = 0;
    std::string shmid, size, cpid, lpid, nattch;
    SegmentOwner owner;
    if (fields >> line_key >> shmid >> std::oct >> owner.mode >> std::dec >> size >> cpid >> lpid >> nattch >>
            owner.uid &&
        line_key == key) {
      owner.mode &= 0777u;  // above them: SHM_DEST and SHM_LOCKED
      return owner;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string shm_permission_advice(unsigned unit, std::string_view sysvipc_shm, unsigned uid) {
  const std::optional<SegmentOwner> owner = find_owner(sysvipc_shm, static_cast<key_t>(kShmKeyBase + unit));
  if (!owner) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", owner->mode);
  const std::string found = "the segment exists, owned by uid " + std::to_string(owner->uid) + " with mode " + mode +
                            ", and smeard runs as uid " + std::to_string(uid) + ": ";
  if (unit < 2) {
    return found +
           "gpsd, run as root, creates units 0 and 1 so when it starts first. Stop gpsd, remove the segment "
           "(ipcrm -M " +
           hex_key(unit) +
           ") and start smeard before gpsd (smeard.service is ordered Before=gpsd.service): smeard then creates "
           "it, and gpsd, as root, attaches it. Or run gpsd unprivileged and use a unit from 2 up, which it "
           "creates with mode 0666";
  }
  return found + "remove the segment (ipcrm -M " + hex_key(unit) +
         ") while its writer is stopped and start smeard first, which creates it with mode 0666; or run smeard as "
         "uid " +
         std::to_string(owner->uid);
}

namespace {

// What shm_permission_advice() says of `unit` for this process, from the kernel's table.
std::string permission_advice(unsigned unit) {
  std::ifstream proc{"/proc/sysvipc/shm"};
  const std::string table{std::istreambuf_iterator<char>{proc}, std::istreambuf_iterator<char>{}};
  const std::string advice = shm_permission_advice(unit, table, ::geteuid());
  return advice.empty() ? " (the segment exists with permissions that do not let smeard attach it)" : ": " + advice;
}

}  // namespace

std::unique_ptr<ShmSegment> open_shm_segment(unsigned unit, std::string& error, ShmOpening opening) {
  const key_t key = static_cast<key_t>(kShmKeyBase + unit);
  const int permissions = unit < 2 ? 0600 : 0666;
  const int id = ::shmget(key, sizeof(ShmTime), opening == ShmOpening::create ? IPC_CREAT | permissions : 0);
  if (id < 0) {
    const int code = errno;
    if (code == ENOENT && opening == ShmOpening::existing) return nullptr;
    error = "shmget(" + hex_key(unit) + "): " + std::strerror(code);
    if (code == EINVAL) error += " (a segment with this key exists, smaller than ntpd's shmTime)";
    if (code == EACCES) error += permission_advice(unit);
    return nullptr;
  }
  void* address = ::shmat(id, nullptr, 0);
  if (address == reinterpret_cast<void*>(std::intptr_t{-1})) {
    const int code = errno;
    error = "shmat(" + hex_key(unit) + "): " + std::strerror(code);
    // Without IPC_CREAT, shmget does not check the mode: attaching does.
    if (code == EACCES) error += permission_advice(unit);
    return nullptr;
  }
  return std::make_unique<KernelShm>(address);
}

std::unique_ptr<Source> make_shm_source(std::unique_ptr<ShmSegment> segment, const ShmOptions& options) {
  return std::make_unique<RefclockSource>(std::make_unique<ShmDriver>(std::move(segment)),
                                          RefclockOptions{"SHM(" + std::to_string(options.unit) + ")",
                                                          options.reference_id, std::chrono::seconds{4}});
}

std::unique_ptr<Source> make_shm_source(const ShmOptions& options, std::string& error) {
  std::unique_ptr<ShmSegment> segment = open_shm_segment(options.unit, error);
  if (!segment) return nullptr;
  return make_shm_source(std::move(segment), options);
}

}  // namespace reference
