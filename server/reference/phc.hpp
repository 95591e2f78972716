#pragma once
// A PTP hardware clock (/dev/ptpN) as the reference, typically a NIC's clock that ptp4l keeps
// on a grandmaster's TAI. Each poll takes one cross-timestamp (the PHC against CLOCK_REALTIME)
// with the best method the driver has: PTP_SYS_OFFSET_PRECISE (the hardware latches both
// clocks at once), PTP_SYS_OFFSET_EXTENDED (system readings right around each PHC read),
// PTP_SYS_OFFSET (system readings between PHC reads), and plain clock_gettime on the PHC's
// dynamic clock id. A method the driver refuses is dropped once, for good. The samples go
// through an OffsetTracker, whose line is the estimate. A PHC says nothing about leaps.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/reference/source.hpp"
#include "server/reference/tracker.hpp"

namespace reference {

// Best first.
enum class CrossTimestamp : std::uint8_t { precise, extended, basic, clock_gettime };
std::string_view to_string(CrossTimestamp method);

// Only PRECISE has a capability bit (PTP_CLOCK_GETCAPS); drivers without EXTENDED or the basic
// ioctl say so when asked (EOPNOTSUPP), and clock_gettime always works.
struct PhcCapabilities {
  bool precise = false;
  bool extended = true;
  bool basic = true;
};

// One PHC reading and the system clock read just before and just after it (the same reading
// twice for a precise cross-timestamp). `phc`: nanoseconds since 1970 on the PHC's timescale.
struct PhcTriple {
  leapdb::UtcTime before;
  leapdb::Nanoseconds phc;
  leapdb::UtcTime after;
};

struct PhcRead {
  enum class Status : std::uint8_t { ok, unsupported, failed };
  Status status = Status::failed;
  std::vector<PhcTriple> triples;  // ok: at least one
  std::string error;               // otherwise: what failed, e.g. "PTP_SYS_OFFSET: No such device"
};

// The syscall layer, a fake in tests.
class PhcDevice {
 public:
  virtual ~PhcDevice() = default;
  virtual PhcCapabilities capabilities() const = 0;
  virtual PhcRead read(CrossTimestamp method) = 0;
};

// The device opened O_RDONLY and checked with PTP_CLOCK_GETCAPS, or null and `error` set.
std::unique_ptr<PhcDevice> open_phc_device(const std::string& path, std::string& error);

// Pure. The system clock at the middle of the narrowest well-ordered window, the PHC then, and
// half the window as the error; none when no window is well-ordered (the clock was stepped).
struct PhcReading {
  leapdb::UtcTime system;
  leapdb::Nanoseconds phc;
  leapdb::Nanoseconds window;
  leapdb::Nanoseconds error() const { return (window + leapdb::Nanoseconds{1}) / 2; }
};
std::optional<PhcReading> narrowest_window(const std::vector<PhcTriple>& triples);

// A device read with the best cross-timestamp it offers; a method it refuses is dropped for
// good. What PhcSource polls with, and what converts a NIC's hardware stamps (phc_mapping.hpp).
class PhcReader {
 public:
  explicit PhcReader(std::unique_ptr<PhcDevice> device);
  struct Fallback {
    std::string error;  // why the method was dropped
    CrossTimestamp next;
  };
  // The narrowest window of one read, or none and `error`; each method dropped on the way is
  // added to `fallbacks`.
  std::optional<PhcReading> read(std::string& error, std::vector<Fallback>& fallbacks);
  CrossTimestamp method() const { return method_; }

 private:
  std::unique_ptr<PhcDevice> device_;
  PhcCapabilities capabilities_;
  CrossTimestamp method_;
};

struct PhcOptions {
  std::string device;
  bool utc = false;  // the PHC counts UTC (POSIX) rather than TAI, as ptp4l leaves it
  std::uint32_t reference_id = 0;
  std::optional<std::string> ptp4l;  // the management socket of the ptp4l steering it
};

class PhcSource final : public Source {
 public:
  // With a `ptp4l` monitor, the PHC counts only while ptp4l says it is synchronized.
  PhcSource(std::unique_ptr<PhcDevice> device, PhcOptions options, std::unique_ptr<ptp4l::Monitor> ptp4l = nullptr);
  Estimate poll(const Tick& tick) override;
  std::vector<SourceReport> report() const override;
  CrossTimestamp method() const { return reader_.method(); }

 private:
  std::optional<PhcReading> read(std::string& error);

  PhcReader reader_;
  PhcOptions options_;
  std::unique_ptr<ptp4l::Monitor> ptp4l_;
  OffsetTracker tracker_;
  std::optional<bool> reachable_;  // as last logged
  Estimate estimate_;
  SourceReport report_;
};

std::unique_ptr<Source> make_phc_source(const PhcOptions& options, std::string& error);
std::unique_ptr<Source> make_phc_source(std::unique_ptr<PhcDevice> device, const PhcOptions& options,
                                        std::unique_ptr<ptp4l::Monitor> ptp4l = nullptr);

}  // namespace reference
