#include "server/metrics/status.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "leapdb/time.hpp"

namespace metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  void gauge(const std::string& name, const std::string& help, double value, Labels labels = {}) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.gauge.value = value;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(metric));
  }
  void counter(const std::string& name, const std::string& help, double value, Labels labels) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.counter.value = value;
    family(name, help, MetricType::Counter).metric.push_back(std::move(metric));
  }
  void histogram(const std::string& name, const std::string& help, const counting::Totals& t, Labels labels) {
    ClientMetric metric;
    metric.label = std::move(labels);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < t.processing_buckets.size(); ++i) {
      cumulative += t.processing_buckets[i];
      const double bound = i < counting::kProcessingBoundsNs.size()
                               ? static_cast<double>(counting::kProcessingBoundsNs[i]) / 1e9
                               : std::numeric_limits<double>::infinity();
      metric.histogram.bucket.push_back({cumulative, bound});
    }
    metric.histogram.sample_count = cumulative;
    metric.histogram.sample_sum = static_cast<double>(t.processing_sum_ns) / 1e9;
    family(name, help, MetricType::Histogram).metric.push_back(std::move(metric));
  }
  const std::vector<MetricFamily>& all() const { return families_; }

 private:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (MetricFamily& f : families_) {
      if (f.name == name) return f;
    }
    families_.push_back(MetricFamily{name, help, type, {}});
    return families_.back();
  }
  std::vector<MetricFamily> families_;
};

nlohmann::ordered_json optional(const std::optional<double>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json xdp_json(const std::optional<XdpStatus>& xdp) {
  if (!xdp) return nullptr;
  const auto text = [](const std::string& t) { return t.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t); };
  return {{"interface", xdp->interface},
          {"state", xdp->attached ? "attached" : "fallback"},
          {"mode", text(xdp->mode)},
          {"zero_copy", xdp->zero_copy},
          {"queues", xdp->queues},
          {"busy_poll", xdp->busy_poll},
          {"reason", text(xdp->reason)},
          {"problem", text(xdp->problem)},
          {"requests", xdp->requests}};
}

nlohmann::ordered_json clients_json(const std::vector<ClientStatus>& clients) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ClientStatus& c : clients) {
    const leapdb::UtcTime seen{std::chrono::floor<std::chrono::seconds>(
        std::chrono::duration_cast<leapdb::Nanoseconds>(std::chrono::duration<double>(c.last_seen)))};
    const std::string rfc3339 = leapdb::format_rfc3339(seen);
    out.push_back({{"address", c.address},
                   {"requests", c.requests},
                   {"kod", c.kod},
                   {"rate_limited", c.rate_limited},
                   {"last_seen", rfc3339.substr(0, rfc3339.find('.')) + "Z"}});
  }
  return out;
}

}  // namespace

std::string to_prometheus(const Status& s) {
  Families f;
  f.gauge("smeard_build_info", "smeard's version, as a label", 1, {{"version", s.version}});
  f.gauge("smeard_up", "1 while smeard runs", 1);
  f.gauge("smeard_healthy", "1 when every worker thread is running", s.healthy ? 1 : 0);
  f.gauge("smeard_ready", "1 when listeners are bound, the leap table is valid and unexpired and the reference usable",
          s.not_ready.empty() ? 1 : 0);
  for (const TimescaleStatus& t : s.timescales) {
    const Labels l{{"timescale", t.name}};
    f.gauge("smeard_timescale_info", "Each timescale's smear profile", 1,
            {{"timescale", t.name}, {"profile", t.profile}, {"rehearsal", t.rehearsal ? "true" : "false"}});
    f.gauge("smeard_smear_active", "1 while a smear is in progress", t.active ? 1 : 0, l);
    f.gauge("smeard_smear_offset_seconds", "Served time minus true UTC", t.offset_seconds, l);
    f.gauge("smeard_smear_progress_ratio", "Progress through the current or next smear, 0 to 1", t.progress, l);
    f.gauge("smeard_smear_frequency_offset_ratio", "Served clock rate minus 1", t.frequency_ratio, l);
    f.gauge("smeard_leap_indicator", "The leap indicator sent on this timescale", t.leap_indicator, l);
    if (t.smear_start) {
      f.gauge("smeard_smear_start_timestamp_seconds", "When the nearest smear not yet over begins", *t.smear_start, l);
    }
    if (t.smear_end) f.gauge("smeard_smear_end_timestamp_seconds", "When that smear ends", *t.smear_end, l);
  }
  if (s.next_leap) {
    f.gauge("smeard_next_leap_timestamp_seconds", "The next leap: the midnight after the changed second", *s.next_leap);
    f.gauge("smeard_next_leap_sign", "+1 for an inserted second, -1 for a deleted one", s.next_leap_sign);
  }
  f.gauge("smeard_tai_offset_seconds", "TAI minus UTC", s.tai_offset);
  f.gauge("smeard_leap_table_valid", "1 when a leap table is loaded and not expired", s.leap_table_valid ? 1 : 0);
  if (s.leap_table_loaded) {
    f.gauge("smeard_leap_table_info", "The leap table in force", 1,
            {{"source", s.leap_table_source}, {"hash", s.leap_table_hash}});
    f.gauge("smeard_leap_table_leaps", "Leaps in the table", s.leap_table_leaps);
  }
  if (s.leap_table_expiry) f.gauge("smeard_leap_table_expiry_timestamp_seconds", "When the leap table expires", *s.leap_table_expiry);
  if (s.leap_table_last_update) {
    f.gauge("smeard_leap_table_last_update_timestamp_seconds", "When the leap table was last updated", *s.leap_table_last_update);
  }
  const Labels reference{{"type", s.reference_type}};
  f.gauge("smeard_reference_offset_seconds", "The reference minus the system clock", s.reference_offset_seconds, reference);
  f.gauge("smeard_reference_error_bound_seconds", "The reference's maximum error", s.reference_error_bound_seconds, reference);
  f.gauge("smeard_reference_stratum", "The reference's own stratum (0: a primary source)", s.reference_stratum, reference);
  if (s.reference_last_update) {
    f.gauge("smeard_reference_last_update_timestamp_seconds", "When the reference last gave a good sample",
            *s.reference_last_update, reference);
  }
  for (const char* stage : kReferenceStages) {
    f.gauge("smeard_reference_stage", "1 for the stage the reference is in: synchronized, holdover, unsynchronized, local",
            s.reference_stage == stage ? 1 : 0, {{"type", s.reference_type}, {"stage", stage}});
  }
  if (s.holdover_ends) {
    f.gauge("smeard_reference_holdover_end_timestamp_seconds",
            "When holdover ends and replies stop claiming synchronization", *s.holdover_ends, reference);
  }
  f.counter("smeard_reference_selection_changes_total",
            "How often what steers the served clock changed: a source selected, failed over, combined, held over",
            static_cast<double>(s.selection_changes), reference);
  // An upstream source's associations are told apart by their address; vacant ones have none,
  // and are counted per name instead.
  std::vector<std::pair<std::string, int>> vacancies;
  for (const SourceStatus& source : s.sources) {
    if (source.type != "upstream") continue;
    auto v = std::ranges::find(vacancies, source.name, &std::pair<std::string, int>::first);
    if (v == vacancies.end()) v = vacancies.insert(vacancies.end(), {source.name, 0});
    if (source.address.empty()) ++v->second;
  }
  for (const auto& [name, vacant] : vacancies) {
    f.gauge("smeard_source_vacant", "An upstream name's associations without an address yet (a pool not filled)",
            vacant, {{"type", "upstream"}, {"source", name}});
  }
  for (const SourceStatus& source : s.sources) {
    const bool upstream = source.type == "upstream";
    if (upstream && source.address.empty()) continue;
    Labels l{{"type", source.type}, {"source", source.name}};
    if (upstream) l.push_back({"address", source.address});
    if (upstream) {
      f.counter("smeard_source_unauthentic_replies_total",
                "Replies from the association that failed its authentication, dropped",
                static_cast<double>(source.unauthentic), l);
    }
    for (const char* state : kSourceStates) {
      Labels with_state = l;
      with_state.push_back({"state", state});
      f.gauge("smeard_source_state", "1 for each source's state: selected, candidate, falseticker, unreachable, refused",
              source.state == state ? 1 : 0, with_state);
    }
    f.gauge("smeard_source_stratum", "The source's stratum (0: a refclock)", source.stratum, l);
    f.gauge("smeard_source_poll_seconds", "How often the source is polled", source.poll_seconds, l);
    f.gauge("smeard_source_reach", "The source's reach register: the last eight polls, newest in bit 0", source.reach, l);
    if (source.offset_seconds) {
      f.gauge("smeard_source_offset_seconds", "The source's last good sample, minus the system clock", *source.offset_seconds, l);
    }
    if (source.delay_seconds) f.gauge("smeard_source_delay_seconds", "The round-trip delay of that sample", *source.delay_seconds, l);
    if (source.error_seconds) f.gauge("smeard_source_error_seconds", "That sample's error bound", *source.error_seconds, l);
    if (source.last_sample) {
      f.gauge("smeard_source_last_sample_timestamp_seconds", "When the source last gave a good sample", *source.last_sample, l);
    }
  }
  f.gauge("smeard_reference_reachable", "1 when the reference can be read", s.reference_reachable ? 1 : 0, reference);
  f.gauge("smeard_reference_synchronized", "1 when the reference says it is synchronized",
          s.reference_synchronized ? 1 : 0, reference);
  f.gauge("smeard_served_stratum", "The stratum sent to clients", s.served_stratum);
  f.gauge("smeard_root_delay_seconds", "The root delay sent to clients", s.root_delay_seconds);
  f.gauge("smeard_root_dispersion_seconds", "The root dispersion sent to clients", s.root_dispersion_seconds);
  for (const Traffic& traffic : s.traffic) {
    const counting::Totals& t = traffic.counts;
    const Labels base{{"listener", traffic.listener}, {"timescale", traffic.timescale}};
    auto with = [&base](const std::string& name, const std::string& value) {
      Labels l = base;
      l.push_back({name, value});
      return l;
    };
    for (std::size_t v = 0; v < 8; ++v) {
      if (t.requests_by_version[v] == 0 && (v < 1 || v > 4)) continue;
      f.counter("smeard_requests_total", "Requests received, by NTP version field", static_cast<double>(t.requests_by_version[v]),
                with("version", std::to_string(v)));
      f.counter("smeard_responses_total", "Replies sent, by NTP version", static_cast<double>(t.replies_by_version[v]),
                with("version", std::to_string(v)));
    }
    for (std::size_t w = 0; w < traffic.requests_by_worker.size(); ++w) {
      f.counter("smeard_worker_requests_total", "Datagrams received by each worker thread: how steering spreads clients",
                static_cast<double>(traffic.requests_by_worker[w]), with("worker", std::to_string(w)));
    }
    for (std::size_t i = 0; i < t.drops.size(); ++i) {
      f.counter("smeard_drops_total", "Requests not answered, by reason", static_cast<double>(t.drops[i]),
                with("reason", std::string{ntp::to_string(static_cast<ntp::DropReason>(i))}));
    }
    for (const auto& [code, count] : {std::pair{"DENY", t.kod_deny}, {"RATE", t.kod_rate}, {"CRYP", t.crypto_nak}}) {
      f.counter("smeard_kod_sent_total", "Kiss-o'-death replies, by code (CRYP: crypto-NAKs)", static_cast<double>(count),
                with("code", code));
    }
    for (const auto& [outcome, count] : {std::pair{"ok", t.nts_ok}, {"nak", t.nts_nak},
                                         {"malformed", t.dropped(ntp::DropReason::bad_nts)}}) {
      f.counter("smeard_nts_requests_total", "NTS requests (RFC 8915) by outcome: time, NTS NAK, or dropped as malformed",
                static_cast<double>(count), with("outcome", outcome));
    }
    for (const auto& [action, count] :
         {std::pair{"leaked", t.ratelimit_leaked}, {"kod", t.kod_rate}, {"dropped", t.dropped(ntp::DropReason::rate_limited)}}) {
      f.counter("smeard_ratelimited_total", "Requests over the rate limit, by what was done with them",
                static_cast<double>(count), with("action", action));
    }
    for (std::size_t r = 1; r < t.auth.size(); ++r) {  // from 1: "none" is not a result
      f.counter("smeard_auth_total", "Requests carrying a MAC, by verification result", static_cast<double>(t.auth[r]),
                with("result", std::string{ntp::to_string(static_cast<ntp::AuthResult>(r))}));
    }
    f.counter("smeard_pinning_violations_total", "Clients asking a timescale their pin or stickiness forbids",
              static_cast<double>(t.pin_violations), with("kind", "pin"));
    f.counter("smeard_pinning_violations_total", "Clients asking a timescale their pin or stickiness forbids",
              static_cast<double>(t.sticky_violations), with("kind", "sticky"));
    f.counter("smeard_mixed_clients_total", "Requests from clients seen on another timescale within the mixed window",
              static_cast<double>(t.mixed_clients), base);
    f.counter("smeard_interleaved_replies_total",
              "Replies in interleaved mode (RFC 9769): the previous reply's kernel transmit timestamp",
              static_cast<double>(t.interleaved_replies), base);
    f.counter("smeard_tx_timestamps_total", "Kernel transmit timestamps read back from the error queue",
              static_cast<double>(t.tx_timestamps), base);
    f.counter("smeard_send_errors_total", "Replies the kernel refused to send", static_cast<double>(t.send_errors), base);
    f.histogram("smeard_processing_seconds", "Kernel receive timestamp to transmit timestamp", t, base);
    if (const auto& x = traffic.xdp) {
      const Labels on{{"listener", traffic.listener}, {"interface", x->interface}};
      Labels attached = on;
      if (x->attached) attached.push_back({"mode", x->mode});
      f.gauge("smeard_xdp_attached", "1 when the listener's AF_XDP path serves, 0 when it fell back to sockets",
              x->attached ? 1.0 : 0.0, attached);
      if (!x->attached) {
        Labels why = on;
        why.push_back({"reason", x->reason});
        f.gauge("smeard_xdp_fallback", "Present when the listener's AF_XDP path could not start, with why", 1.0, why);
      }
      f.counter("smeard_xdp_requests_total", "Requests received through AF_XDP", static_cast<double>(x->requests), on);
    }
  }
  if (s.nts) {
    for (const auto& [outcome, count] : s.nts->ke_sessions) {
      f.counter("smeard_nts_ke_sessions_total", "NTS-KE sessions (RFC 8915) by outcome", static_cast<double>(count),
                {{"outcome", outcome}});
    }
    f.counter("smeard_nts_cookies_issued_total", "Cookies handed out by NTS-KE", static_cast<double>(s.nts->cookies_issued), {});
    f.gauge("smeard_nts_ke_connections", "NTS-KE connections open now", static_cast<double>(s.nts->ke_open_connections));
    f.gauge("smeard_nts_cookie_key_age_seconds", "Time since the cookie key in force began its rotation period",
            s.nts->cookie_key_age_seconds);
    f.gauge("smeard_nts_cookie_key_rotation_seconds", "How long each cookie key seals new cookies", s.nts->rotation_seconds);
    if (s.nts->certificate_expiry) {
      f.gauge("smeard_nts_certificate_expiry_timestamp_seconds", "When the NTS-KE TLS certificate expires",
              *s.nts->certificate_expiry);
    }
  }
  for (const auto& [reason, count] : {std::pair{"not_allowed", s.endpoint_refusals.not_allowed},
                                      {"per_address", s.endpoint_refusals.per_address},
                                      {"sessions", s.endpoint_refusals.sessions}}) {
    f.counter("smeard_metrics_connections_refused_total",
              "Connections to this endpoint closed at accept: outside metrics.allow, over "
              "max_connections_per_address, or over the endpoint's sessions",
              static_cast<double>(count), {{"reason", reason}});
  }
  for (const HardwareTimestampStatus& h : s.hardware_timestamps) {
    const Labels interface {
      { "interface", h.interface }
    };
    f.gauge("smeard_hardware_timestamps",
            "1 for each configured interface, by who stamps its packets: hardware or software", 1,
            {{"interface", h.interface}, {"mode", h.mode}});
    if (h.mode != "hardware") continue;
    f.gauge("smeard_hardware_clock_converting",
            "1 while the interface's hardware stamps are converted to the system clock through its PHC",
            h.converting ? 1 : 0, interface);
    if (h.offset_seconds) {
      f.gauge("smeard_hardware_clock_offset_seconds", "The system clock minus the interface's PHC at the last sample",
              *h.offset_seconds, interface);
    }
  }
  return prometheus::TextSerializer{}.Serialize(f.all());
}

std::string to_json(const Status& s) {
  nlohmann::ordered_json json;
  json["version"] = s.version;
  json["now"] = s.now;
  json["ready"] = s.not_ready.empty();
  json["not_ready"] = s.not_ready;
  json["healthy"] = s.healthy;
  json["reference"] = {{"type", s.reference_type},
                       {"stage", s.reference_stage},
                       {"selected", s.selected_source ? nlohmann::ordered_json(*s.selected_source) : nullptr},
                       {"selection_changes", s.selection_changes},
                       {"offset_s", s.reference_offset_seconds},
                       {"error_bound_s", s.reference_error_bound_seconds},
                       {"stratum", s.reference_stratum},
                       {"last_update", optional(s.reference_last_update)},
                       {"holdover_ends", optional(s.holdover_ends)},
                       {"reachable", s.reference_reachable},
                       {"synchronized", s.reference_synchronized}};
  json["sources"] = nlohmann::ordered_json::array();
  for (const SourceStatus& source : s.sources) {
    json["sources"].push_back(
        {{"name", source.name},
         {"type", source.type},
         {"state", source.state},
         {"stratum", source.stratum},
         {"poll_s", source.poll_seconds},
         {"reach", source.reach},
         {"offset_s", optional(source.offset_seconds)},
         {"delay_s", optional(source.delay_seconds)},
         {"error_s", optional(source.error_seconds)},
         {"last_sample", optional(source.last_sample)},
         {"why", source.why},
         {"address", source.address.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(source.address)},
         {"unauthentic", source.unauthentic}});
  }
  json["served"] = {{"stratum", s.served_stratum},
                    {"refid", s.refid},
                    {"root_delay_s", s.root_delay_seconds},
                    {"root_dispersion_s", s.root_dispersion_seconds}};
  json["leap_table"] = {{"loaded", s.leap_table_loaded},
                        {"valid", s.leap_table_valid},
                        {"source", s.leap_table_source},
                        {"hash", s.leap_table_hash},
                        {"leaps", s.leap_table_leaps},
                        {"expires", optional(s.leap_table_expiry)},
                        {"last_update", optional(s.leap_table_last_update)},
                        {"tai_offset", s.tai_offset},
                        {"next_leap", optional(s.next_leap)},
                        {"next_leap_sign", s.next_leap_sign}};
  json["timescales"] = nlohmann::ordered_json::array();
  for (const TimescaleStatus& t : s.timescales) {
    json["timescales"].push_back({{"name", t.name},
                                  {"profile", t.profile},
                                  {"rehearsal", t.rehearsal},
                                  {"active", t.active},
                                  {"offset_s", t.offset_seconds},
                                  {"progress", t.progress},
                                  {"frequency_ppm", t.frequency_ratio * 1e6},
                                  {"leap", t.leap_indicator},
                                  {"smear_start", optional(t.smear_start)},
                                  {"smear_end", optional(t.smear_end)},
                                  {"clients", clients_json(t.clients)}});
  }
  json["traffic"] = nlohmann::ordered_json::array();
  for (const Traffic& traffic : s.traffic) {
    const counting::Totals& t = traffic.counts;
    std::uint64_t requests = 0, responses = 0, dropped = 0;
    for (const auto n : t.requests_by_version) requests += n;
    for (const auto n : t.replies_by_version) responses += n;
    for (const auto n : t.drops) dropped += n;
    json["traffic"].push_back({{"listener", traffic.listener},
                               {"timescale", traffic.timescale},
                               {"requests", requests},
                               {"responses", responses},
                               {"dropped", dropped},
                               {"kod_deny", t.kod_deny},
                               {"kod_rate", t.kod_rate},
                               {"crypto_nak", t.crypto_nak},
                               {"nts_ok", t.nts_ok},
                               {"nts_nak", t.nts_nak},
                               {"ratelimited", t.ratelimit_leaked + t.kod_rate + t.dropped(ntp::DropReason::rate_limited)},
                               {"pin_violations", t.pin_violations},
                               {"sticky_violations", t.sticky_violations},
                               {"mixed_clients", t.mixed_clients},
                               {"interleaved", t.interleaved_replies},
                               {"requests_by_worker", traffic.requests_by_worker},
                               {"xdp", xdp_json(traffic.xdp)}});
  }
  json["metrics_endpoint"] = {{"refused",
                               {{"not_allowed", s.endpoint_refusals.not_allowed},
                                {"per_address", s.endpoint_refusals.per_address},
                                {"sessions", s.endpoint_refusals.sessions}}}};
  if (s.nts) {
    nlohmann::ordered_json sessions;
    for (const auto& [outcome, count] : s.nts->ke_sessions) sessions[outcome] = count;
    json["nts"] = {{"ke_sessions", sessions},
                   {"cookies_issued", s.nts->cookies_issued},
                   {"ke_connections", s.nts->ke_open_connections},
                   {"cookie_key_period", s.nts->cookie_key_period},
                   {"cookie_key_age_s", s.nts->cookie_key_age_seconds},
                   {"rotation_s", s.nts->rotation_seconds},
                   {"certificate_expires", optional(s.nts->certificate_expiry)}};
  }
  json["hardware_timestamps"] = nlohmann::ordered_json::array();
  for (const HardwareTimestampStatus& h : s.hardware_timestamps) {
    nlohmann::ordered_json row{{"interface", h.interface}, {"mode", h.mode}, {"ifindex", h.ifindex}};
    if (h.mode == "hardware") {
      row.update({{"phc", h.phc},
                  {"filter", h.filter},
                  {"transmit", h.transmit},
                  {"converting", h.converting},
                  {"offset_s", optional(h.offset_seconds)},
                  {"rate_ppm", optional(h.rate_ppm)},
                  {"last_sample", optional(h.last_sample)}});
    } else {
      row["reason"] = h.reason;
    }
    json["hardware_timestamps"].push_back(std::move(row));
  }
  // Replace, not throw on, bytes that are not UTF-8 (a path or name from a damaged file).
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace metrics
