#pragma once
// A world for the upstream reference's tests: a raw oscillator running at a known rate
// against true TAI, a system clock off by a known amount, and NTP servers that answer
// requests with a chosen error, delay, stratum and leap indicator.

#include <array>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <vector>

#include "leapdb/parse.hpp"
#include "leapdb/table.hpp"
#include "server/ntp/packet.hpp"
#include "server/reference/source.hpp"
#include "server/reference/upstream/ensemble.hpp"
#include "tests/unit/leapdb/files.hpp"

namespace upstream_test {

inline const leapdb::LeapTable& table() { return test_files::leap_table(); }

inline bool near(leapdb::Nanoseconds a, leapdb::Nanoseconds b, leapdb::Nanoseconds tolerance = std::chrono::nanoseconds{2}) {
  return std::abs((a - b).count()) <= tolerance.count();
}

inline std::array<std::byte, ntp::kHeaderLength> reply(const ntp::Header& h) {
  std::array<std::byte, ntp::kHeaderLength> bytes{};
  ntp::encode_header(h, bytes);
  return bytes;
}

struct SimulatedServer {
  leapdb::Nanoseconds error{0};       // its clock minus true time
  double drift_ppm = 0;               // and how fast that grows (a smear)
  leapdb::Nanoseconds delay = std::chrono::microseconds{200};
  std::uint8_t stratum = 1;
  ntp::LeapIndicator leap = ntp::LeapIndicator::none;
  std::uint32_t reference_id = 0x47505300;  // GPS
  bool answering = true;
  std::optional<std::uint32_t> kiss;  // answer kiss-o'-death with this code instead
};

// Raw starts at 100 s; true TAI there is `start` and runs (1 + raw_ppm) times as fast as raw.
class World {
 public:
  World(leapdb::UtcTime start, double raw_ppm, leapdb::Nanoseconds system_error)
      : start_tai_(table().to_tai(start)), raw_ppm_(raw_ppm), system_error_(system_error) {}

  leapdb::Nanoseconds raw() const { return raw_; }
  leapdb::TaiTime true_tai(leapdb::Nanoseconds raw) const {
    const leapdb::Nanoseconds since = raw - kRawStart;
    return start_tai_ + since + leapdb::Rate::from_ppm(raw_ppm_).over(since);
  }
  // CLOCK_REALTIME: true UTC plus the system clock's error.
  leapdb::UtcTime realtime(leapdb::Nanoseconds raw) const { return table().to_utc(true_tai(raw)) + system_error_; }
  leapdb::Nanoseconds system_error() const { return system_error_; }

  std::vector<SimulatedServer> servers;

  // One control tick a second: replies to the last tick's requests, then the tick itself, then
  // the requests now due.
  reference::Estimate tick(reference::upstream::Ensemble& ensemble) {
    raw_ += std::chrono::seconds{1};
    for (const Pending& p : pending_) deliver(ensemble, p);
    pending_.clear();
    const reference::Tick t{table(), realtime(raw_), raw_, reference::KernelClockStatus{}};
    reference::Estimate e = ensemble.update(t);
    for (const std::size_t i : ensemble.due(raw_)) {
      const reference::upstream::Request r{ntp::Timestamp{static_cast<std::uint32_t>(i + 1), ++nonce_},
                                           raw_ + std::chrono::microseconds{10}, realtime(raw_ + std::chrono::microseconds{10})};
      ensemble.sent(i, r);
      if (servers[i].answering) pending_.push_back({i, r});
    }
    return e;
  }

  // What the estimate says true TAI is at the tick, minus what it is.
  leapdb::Nanoseconds served_error(const reference::Estimate& e) const {
    const leapdb::UtcTime reading = realtime(raw_);
    const leapdb::TaiTime served = table().to_tai(reading) + e.line.of(reading);
    return served - true_tai(raw_);
  }

 private:
  static constexpr leapdb::Nanoseconds kRawStart = std::chrono::seconds{100};
  struct Pending {
    std::size_t server;
    reference::upstream::Request request;
  };

  void deliver(reference::upstream::Ensemble& ensemble, const Pending& p) {
    const SimulatedServer& s = servers[p.server];
    const leapdb::Nanoseconds arrives = p.request.sent_raw + s.delay / 2;
    const leapdb::Nanoseconds back = arrives + std::chrono::microseconds{20} + s.delay / 2;
    const auto server_utc = [&](leapdb::Nanoseconds raw) {
      const leapdb::Nanoseconds since = raw - kRawStart;
      return table().to_utc(true_tai(raw) + s.error + leapdb::Rate::from_ppm(s.drift_ppm).over(since));
    };
    ntp::Header h;
    h.mode = ntp::Mode::server;
    h.stratum = s.stratum;
    h.leap = s.leap;
    h.precision = -24;
    h.reference_id = s.reference_id;
    h.root_delay = ntp::to_ntp_short(std::chrono::microseconds{100});
    h.root_dispersion = ntp::to_ntp_short(std::chrono::microseconds{100});
    h.reference_time = ntp::to_ntp(server_utc(arrives) - std::chrono::seconds{1});
    h.origin_time = p.request.nonce;
    h.receive_time = ntp::to_ntp(server_utc(arrives));
    h.transmit_time = ntp::to_ntp(server_utc(arrives + std::chrono::microseconds{20}));
    if (s.kiss) h.stratum = 0, h.reference_id = *s.kiss, h.leap = ntp::LeapIndicator::unsynchronized;
    const auto bytes = reply(h);
    // Read at this tick, the kernel's timestamp when it arrived.
    ensemble.received(p.server, bytes, realtime(back), realtime(raw_), raw_);
  }

  leapdb::TaiTime start_tai_;
  double raw_ppm_;
  leapdb::Nanoseconds system_error_;
  leapdb::Nanoseconds raw_ = kRawStart;
  std::uint32_t nonce_ = 0;
  std::vector<Pending> pending_;
};

}  // namespace upstream_test
