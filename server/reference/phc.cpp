#include "server/reference/phc.hpp"

#include <fcntl.h>
#include <linux/ptp_clock.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "server/reference/clocks.hpp"

namespace reference {

std::string_view to_string(CrossTimestamp method) {
  switch (method) {
    case CrossTimestamp::precise: return "PTP_SYS_OFFSET_PRECISE";
    case CrossTimestamp::extended: return "PTP_SYS_OFFSET_EXTENDED";
    case CrossTimestamp::basic: return "PTP_SYS_OFFSET";
    case CrossTimestamp::clock_gettime: return "clock_gettime";
  }
  return "?";
}

std::optional<PhcReading> narrowest_window(const std::vector<PhcTriple>& triples) {
  std::optional<PhcReading> best;
  for (const PhcTriple& t : triples) {
    const leapdb::Nanoseconds window = t.after - t.before;
    if (window < leapdb::Nanoseconds{0} || (best && window >= best->window)) continue;
    best = PhcReading{t.before + window / 2, t.phc, window};
  }
  return best;
}

namespace {

// Enough reads to find one without an interrupt in its window, few enough to stay microseconds.
constexpr unsigned kSamplesPerRead = 5;

leapdb::Nanoseconds phc_nanoseconds(const ptp_clock_time& t) {
  return leapdb::Nanoseconds{std::int64_t{t.sec} * 1'000'000'000 + std::int64_t{t.nsec}};
}

leapdb::UtcTime system_reading(const ptp_clock_time& t) { return leapdb::UtcTime{phc_nanoseconds(t)}; }

class KernelPhc final : public PhcDevice {
 public:
  KernelPhc(int fd, PhcCapabilities capabilities) : fd_(fd), capabilities_(capabilities) {}
  ~KernelPhc() override { ::close(fd_); }
  KernelPhc(const KernelPhc&) = delete;
  KernelPhc& operator=(const KernelPhc&) = delete;

  PhcCapabilities capabilities() const override { return capabilities_; }

  PhcRead read(CrossTimestamp method) override {
    PhcRead out;
    switch (method) {
      case CrossTimestamp::precise: {
        ptp_sys_offset_precise p{};
        if (::ioctl(fd_, PTP_SYS_OFFSET_PRECISE, &p) != 0) return failure(method);
        out.triples.push_back({system_reading(p.sys_realtime), phc_nanoseconds(p.device), system_reading(p.sys_realtime)});
        break;
      }
      case CrossTimestamp::extended: {
        ptp_sys_offset_extended e{};
        e.n_samples = kSamplesPerRead;  // clockid 0 (reserved in older headers): CLOCK_REALTIME
        if (::ioctl(fd_, PTP_SYS_OFFSET_EXTENDED, &e) != 0) return failure(method);
        for (unsigned i = 0; i < kSamplesPerRead; ++i) {
          out.triples.push_back({system_reading(e.ts[i][0]), phc_nanoseconds(e.ts[i][1]), system_reading(e.ts[i][2])});
        }
        break;
      }
      case CrossTimestamp::basic: {
        // System and PHC readings alternate, system first and last.
        ptp_sys_offset b{};
        b.n_samples = kSamplesPerRead;
        if (::ioctl(fd_, PTP_SYS_OFFSET, &b) != 0) return failure(method);
        for (unsigned i = 0; i < kSamplesPerRead; ++i) {
          out.triples.push_back(
              {system_reading(b.ts[2 * i]), phc_nanoseconds(b.ts[2 * i + 1]), system_reading(b.ts[2 * i + 2])});
        }
        break;
      }
      case CrossTimestamp::clock_gettime: {
        const clockid_t phc_clock = (~fd_ << 3) | 3;  // the kernel's FD_TO_CLOCKID
        timespec phc{};
        const leapdb::UtcTime before = realtime_now();
        if (::clock_gettime(phc_clock, &phc) != 0) return failure(method);
        const leapdb::UtcTime after = realtime_now();
        out.triples.push_back({before, leapdb::Nanoseconds{std::int64_t{phc.tv_sec} * 1'000'000'000 + phc.tv_nsec}, after});
        break;
      }
    }
    out.status = out.triples.empty() ? PhcRead::Status::failed : PhcRead::Status::ok;
    if (out.triples.empty()) out.error = std::string{to_string(method)} + ": no samples";
    return out;
  }

 private:
  static PhcRead failure(CrossTimestamp method) {
    const int code = errno;
    PhcRead out;
    // ENOTTY: a kernel without the ioctl; EOPNOTSUPP: a driver without the method.
    out.status = code == ENOTTY || code == EOPNOTSUPP ? PhcRead::Status::unsupported : PhcRead::Status::failed;
    out.error = std::string{to_string(method)} + ": " + std::strerror(code);
    return out;
  }

  int fd_;
  PhcCapabilities capabilities_;
};

CrossTimestamp first_offered(CrossTimestamp from, const PhcCapabilities& caps) {
  if (from <= CrossTimestamp::precise && caps.precise) return CrossTimestamp::precise;
  if (from <= CrossTimestamp::extended && caps.extended) return CrossTimestamp::extended;
  if (from <= CrossTimestamp::basic && caps.basic) return CrossTimestamp::basic;
  return CrossTimestamp::clock_gettime;
}

// log2 seconds of the read error, rounded up.
std::int8_t precision_of(leapdb::Nanoseconds error) {
  const double seconds = static_cast<double>(std::max<std::int64_t>(error.count(), 1)) / 1e9;
  return static_cast<std::int8_t>(std::clamp(std::ceil(std::log2(seconds)), -30.0, 0.0));
}

}  // namespace

std::unique_ptr<PhcDevice> open_phc_device(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = path + ": cannot open: " + std::strerror(errno);
    return nullptr;
  }
  ptp_clock_caps caps{};
  if (::ioctl(fd, PTP_CLOCK_GETCAPS, &caps) != 0) {
    error = path + " is not a PTP hardware clock: PTP_CLOCK_GETCAPS: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  PhcCapabilities capabilities;
  capabilities.precise = caps.cross_timestamping != 0;
  return std::make_unique<KernelPhc>(fd, capabilities);
}

PhcReader::PhcReader(std::unique_ptr<PhcDevice> device)
    : device_(std::move(device)),
      capabilities_(device_->capabilities()),
      method_(first_offered(CrossTimestamp::precise, capabilities_)) {}

std::optional<PhcReading> PhcReader::read(std::string& error, std::vector<Fallback>& fallbacks) {
  for (;;) {
    const PhcRead got = device_->read(method_);
    if (got.status == PhcRead::Status::ok) {
      if (std::optional<PhcReading> reading = narrowest_window(got.triples)) return reading;
      error = "the system clock went backwards in every " + std::string{to_string(method_)} + " window";
      return std::nullopt;
    }
    if (got.status == PhcRead::Status::failed || method_ == CrossTimestamp::clock_gettime) {
      error = got.error;
      return std::nullopt;
    }
    method_ = first_offered(static_cast<CrossTimestamp>(static_cast<int>(method_) + 1), capabilities_);
    fallbacks.push_back({got.error, method_});
  }
}

PhcSource::PhcSource(std::unique_ptr<PhcDevice> device, PhcOptions options, std::unique_ptr<ptp4l::Monitor> ptp4l)
    : reader_(std::move(device)), options_(std::move(options)), ptp4l_(std::move(ptp4l)) {
  report_.name = options_.device;
  report_.why = "no sample yet";
  estimate_.stratum = 0;
  estimate_.reference_id = options_.reference_id;
  estimate_.leap = LeapWarning::unknown;
}

std::optional<PhcReading> PhcSource::read(std::string& error) {
  std::vector<PhcReader::Fallback> fallbacks;
  std::optional<PhcReading> reading = reader_.read(error, fallbacks);
  for (const PhcReader::Fallback& fallback : fallbacks) {
    notice(
        Notice::Level::info, "phc_cross_timestamp_unsupported",
        {{"device", options_.device}, {"error", fallback.error}, {"fallback", std::string{to_string(fallback.next)}}});
  }
  return reading;
}

Estimate PhcSource::poll(const Tick& tick) {
  std::string error;
  const std::optional<PhcReading> reading = read(error);
  // A PHC reads as well free-running as locked: only ptp4l can say which it is.
  std::optional<ptp4l::Verdict> steered;
  if (ptp4l_) steered = ask_ptp4l(*ptp4l_, options_.device, tick.monotonic_raw);
  const bool trusted = !steered || steered->synchronized;
  bool good = false;
  if (reading) {
    const leapdb::TaiTime phc_tai =
        options_.utc ? tick.table.to_tai(leapdb::UtcTime{reading->phc}) : leapdb::TaiTime{reading->phc};
    const leapdb::Nanoseconds offset = phc_tai - system_tai(tick.table, reading->system, tick.kernel);
    good = tracker_.add({reading->system, offset, reading->error()}) && trusted;
    report_.offset = offset;
    report_.delay = reading->window;
    report_.error = reading->error();
    report_.last_sample = reading->system;
    estimate_.precision = precision_of(reading->error());
  }
  const std::optional<OffsetTracker::Fit> fit = tracker_.fit();
  const bool tracking = reading.has_value() && fit.has_value() && trusted;

  const bool readable = reading.has_value() && fit.has_value();
  if (!reachable_ || *reachable_ != readable) {
    if (readable) {
      notice(Notice::Level::info, "phc_reachable",
             {{"device", options_.device}, {"method", std::string{to_string(reader_.method())}}});
    } else {
      notice(Notice::Level::warning, "phc_unreachable", {{"device", options_.device}, {"error", error}});
    }
    reachable_ = readable;
  }

  estimate_.tracking = tracking;
  if (fit) {
    estimate_.line = fit->line;
    estimate_.dispersion = fit->error;
  }
  if (good) estimate_.last_update = reading->system;
  if (!estimate_.last_update) estimate_.line.at = tick.realtime;

  report_.state = tracking ? SourceState::selected : readable ? SourceState::refused : SourceState::unreachable;
  report_.reach = static_cast<std::uint8_t>((report_.reach << 1) | (good ? 1 : 0));
  report_.why = tracking ? "" : readable ? steered->why : "cannot read the clock: " + error;
  return estimate_;
}

std::vector<SourceReport> PhcSource::report() const { return {report_}; }

std::unique_ptr<Source> make_phc_source(std::unique_ptr<PhcDevice> device, const PhcOptions& options,
                                        std::unique_ptr<ptp4l::Monitor> ptp4l) {
  return std::make_unique<PhcSource>(std::move(device), options, std::move(ptp4l));
}

std::unique_ptr<Source> make_phc_source(const PhcOptions& options, std::string& error) {
  std::unique_ptr<PhcDevice> device = open_phc_device(options.device, error);
  if (!device) return nullptr;
  std::unique_ptr<ptp4l::Monitor> ptp4l;
  if (options.ptp4l && !(ptp4l = ptp4l::Monitor::open(*options.ptp4l, error))) return nullptr;
  return make_phc_source(std::move(device), options, std::move(ptp4l));
}

}  // namespace reference
