#pragma once
// Pure. The upstream servers and the software clock they steer, without a socket: when to
// ask each server, what its replies say, which servers to believe, and what replies may claim
// from that. The I/O layer (upstream.hpp) feeds it replies and sends what it says is due.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/reference/source.hpp"
#include "server/reference/upstream/clock.hpp"
#include "server/reference/upstream/exchange.hpp"
#include "server/reference/upstream/filter.hpp"
#include "server/reference/upstream/resolution.hpp"
#include "server/reference/upstream/selection.hpp"

namespace reference::upstream {

struct EnsembleOptions {
  std::size_t minsources = 1;
  leapdb::Nanoseconds poll = std::chrono::seconds{16};
  std::int8_t precision = -20;  // our clock's, log2 seconds
};

// One association: a configured name and the address it has now. A pool has one for each of
// its max_sources, a server one; a slot without an address yet is vacant.
struct ServerIdentity {
  std::string name;                // as configured: "ntp1.example.net", "192.0.2.1:123"
  std::string address;             // "192.0.2.1:123"; empty: vacant
  std::uint32_t reference_id = 0;  // what replies name it by when it is selected
  bool vacant() const { return address.empty(); }
};

class Ensemble {
 public:
  static constexpr int kBurst = 8;
  static constexpr leapdb::Nanoseconds kBurstInterval = std::chrono::seconds{2};
  static constexpr leapdb::Nanoseconds kTickSlack = std::chrono::milliseconds{500};
  static constexpr leapdb::Nanoseconds kMaxPoll = std::chrono::seconds{1024};
  static constexpr leapdb::Nanoseconds kRefusal = std::chrono::hours{1};
  static constexpr leapdb::Nanoseconds kDriftSaveInterval = std::chrono::hours{1};

  Ensemble(std::vector<ServerIdentity> servers, EnsembleOptions options, std::optional<Drift> stored,
           leapdb::Nanoseconds started_raw);

  // Servers to send a request to now; report each with sent().
  std::vector<std::size_t> due(leapdb::Nanoseconds raw) const;
  void sent(std::size_t server, const Request& request);
  // A datagram from `server` that arrived at `arrival` on CLOCK_REALTIME (the kernel's
  // timestamp), read at `now_realtime` / `now_raw`; judged at the next update.
  void received(std::size_t server, std::span<const std::byte> reply, leapdb::UtcTime arrival,
                leapdb::UtcTime now_realtime, leapdb::Nanoseconds now_raw);
  // Selection and discipline with what arrived since the last tick; the estimate from then.
  Estimate update(const Tick& tick);

  std::vector<SourceReport> report() const;

  // Slots, in the order given at construction, each an association or vacant.
  std::size_t size() const { return servers_.size(); }
  const ServerIdentity& identity(std::size_t slot) const { return servers_[slot].identity; }
  AssociationHealth health(std::size_t slot) const;
  // The slot starts afresh with another address (or its first), as a new association: no
  // samples, no reach, a burst; logged with the old address and `why`.
  void assign(std::size_t slot, ServerIdentity identity, const std::string& why);
  // The slot's server now answers at another address (NTS-KE named it): the same server, so its
  // samples stay; reports and the refid name the new address.
  void moved(std::size_t slot, std::string address, std::uint32_t reference_id);
  // What a vacant slot's row says, e.g. why its name gave no address.
  void explain_vacancy(std::size_t slot, std::string why);
  // The socket reported an error for the last request (ECONNREFUSED: nobody listens there).
  void network_error(std::size_t slot, const std::string& error);
  // A datagram that failed the association's authentication: dropped, counted.
  void unauthentic(std::size_t slot) { ++servers_[slot].unauthentic; }
  // Refids of our own addresses: a server above stratum 1 whose refid is one of them takes its
  // time from us.
  void set_own_reference_ids(std::vector<std::uint32_t> ids) { own_reference_ids_ = std::move(ids); }
  std::vector<Notice> take_notices() { return std::exchange(notices_, {}); }
  // The frequency to store, when it is due: when first known, then hourly.
  std::optional<Drift> drift_to_save(leapdb::Nanoseconds raw);
  std::optional<Drift> known_drift() const;
  const SoftwareClock& clock() const { return clock_; }
  bool locked() const { return locked_; }

 private:
  struct Server {
    ServerIdentity identity;
    SampleFilter filter;
    DriftDetector drift;
    std::optional<Request> in_flight;
    std::uint8_t reach = 0;
    int burst = kBurst;
    leapdb::Nanoseconds interval{0};
    leapdb::Nanoseconds next_send = leapdb::Nanoseconds::min();
    leapdb::Nanoseconds refused_until = leapdb::Nanoseconds::min();
    unsigned requests = 0;  // since this address was assigned
    std::uint64_t unauthentic = 0;
    bool fresh = false;    // a sample since the last update
    std::string unusable;  // its last reply said it has no time for us (unsynchronized, a loop)
    bool ever_reachable = false;
    std::optional<Measurement> last;
    std::optional<leapdb::UtcTime> last_realtime;
    std::optional<SampleFilter::Best> best;
    SourceState state = SourceState::unreachable;
    std::string why = "no reply yet";
    std::string refusal;  // as last logged
    bool leap_noticed = false;
  };

  struct Arrival {
    std::size_t server = 0;
    std::array<std::byte, ntp::kHeaderLength> bytes{};  // the header is all a reply needs
    std::size_t length = 0;
    leapdb::UtcTime arrival{}, now_realtime{};
    leapdb::Nanoseconds now_raw{0};
  };
  // More replies than requests in a tick are a flood, not news.
  static constexpr std::size_t kMaxArrivals = 1024;

  void take(const Arrival& arrival, const leapdb::LeapTable& table);
  void notice(Notice::Level level, std::string event, std::vector<std::pair<std::string, std::string>> fields);
  void notice(Notice::Level level, std::string event, const Server& server,
              std::vector<std::pair<std::string, std::string>> fields);
  void unusable(Server& server, leapdb::Nanoseconds raw, std::string why, bool log);
  void refuse(Server& server, leapdb::Nanoseconds raw, leapdb::Nanoseconds duration, const std::string& why);
  void set_state(Server& server, SourceState state, std::string why);
  bool refused(const Server& server, leapdb::Nanoseconds raw) const { return raw < server.refused_until; }
  leapdb::Nanoseconds to_raw(leapdb::UtcTime realtime, leapdb::UtcTime now_realtime, leapdb::Nanoseconds now_raw) const;
  Line residual_line() const;
  void select_and_steer(const Tick& tick);

  std::vector<Server> servers_;
  EnsembleOptions options_;
  SoftwareClock clock_;
  bool stored_drift_ = false;
  leapdb::Nanoseconds started_raw_;
  bool locked_ = false;
  std::optional<leapdb::UtcTime> last_update_;
  std::optional<std::size_t> selected_;
  std::size_t voices_ = 1;  // the servers that agree with the selected one
  std::optional<leapdb::Nanoseconds> last_measured_at_;
  std::optional<Line> provisional_;  // residuals before the clock has a phase
  std::string selection_problem_;    // as last logged
  // The raw clock's rate against CLOCK_REALTIME (whatever slews that), smoothed over ticks.
  double raw_per_realtime_ppm_ = 0;
  bool rate_measured_ = false;
  std::optional<std::pair<leapdb::UtcTime, leapdb::Nanoseconds>> previous_tick_;
  std::optional<leapdb::Nanoseconds> drift_saved_at_;
  Estimate claims_;  // stratum, refid, root delay, dispersion and leap as of the last update
  std::vector<Notice> notices_;
  std::vector<Arrival> arrivals_;
  std::vector<std::uint32_t> own_reference_ids_;
};

}  // namespace reference::upstream
