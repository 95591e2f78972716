#include "server/app/status_builder.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "server/ntp/client.hpp"

namespace app {
namespace {

double seconds_of(leapdb::UtcTime t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }
double seconds_of(leapdb::Nanoseconds d) { return std::chrono::duration<double>(d).count(); }

metrics::SourceStatus source_status(const reference::SourceReport& r) {
  metrics::SourceStatus s;
  s.name = r.name;
  s.state = std::string{reference::to_string(r.state)};
  s.stratum = r.stratum;
  s.poll_seconds = static_cast<double>(r.poll.count());
  s.reach = r.reach;
  if (r.offset) s.offset_seconds = seconds_of(*r.offset);
  if (r.delay) s.delay_seconds = seconds_of(*r.delay);
  if (r.error) s.error_seconds = seconds_of(*r.error);
  if (r.last_sample) s.last_sample = seconds_of(*r.last_sample);
  s.why = r.why;
  s.type = r.type;
  s.address = r.address;
  s.unauthentic = r.unauthentic;
  return s;
}

}  // namespace

std::string address_text(const std::array<std::uint8_t, 16>& ip) {
  const ntp::ClientAddress client{ip, 0};
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (client.is_ipv4()) {
    ::inet_ntop(AF_INET, ip.data() + 12, text.data(), text.size());
  } else {
    ::inet_ntop(AF_INET6, ip.data(), text.data(), text.size());
  }
  return text.data();
}

std::vector<metrics::ClientStatus> client_statuses(const std::vector<counting::Talker>& talkers) {
  std::vector<metrics::ClientStatus> out;
  for (const counting::Talker& t : talkers) {
    out.push_back({address_text(t.ip), t.requests, t.kod, t.rate_limited, seconds_of(t.last_seen)});
  }
  return out;
}

std::vector<metrics::TimescaleStatus> timescale_statuses(const ntp::Snapshot& snap, leapdb::TaiTime tai) {
  std::vector<metrics::TimescaleStatus> out;
  for (const ntp::TimescaleView& view : snap.timescales) {
    const smear::Served served = view.smearer->at(tai);
    metrics::TimescaleStatus t;
    t.name = view.name;
    t.profile = view.smearer->profile().name;
    t.rehearsal = view.rehearsal;
    t.active = served.active;
    // From true UTC, as clients get it: a rehearsal's smearer measures against its own table, in
    // which the synthetic leap happened, and would read 0 a second off real UTC after it.
    t.offset_seconds = seconds_of(served.time - snap.clock.table->to_utc(tai));
    t.progress = served.progress;
    t.frequency_ratio = served.frequency_ppm * 1e-6;
    t.leap_indicator = served.leap_indicator;
    for (const smear::Window& w : view.smearer->windows()) {
      if (w.ends <= tai) continue;
      t.smear_start = seconds_of(snap.clock.table->to_utc(w.begins));
      t.smear_end = seconds_of(snap.clock.table->to_utc(w.ends));
      break;
    }
    out.push_back(std::move(t));
  }
  return out;
}

metrics::Status build_status(const StatusInputs& in) {
  const ntp::Snapshot& snap = *in.snapshot;
  const leapdb::TaiTime tai = snap.clock.to_tai(in.reading);
  const leapdb::LeapTable& table = *snap.clock.table;
  const leapdb::UtcTime now = table.to_utc(tai);
  const ntp::HeaderQuality served = ntp::header_quality(snap.quality, tai);

  metrics::Status s;
  s.version = in.version;
  s.now = seconds_of(now);
  s.reference_type = in.reference_type;
  s.selected_source = in.selected_source;
  s.selection_changes = in.selection_changes;
  s.reference_stage = std::string{reference::to_string(in.stage)};
  // On the reference's own timeline, like `now` (they differ for a simulated reference).
  s.reference_offset_seconds = seconds_of(now - in.reading);
  s.reference_error_bound_seconds = seconds_of(ntp::from_ntp_short(served.root_dispersion));
  s.reference_stratum = in.estimate.stratum;
  if (in.estimate.last_update) s.reference_last_update = seconds_of(table.to_utc(snap.quality.last_update));
  if (in.stage == reference::Stage::holdover) s.holdover_ends = seconds_of(table.to_utc(snap.quality.synchronized_until));
  s.reference_synchronized = in.stage == reference::Stage::synchronized;
  for (const reference::SourceReport& source : in.sources) {
    s.reference_reachable = s.reference_reachable || source.reach != 0;
    s.sources.push_back(source_status(source));
  }
  s.served_stratum = served.stratum;
  s.refid = ntp::format_reference_id(served.stratum, served.reference_id);
  s.root_delay_seconds = seconds_of(ntp::from_ntp_short(served.root_delay));
  s.root_dispersion_seconds = s.reference_error_bound_seconds;

  s.leap_table_loaded = in.leap_table_loaded;
  s.leap_table_valid = s.leap_table_loaded && !table.expired_at(now);
  s.leap_table_source = table.source;
  s.leap_table_hash = std::string{leapdb::to_string(table.hash)};
  s.leap_table_leaps = static_cast<int>(table.leaps.size());
  if (table.expires) s.leap_table_expiry = seconds_of(*table.expires);
  if (table.last_update) s.leap_table_last_update = seconds_of(*table.last_update);
  s.tai_offset = table.tai_utc_at(tai);
  if (const leapdb::Leap* next = table.next_leap_after(now)) {
    s.next_leap = seconds_of(next->effective);
    s.next_leap_sign = next->sign;
  }
  s.timescales = timescale_statuses(snap, tai);
  s.traffic = in.traffic;
  s.healthy = in.workers_running;

  if (in.leap_files_configured && !s.leap_table_loaded) s.not_ready.push_back("no leap table loaded");
  if (s.leap_table_loaded && !s.leap_table_valid) {
    s.not_ready.push_back("the leap table expired on " + leapdb::format_rfc3339(*table.expires));
  }
  if (in.stage == reference::Stage::unsynchronized) {
    std::string why = "the reference (" + in.reference_type + ") is unsynchronized: replies say LI=3, stratum 16";
    if (s.reference_last_update) why += "; last good sample " + leapdb::format_rfc3339(table.to_utc(snap.quality.last_update));
    s.not_ready.push_back(why);
  }
  if (!s.healthy) s.not_ready.push_back("a worker thread has stopped");
  return s;
}

}  // namespace app
