#include "server/metrics/status.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace {

metrics::Status example() {
  metrics::Status s;
  s.version = "9.9.9";
  s.reference_type = "system";
  s.leap_table_loaded = true;
  s.leap_table_valid = true;
  s.leap_table_source = "/usr/share/zoneinfo/leap-seconds.list";
  s.leap_table_hash = "ok";
  s.leap_table_expiry = 1782604800;
  s.next_leap = 1483228800;
  s.next_leap_sign = 1;
  s.tai_offset = 36;
  metrics::TimescaleStatus google;
  google.name = "google";
  google.profile = "google";
  google.active = true;
  google.offset_seconds = -0.25;
  google.smear_start = 1483185600;
  s.timescales.push_back(google);
  metrics::Traffic traffic;
  traffic.listener = "0.0.0.0:123";
  traffic.timescale = "google";
  traffic.counts.requests_by_version[4] = 10;
  traffic.counts.replies_by_version[4] = 9;
  traffic.counts.drops[static_cast<std::size_t>(ntp::DropReason::bad_version)] = 1;
  traffic.counts.kod_deny = 2;
  traffic.counts.processing_buckets[0] = 5;
  traffic.counts.processing_buckets[3] = 4;
  traffic.counts.processing_sum_ns = 40'000;
  s.traffic.push_back(traffic);
  s.healthy = true;
  return s;
}

}  // namespace

TEST_CASE("Prometheus text: names, labels, types, a cumulative histogram") {
  const std::string text = metrics::to_prometheus(example());
  for (const char* line :
       {"smeard_build_info{version=\"9.9.9\"} 1", "smeard_ready 1", "smeard_smear_offset_seconds{timescale=\"google\"} -0.25",
        "smeard_smear_start_timestamp_seconds{timescale=\"google\"} 1483185600", "smeard_next_leap_sign 1",
        "smeard_tai_offset_seconds 36",
        "smeard_leap_table_info{source=\"/usr/share/zoneinfo/leap-seconds.list\",hash=\"ok\"} 1",
        "smeard_requests_total{listener=\"0.0.0.0:123\",timescale=\"google\",version=\"4\"} 10",
        "smeard_drops_total{listener=\"0.0.0.0:123\",timescale=\"google\",reason=\"bad_version\"} 1",
        "smeard_kod_sent_total{listener=\"0.0.0.0:123\",timescale=\"google\",code=\"DENY\"} 2",
        "smeard_processing_seconds_bucket{listener=\"0.0.0.0:123\",timescale=\"google\",le=\"3e-06\"} 5",
        "smeard_processing_seconds_bucket{listener=\"0.0.0.0:123\",timescale=\"google\",le=\"5e-06\"} 9",
        "smeard_processing_seconds_bucket{listener=\"0.0.0.0:123\",timescale=\"google\",le=\"7.5e-06\"} 9",
        "smeard_processing_seconds_bucket{listener=\"0.0.0.0:123\",timescale=\"google\",le=\"1e-05\"} 9",
        "smeard_processing_seconds_bucket{listener=\"0.0.0.0:123\",timescale=\"google\",le=\"+Inf\"} 9",
        "smeard_processing_seconds_count{listener=\"0.0.0.0:123\",timescale=\"google\"} 9",
        "# TYPE smeard_requests_total counter", "# TYPE smeard_processing_seconds histogram",
        "# TYPE smeard_smear_offset_seconds gauge"}) {
    CAPTURE(line);
    CHECK(text.find(std::string{line} + "\n") != std::string::npos);
  }
  // Absent values are absent series, not zeros that would look like 1970.
  CHECK(text.find("smeard_leap_table_last_update_timestamp_seconds") == std::string::npos);
}

TEST_CASE("readiness follows the reasons") {
  auto s = example();
  CHECK(metrics::to_prometheus(s).find("smeard_ready 1\n") != std::string::npos);
  s.not_ready.push_back("the leap table expired");
  CHECK(metrics::to_prometheus(s).find("smeard_ready 0\n") != std::string::npos);
  const auto json = nlohmann::json::parse(metrics::to_json(s));
  CHECK_FALSE(json["ready"].get<bool>());
  CHECK(json["not_ready"][0] == "the leap table expired");
}

TEST_CASE("bytes that are not UTF-8 are replaced, never thrown on") {
  auto s = example();
  s.leap_table_source = "/srv/leap\xff.list";
  std::string text;
  CHECK_NOTHROW(text = metrics::to_json(s));
  CHECK(nlohmann::json::parse(text)["leap_table"]["source"] == "/srv/leap\xEF\xBF\xBD.list");
}

TEST_CASE("the status JSON smearctl reads") {
  const auto json = nlohmann::json::parse(metrics::to_json(example()));
  CHECK(json["version"] == "9.9.9");
  CHECK(json["timescales"][0]["offset_s"] == -0.25);
  CHECK(json["timescales"][0]["smear_end"].is_null());
  CHECK(json["leap_table"]["next_leap"] == 1483228800.0);
  CHECK(json["traffic"][0]["requests"] == 10);
  CHECK(json["traffic"][0]["dropped"] == 1);
}

TEST_CASE("the reference's stage and each source, as metrics and JSON") {
  auto s = example();
  s.reference_type = "upstream";
  s.reference_stage = "holdover";
  s.selected_source = "upstream(192.0.2.1, 192.0.2.2)";
  s.selection_changes = 3;
  s.holdover_ends = 1800000000;
  s.reference_last_update = 1799996400;
  metrics::SourceStatus good;
  good.name = "192.0.2.1:123";
  good.address = "192.0.2.1:123";
  good.type = "upstream";
  good.state = "selected";
  good.stratum = 2;
  good.poll_seconds = 16;
  good.reach = 0xfe;
  good.offset_seconds = -2.5e-5;
  good.delay_seconds = 1e-4;
  good.error_seconds = 3e-5;
  metrics::SourceStatus bad;
  bad.name = "pool.example.net";
  bad.address = "192.0.2.2:123";
  bad.type = "upstream";
  bad.state = "falseticker";
  bad.why = "2.0 s from the others";
  bad.unauthentic = 5;
  metrics::SourceStatus vacant;  // a pool member without an address yet
  vacant.name = "pool.example.net";
  vacant.type = "upstream";
  vacant.why = "no address yet";
  metrics::SourceStatus shm;
  shm.name = "SHM(0)";
  shm.type = "shm";
  shm.state = "selected";
  s.sources = {good, bad, vacant, vacant, shm};
  const std::string text = metrics::to_prometheus(s);
  for (const char* line :
       {"smeard_reference_stage{type=\"upstream\",stage=\"holdover\"} 1",
        "smeard_reference_stage{type=\"upstream\",stage=\"synchronized\"} 0",
        "smeard_reference_holdover_end_timestamp_seconds{type=\"upstream\"} 1800000000",
        "smeard_reference_last_update_timestamp_seconds{type=\"upstream\"} 1799996400",
        "smeard_source_state{type=\"upstream\",source=\"192.0.2.1:123\",address=\"192.0.2.1:123\",state=\"selected\"} "
        "1",
        "smeard_source_state{type=\"upstream\",source=\"192.0.2.1:123\",address=\"192.0.2.1:123\",state="
        "\"falseticker\"} 0",
        "smeard_source_state{type=\"upstream\",source=\"pool.example.net\",address=\"192.0.2.2:123\",state="
        "\"falseticker\"} 1",
        "smeard_source_reach{type=\"upstream\",source=\"192.0.2.1:123\",address=\"192.0.2.1:123\"} 254",
        "smeard_source_poll_seconds{type=\"upstream\",source=\"192.0.2.1:123\",address=\"192.0.2.1:123\"} 16",
        "smeard_source_offset_seconds{type=\"upstream\",source=\"192.0.2.1:123\",address=\"192.0.2.1:123\"} -2.5e-05",
        "smeard_source_unauthentic_replies_total{type=\"upstream\",source=\"pool.example.net\",address=\"192.0.2.2:"
        "123\"} 5",
        "smeard_source_vacant{type=\"upstream\",source=\"pool.example.net\"} 2",
        "smeard_source_vacant{type=\"upstream\",source=\"192.0.2.1:123\"} 0",
        "smeard_source_state{type=\"shm\",source=\"SHM(0)\",state=\"selected\"} 1",
        "smeard_reference_selection_changes_total{type=\"upstream\"} 3"}) {
    CAPTURE(line);
    CHECK(text.find(std::string{line} + "\n") != std::string::npos);
  }
  // A source without a sample has no offset series at all; a vacant slot no series of its own.
  CHECK(text.find("smeard_source_offset_seconds{type=\"upstream\",source=\"pool.example.net\"") == std::string::npos);
  CHECK(text.find("address=\"\"") == std::string::npos);
  CHECK(text.find("smeard_source_vacant{type=\"shm\"") == std::string::npos);
  CHECK(text.find("smeard_source_unauthentic_replies_total{type=\"shm\"") == std::string::npos);
  const auto json = nlohmann::json::parse(metrics::to_json(s));
  CHECK(json["reference"]["stage"] == "holdover");
  CHECK(json["reference"]["holdover_ends"] == 1800000000.0);
  CHECK(json["sources"][1]["why"] == "2.0 s from the others");
  CHECK(json["sources"][1]["offset_s"].is_null());
  CHECK(json["sources"][1]["address"] == "192.0.2.2:123");
  CHECK(json["sources"][1]["unauthentic"] == 5);
  CHECK(json["sources"][2]["address"].is_null());
  CHECK(json["sources"][2]["why"] == "no address yet");
  CHECK(json["sources"][0]["reach"] == 254);
  CHECK(json["sources"][0]["type"] == "upstream");
  CHECK(json["reference"]["selected"] == "upstream(192.0.2.1, 192.0.2.2)");
  CHECK(json["reference"]["selection_changes"] == 3);
}

TEST_CASE("hardware timestamps per interface, as metrics and JSON") {
  metrics::Status s;
  metrics::HardwareTimestampStatus eth0;
  eth0.interface = "eth0";
  eth0.mode = "hardware";
  eth0.ifindex = 2;
  eth0.phc = "/dev/ptp0";
  eth0.filter = "all";
  eth0.transmit = true;
  eth0.converting = true;
  eth0.offset_seconds = -37.0;
  eth0.rate_ppm = 1.5;
  eth0.last_sample = 1'772'366'400.0;
  metrics::HardwareTimestampStatus veth0;
  veth0.interface = "veth0";
  veth0.mode = "software";
  veth0.ifindex = 3;
  veth0.reason = "veth0: the driver has no hardware timestamps (ethtool: software only); using software stamps";
  s.hardware_timestamps = {eth0, veth0};
  const std::string text = metrics::to_prometheus(s);
  CHECK(text.find("smeard_hardware_timestamps{interface=\"eth0\",mode=\"hardware\"} 1\n") != std::string::npos);
  CHECK(text.find("smeard_hardware_timestamps{interface=\"veth0\",mode=\"software\"} 1\n") != std::string::npos);
  CHECK(text.find("smeard_hardware_clock_converting{interface=\"eth0\"} 1\n") != std::string::npos);
  CHECK(text.find("smeard_hardware_clock_offset_seconds{interface=\"eth0\"} -37\n") != std::string::npos);
  CHECK(text.find("smeard_hardware_clock_converting{interface=\"veth0\"}") == std::string::npos);
  const auto json = nlohmann::json::parse(metrics::to_json(s));
  REQUIRE(json["hardware_timestamps"].size() == 2);
  CHECK(json["hardware_timestamps"][0]["phc"] == "/dev/ptp0");
  CHECK(json["hardware_timestamps"][0]["converting"] == true);
  CHECK(json["hardware_timestamps"][0]["rate_ppm"] == 1.5);
  CHECK(json["hardware_timestamps"][1]["mode"] == "software");
  CHECK(json["hardware_timestamps"][1]["reason"] == veth0.reason);
  CHECK_FALSE(json["hardware_timestamps"][1].contains("phc"));
}

TEST_CASE("each timescale's heaviest clients in the JSON, last seen in RFC 3339 UTC; not in the metrics") {
  metrics::Status s = example();
  s.timescales[0].clients = {{"192.0.2.1", 120, 3, 100, 1483228799.75}, {"2001:db8::1", 5, 0, 0, 1483228800.0}};
  const auto json = nlohmann::json::parse(metrics::to_json(s));
  const auto& clients = json["timescales"][0]["clients"];
  REQUIRE(clients.size() == 2);
  CHECK(clients[0] == nlohmann::json{{"address", "192.0.2.1"},
                                     {"requests", 120},
                                     {"kod", 3},
                                     {"rate_limited", 100},
                                     {"last_seen", "2016-12-31T23:59:59Z"}});
  CHECK(clients[1]["address"] == "2001:db8::1");
  CHECK(clients[1]["last_seen"] == "2017-01-01T00:00:00Z");
  CHECK(nlohmann::json::parse(metrics::to_json(example()))["timescales"][0]["clients"] == nlohmann::json::array());
  CHECK(metrics::to_prometheus(s).find("192.0.2.1") == std::string::npos);
}

TEST_CASE("refused connections to the metrics endpoint, by reason") {
  metrics::Status s = example();
  s.endpoint_refusals = {3, 2, 1};
  const std::string text = metrics::to_prometheus(s);
  CHECK(text.find("smeard_metrics_connections_refused_total{reason=\"not_allowed\"} 3") != std::string::npos);
  CHECK(text.find("smeard_metrics_connections_refused_total{reason=\"per_address\"} 2") != std::string::npos);
  CHECK(text.find("smeard_metrics_connections_refused_total{reason=\"sessions\"} 1") != std::string::npos);
  const auto json = nlohmann::json::parse(metrics::to_json(s));
  CHECK(json["metrics_endpoint"]["refused"] == nlohmann::json{{"not_allowed", 3}, {"per_address", 2}, {"sessions", 1}});
}
