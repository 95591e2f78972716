#pragma once
// What smeard is doing, as one value: the control thread builds it on every scrape from the
// same state the workers serve, and it renders both as Prometheus metrics and as the JSON
// behind `smearctl status`, so the two can never disagree.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/counting/counters.hpp"

namespace metrics {

// One of the heaviest client addresses of a timescale (counted since it took its record).
struct ClientStatus {
  std::string address;
  std::uint64_t requests = 0;
  std::uint64_t kod = 0;
  std::uint64_t rate_limited = 0;
  double last_seen = 0;  // Unix seconds
};

struct TimescaleStatus {
  std::string name;
  std::string profile;
  bool rehearsal = false;
  bool active = false;
  double offset_seconds = 0;     // served minus true UTC
  double progress = 0;
  double frequency_ratio = 0;    // served rate minus 1
  int leap_indicator = 0;
  std::optional<double> smear_start;  // Unix seconds of the nearest smear window not yet over
  std::optional<double> smear_end;
  std::vector<ClientStatus> clients;  // heaviest first; only where asked for (/status)
};

// Connections to the metrics endpoint closed at accept, by why.
struct EndpointRefusals {
  std::uint64_t not_allowed = 0;  // the peer is outside metrics.allow
  std::uint64_t per_address = 0;  // the peer holds max_connections_per_address already
  std::uint64_t sessions = 0;     // the endpoint holds its most sessions already
  friend bool operator==(const EndpointRefusals&, const EndpointRefusals&) = default;
};

// A listener's AF_XDP path as start-up left it.
struct XdpStatus {
  std::string interface;
  bool attached = false;
  std::string mode;  // native | generic, when attached
  bool zero_copy = false;
  unsigned queues = 0;
  bool busy_poll = false;
  std::string reason;   // when it fell back to sockets: no_interface | no_privilege | busy | unsupported | error
  std::string problem;  // and what failed
  std::uint64_t requests = 0;  // received through AF_XDP
};

struct Traffic {
  std::string listener;
  std::string timescale;
  std::optional<XdpStatus> xdp;  // configured for this listener
  std::vector<std::uint64_t> requests_by_worker;  // datagrams each worker thread received
  counting::Totals counts;                        // the listener's workers' counters, summed
};

// One reference source, as `chronyc sources` lists it.
struct SourceStatus {
  std::string name;
  std::string type;   // the configured source's: system | phc | shm | sock | upstream | simulated
  std::string state;  // selected | candidate | falseticker | unreachable | refused
  int stratum = 0;
  double poll_seconds = 0;
  int reach = 0;  // the last eight polls, newest in bit 0
  std::optional<double> offset_seconds;  // the last good sample: reference minus the system clock
  std::optional<double> delay_seconds;
  std::optional<double> error_seconds;
  std::optional<double> last_sample;  // Unix seconds
  std::string why;
  // An upstream association's address now ("192.0.2.1:123"; `name` is its configured name);
  // empty for other sources and for a vacant one (a pool not filled, a name not resolved).
  std::string address;
  std::uint64_t unauthentic = 0;  // replies dropped for failing authentication
};
inline constexpr std::array<const char*, 5> kSourceStates{"selected", "candidate", "falseticker", "unreachable", "refused"};
inline constexpr std::array<const char*, 4> kReferenceStages{"synchronized", "holdover", "unsynchronized", "local"};

// Network Time Security: the KE server's sessions and the cookie key in force.
struct NtsStatus {
  std::vector<std::pair<std::string, std::uint64_t>> ke_sessions;  // by outcome, every outcome listed
  std::uint64_t cookies_issued = 0;
  std::uint64_t ke_open_connections = 0;
  std::uint32_t cookie_key_period = 0;
  double cookie_key_age_seconds = 0;  // since the current key's period began
  double rotation_seconds = 0;
  std::optional<double> certificate_expiry;  // the TLS certificate's notAfter, Unix seconds
};

// One interface of hardware_timestamps: stamped by its NIC, or by the kernel in software and why.
struct HardwareTimestampStatus {
  std::string interface;
  std::string mode;  // hardware | software
  unsigned ifindex = 0;
  std::string reason;  // software: why
  // Hardware: its PHC, the receive filter in force, whether transmits are stamped too, and the
  // line its stamps are converted with (none: converting nothing, software stamps serve).
  std::string phc;
  std::string filter;
  bool transmit = false;
  bool converting = false;
  std::optional<double> offset_seconds;  // the system clock minus the PHC at the last sample
  std::optional<double> rate_ppm;        // the system clock's rate over the PHC's, minus 1
  std::optional<double> last_sample;     // Unix seconds
};

struct Status {
  std::string version;
  double now = 0;  // Unix seconds (true UTC as the reference sees it)
  // The reference.
  std::string reference_type;       // the sources' types: "upstream", "phc+sock+upstream"
  std::optional<std::string> selected_source;  // the source replies name now, if one is selected
  std::uint64_t selection_changes = 0;         // how often what steers the served clock changed
  std::string reference_stage;      // one of kReferenceStages
  double reference_offset_seconds = 0;  // reference minus the system clock
  double reference_error_bound_seconds = 0;
  int reference_stratum = 0;
  std::optional<double> reference_last_update;  // none: never had a good sample
  std::optional<double> holdover_ends;  // when replies stop claiming synchronization, if the reference stopped
  bool reference_reachable = false;
  bool reference_synchronized = false;
  std::vector<SourceStatus> sources;
  // What clients are told.
  int served_stratum = 1;
  std::string refid;
  double root_delay_seconds = 0;
  double root_dispersion_seconds = 0;
  // Leap data.
  bool leap_table_loaded = false;
  bool leap_table_valid = false;  // loaded and not expired
  std::string leap_table_source;
  std::string leap_table_hash;
  int leap_table_leaps = 0;
  std::optional<double> leap_table_expiry;
  std::optional<double> leap_table_last_update;
  int tai_offset = 0;
  std::optional<double> next_leap;  // Unix seconds of the midnight after the changed second
  int next_leap_sign = 0;
  std::vector<TimescaleStatus> timescales;
  std::vector<Traffic> traffic;
  std::optional<NtsStatus> nts;  // none: NTS is not configured
  std::vector<HardwareTimestampStatus> hardware_timestamps;
  EndpointRefusals endpoint_refusals;
  bool healthy = false;
  std::vector<std::string> not_ready;  // empty: ready
};

std::string to_prometheus(const Status& status);
std::string to_json(const Status& status);

}  // namespace metrics
