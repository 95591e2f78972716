#pragma once
// The system clock as the reference: CLOCK_REALTIME, trusting whatever disciplines it (chronyd,
// ptp4l/phc2sys) exactly as far as the kernel says it is synchronized, with the kernel's maximum
// error as the root dispersion. With `tai`, the kernel's TAI offset must also be set and agree
// with the leap table, or the clock counts as unsynchronized. Every tick the kernel's TAI
// offset and armed leap are checked against the leap table, and each disagreement is logged
// when it appears and when it clears.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/reference/source.hpp"

namespace reference {

struct SystemOptions {
  bool tai = false;
  std::uint32_t reference_id = 0;
  std::int8_t precision = -20;  // the system clock's, measured at start
};

class SystemSource final : public Source {
 public:
  // With a `ptp4l` monitor (a host whose clock phc2sys steers from ptp4l's PHC), the clock
  // counts only while ptp4l says it is synchronized, too.
  explicit SystemSource(SystemOptions options, std::unique_ptr<ptp4l::Monitor> ptp4l = nullptr)
      : options_(options), ptp4l_(std::move(ptp4l)) {}
  Estimate poll(const Tick& tick) override;
  std::vector<SourceReport> report() const override;

 private:
  SystemOptions options_;
  std::unique_ptr<ptp4l::Monitor> ptp4l_;
  std::optional<bool> synchronized_;  // as last logged
  std::vector<std::string> disagreements_;
  Estimate estimate_;
  SourceReport report_{"system", SourceState::unreachable, 0, std::chrono::seconds{1}, 0, {}, {}, {}, {}, {}, {}, {},
                       0};
};

// A simulated reference claims nothing it could get wrong: it is its own truth, and every
// start of one is logged loudly as not real time.
class SimulatedSource final : public Source {
 public:
  explicit SimulatedSource(std::uint32_t reference_id) : reference_id_(reference_id) {}
  Estimate poll(const Tick& tick) override;
  std::vector<SourceReport> report() const override;

 private:
  std::uint32_t reference_id_;
  std::optional<leapdb::UtcTime> last_;
};

}  // namespace reference
