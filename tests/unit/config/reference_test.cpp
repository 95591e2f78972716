// reference: the one-source shorthand, the list of sources, and the selection among them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/unit/config/helpers.hpp"

using config_test::kListener;
using config_test::kTimescales;
using config_test::only_problem;
using config_test::parse;

TEST_CASE("simulated reference") {
  const auto result =
      parse(kListener + kTimescales + "reference: {type: simulated, start: \"2016-12-31T23:00:00Z\", rate: 0.25}\n");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const config::Reference& reference = result.config->reference;
  REQUIRE(reference.simulated() != nullptr);
  const config::ReferenceSource& simulated = *reference.simulated();
  CHECK(simulated.type == config::ReferenceSource::Type::simulated);
  CHECK(simulated.key == "reference");
  CHECK(leapdb::format_rfc3339(simulated.start) == "2016-12-31T23:00:00.000000000Z");
  CHECK(simulated.rate_numerator == 25);
  CHECK(simulated.rate_denominator == 100);
  CHECK(simulated.rate_text == "0.25");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: simulated}\n") ==
        "smeard.yaml:7:12: reference.start: required key is missing");
  CHECK(only_problem(kListener + kTimescales +
                     "reference: {type: simulated, start: \"2016-12-31T23:00:00Z\", rate: 0}\n") ==
        "smeard.yaml:7:67: reference.rate: '0' is not a rate above 0 and at most 100000, e.g. 60 or 0.5");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, rate: 2}\n") ==
        "smeard.yaml:7:27: reference.rate: not for type: system (only for type: simulated)");
}

TEST_CASE("references: each type with its own keys, and one key per type") {
  using config::ReferenceSource;
  const auto reference = [](const std::string& yaml) {
    const auto result = parse(kListener + kTimescales + yaml);
    REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
    return result.config->reference;
  };
  // The shorthand: one source, named "reference" in messages.
  const auto ref = [&](const std::string& yaml) {
    const config::Reference read = reference(yaml);
    REQUIRE(read.sources.size() == 1);
    CHECK(read.sources[0].key == "reference");
    CHECK(read.minsources == 1);
    return read.sources[0];
  };
  const config::Reference selection =
      reference("reference: {type: system, clock: tai, holdover: 600, unsynchronized: {local_stratum: 10}}\n");
  CHECK(selection.holdover == std::chrono::seconds{600});
  CHECK(selection.local_stratum == 10);
  CHECK(selection.max_step == std::chrono::seconds{1});
  CHECK(selection.simulated() == nullptr);
  CHECK(selection.location.line == 7);
  const ReferenceSource system = selection.sources.at(0);
  CHECK(system.clock == ReferenceSource::Clock::tai);
  CHECK(system.reference_id_text() == "LOCL");
  CHECK_FALSE(system.ptp4l);
  CHECK_FALSE(system.prefer);
  CHECK_FALSE(system.noselect);
  CHECK(reference("reference: {type: system}\n").holdover == std::chrono::hours{1});

  const ReferenceSource phc = ref("reference: {type: phc, device: /dev/ptp0, timescale: utc}\n");
  CHECK(phc.device == "/dev/ptp0");
  CHECK(phc.timescale == ReferenceSource::Timescale::utc);
  CHECK(phc.reference_id_text() == "PHC");
  CHECK(phc.resource_location.line == 7);
  CHECK(phc.resource_location.column == 32);
  CHECK(ref("reference: {type: phc, device: /dev/ptp1}\n").timescale == ReferenceSource::Timescale::tai);

  const ReferenceSource shm = ref("reference: {type: shm, unit: 2, refid: GPS}\n");
  CHECK(shm.unit == 2);
  CHECK(shm.reference_id_text() == "GPS");
  CHECK(ref("reference: {type: shm, unit: 1}\n").reference_id_text() == "SHM1");

  CHECK(ref("reference: {type: sock, path: /run/chrony.ttyS0.sock}\n").path == "/run/chrony.ttyS0.sock");

  const ReferenceSource upstream =
      ref("reference: {type: upstream, servers: [ntp1.example.net, \"192.0.2.1:1123\", \"[2001:db8::1]:123\", "
          "\"2001:db8::2\"], "
          "minsources: 2, drift_file: /var/lib/smeard/drift, poll: 8}\n");
  REQUIRE(upstream.servers.size() == 4);
  CHECK(upstream.servers[0].host == "ntp1.example.net");
  CHECK(upstream.servers[0].port == 123);
  CHECK(upstream.servers[1].host == "192.0.2.1");
  CHECK(upstream.servers[1].port == 1123);
  CHECK(upstream.servers[2].host == "2001:db8::1");
  CHECK(upstream.servers[3].host == "2001:db8::2");
  CHECK(upstream.servers[3].port == 123);
  CHECK(upstream.minsources == 2);
  CHECK(upstream.drift_file == "/var/lib/smeard/drift");
  CHECK(upstream.poll == std::chrono::seconds{8});

  CHECK(only_problem(kListener + kTimescales + "reference: {type: upstream, servers: [a], refid: GPS}\n") ==
        "smeard.yaml:7:43: reference.refid: not for type: upstream (only for type: system, simulated, phc, shm, "
        "sock)");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: phc}\n") ==
        "smeard.yaml:7:12: reference.device: required key is missing");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: phc, device: ptp0}\n") ==
        "smeard.yaml:7:32: reference.device: 'ptp0' must be an absolute path");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: shm, unit: 256}\n") ==
        "smeard.yaml:7:30: reference.unit: '256' is not a whole number from 0 to 255");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: upstream, servers: [\"a:0\"]}\n") ==
        "smeard.yaml:7:39: reference.servers[0]: 'a:0' is not HOST, HOST:PORT, IPv4:PORT or [IPv6]:PORT");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: upstream, servers: [a, b], minsources: 3}\n") ==
        "smeard.yaml:7:58: reference.minsources: must be from 1 to the number of servers (a pool counts its "
        "max_sources)");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, unsynchronized: {local_stratum: 16}}\n") ==
        "smeard.yaml:7:59: reference.unsynchronized.local_stratum: '16' is not a whole number from 0 to 15");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, clock: monotonic}\n") ==
        "smeard.yaml:7:34: reference.clock: 'monotonic' is not one of: realtime, tai");
  for (const char* bad : {"", ":123", "[::1", "[::1]x", "host:", "host:99999", "-host", "ho st", "[nothost]:1"}) {
    CAPTURE(bad);
    CHECK_FALSE(config::parse_upstream_server(bad).has_value());
  }
}

namespace {

// A reference written as a list: `entries` are the items of reference.sources (the first on
// line 9), `rest` the selection's keys after them.
std::string sources(const std::string& entries, const std::string& rest = "") {
  return kListener + kTimescales + "reference:\n  sources:\n" + entries + rest;
}

}  // namespace

TEST_CASE("without a reference, the system clock is the one source") {
  const auto result = parse(kListener + kTimescales);
  REQUIRE(result.config);
  const config::Reference& reference = result.config->reference;
  REQUIRE(reference.sources.size() == 1);
  CHECK(reference.sources[0].type == config::ReferenceSource::Type::system);
  CHECK(reference.sources[0].key == "reference");
  CHECK(reference.sources[0].reference_id_text() == "LOCL");
  CHECK(reference.minsources == 1);
  CHECK(reference.max_step == std::chrono::seconds{1});
}

TEST_CASE("a list of sources of mixed types, each with its own options, and the selection beside it") {
  using config::ReferenceSource;
  const auto result =
      parse(sources(R"(    - {type: phc, device: /dev/ptp0, timescale: tai, ptp4l: /var/run/ptp4l, prefer: true}
    - {type: sock, path: /run/chrony.ttyS0.sock, trust: true}
    - type: upstream
      servers: ["ntp1.example.net", "ntp2.example.net"]
      minsources: 2
      poll: 16
      noselect: true
    - {type: shm, unit: 1, require: true, refid: GPS}
    - {type: system, ptp4l: /var/run/ptp4l-system}
)",
                    "  minsources: 2\n  holdover: 3600\n  max_step: 0.5\n"
                    "  unsynchronized: {local_stratum: 10}\n"));
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const config::Reference& reference = result.config->reference;
  CHECK(reference.minsources == 2);
  CHECK(reference.holdover == std::chrono::hours{1});
  CHECK(reference.max_step == std::chrono::milliseconds{500});
  CHECK(reference.local_stratum == 10);
  CHECK(reference.simulated() == nullptr);
  REQUIRE(reference.sources.size() == 5);

  const ReferenceSource& phc = reference.sources[0];
  CHECK(phc.key == "reference.sources[0]");
  CHECK(phc.type == ReferenceSource::Type::phc);
  CHECK(phc.device == "/dev/ptp0");
  CHECK(phc.ptp4l == "/var/run/ptp4l");
  CHECK(phc.prefer);
  CHECK_FALSE(phc.trust);
  CHECK(phc.location.line == 9);
  CHECK(phc.location.column == 7);
  CHECK(phc.resource_location.line == 9);
  CHECK(phc.resource_location.column == 27);

  const ReferenceSource& sock = reference.sources[1];
  CHECK(sock.key == "reference.sources[1]");
  CHECK(sock.path == "/run/chrony.ttyS0.sock");
  CHECK(sock.trust);
  CHECK(sock.reference_id_text() == "SOCK");

  const ReferenceSource& upstream = reference.sources[2];
  CHECK(upstream.type == ReferenceSource::Type::upstream);
  CHECK(upstream.servers.size() == 2);
  CHECK(upstream.minsources == 2);  // of its own servers
  CHECK(upstream.poll == std::chrono::seconds{16});
  CHECK(upstream.noselect);
  CHECK(upstream.location.line == 11);

  const ReferenceSource& shm = reference.sources[3];
  CHECK(shm.unit == 1);
  CHECK(shm.require);
  CHECK(shm.reference_id_text() == "GPS");

  const ReferenceSource& system = reference.sources[4];
  CHECK(system.type == ReferenceSource::Type::system);
  CHECK(system.ptp4l == "/var/run/ptp4l-system");
  CHECK(system.key == "reference.sources[4]");
}

TEST_CASE("a list of sources: problems in an entry are named by its path") {
  CHECK(only_problem(sources("    - {type: system}\n    - {type: phc}\n")) ==
        "smeard.yaml:10:7: reference.sources[1].device: required key is missing");
  CHECK(only_problem(sources("    - {type: gps}\n")) ==
        "smeard.yaml:9:14: reference.sources[0].type: unknown reference type 'gps' (expected: system, phc, shm, sock, "
        "upstream, simulated)");
  CHECK(
      only_problem(sources("    - {type: system, colour: red}\n")) ==
      "smeard.yaml:9:22: reference.sources[0].colour: unknown key (expected one of: type, refid, clock, device, "
      "timescale, ptp4l, unit, path, servers, minsources, drift_file, poll, nts_dump_dir, start, rate, prefer, trust, "
      "require, noselect)");
  CHECK(only_problem(sources("    - {type: system, prefer: yes}\n")) ==
        "smeard.yaml:9:30: reference.sources[0].prefer: 'yes' is not true or false");
  CHECK(only_problem(sources("    - {type: upstream, servers: [a, b], minsources: 3}\n")) ==
        "smeard.yaml:9:53: reference.sources[0].minsources: must be from 1 to the number of servers (a pool counts its "
        "max_sources)");
  CHECK(only_problem(sources("    - system\n")) ==
        "smeard.yaml:9:7: reference.sources[0]: expected a mapping, found a scalar");
  CHECK(only_problem(kListener + kTimescales + "reference: {sources: system}\n") ==
        "smeard.yaml:7:22: reference.sources: expected a list, found a scalar");
}

TEST_CASE("a list of sources: the selection's keys belong to reference, a source's to its entry") {
  CHECK(only_problem(sources("    - {type: system, holdover: 60}\n")) ==
        "smeard.yaml:9:22: reference.sources[0].holdover: belongs to reference, not to one source: move it to "
        "reference.holdover");
  CHECK(only_problem(sources("    - {type: system, unsynchronized: {local_stratum: 3}}\n")) ==
        "smeard.yaml:9:22: reference.sources[0].unsynchronized: belongs to reference, not to one source: move it to "
        "reference.unsynchronized");
  CHECK(only_problem(sources("    - {type: system}\n", "  device: /dev/ptp0\n")) ==
        "smeard.yaml:10:3: reference.device: belongs to one source: move it into its entry of reference.sources");
  CHECK(only_problem(sources("    - {type: system}\n", "  colour: blue\n")) ==
        "smeard.yaml:10:3: reference.colour: unknown key (expected one of: sources, minsources, max_step, holdover, "
        "unsynchronized)");
  CHECK(only_problem(kListener + kTimescales +
                     "reference: {type: system, sources: [{type: phc, device: /dev/ptp0}]}\n") ==
        "smeard.yaml:7:13: reference.type: not together with sources: each entry of reference.sources has its own "
        "type");
  const auto selection =
      parse(sources("    - {type: system}\n", "  holdover: 60\n  unsynchronized: {local_stratum: 3}\n"));
  REQUIRE_MESSAGE(selection.problems.empty(), selection.problems.front().to_string());
  CHECK(selection.config->reference.holdover == std::chrono::minutes{1});
  CHECK(selection.config->reference.local_stratum == 3);
}

TEST_CASE("a list of sources: from 1 to 32") {
  CHECK(only_problem(kListener + kTimescales + "reference: {sources: []}\n") ==
        "smeard.yaml:7:22: reference.sources: at least one source is needed");
  std::string many;
  for (int i = 0; i < 33; ++i) many += "    - {type: sock, path: /run/" + std::to_string(i) + ".sock}\n";
  CHECK(only_problem(sources(many)) == "smeard.yaml:9:5: reference.sources: at most 32 sources");
  many.erase(many.rfind("    - "));
  CHECK(parse(sources(many)).config->reference.sources.size() == 32);
}

TEST_CASE("a simulated source only alone") {
  const std::string simulated = "    - {type: simulated, start: \"2016-12-31T23:00:00Z\"}\n";
  const auto alone = parse(sources(simulated));
  REQUIRE_MESSAGE(alone.problems.empty(), alone.problems.front().to_string());
  REQUIRE(alone.config->reference.simulated() != nullptr);
  CHECK(alone.config->reference.simulated()->key == "reference.sources[0]");
  CHECK(only_problem(sources("    - {type: system}\n" + simulated)) ==
        "smeard.yaml:10:7: reference.sources[1]: a simulated source is its own truth and cannot be cross-checked: it "
        "must be the only source");
  // Nothing to hold over from, and nothing to step.
  CHECK(only_problem(sources(simulated, "  holdover: 60\n")) ==
        "smeard.yaml:10:3: reference.holdover: not for type: simulated (only for type: system, phc, shm, sock, "
        "upstream)");
  CHECK(only_problem(kListener + kTimescales +
                     "reference: {type: simulated, start: \"2016-12-31T23:00:00Z\", max_step: 1}\n") ==
        "smeard.yaml:7:61: reference.max_step: not for type: simulated (only for type: system, phc, shm, sock, "
        "upstream)");
}

TEST_CASE("two sources of the same device, segment, socket or clock") {
  CHECK(only_problem(sources("    - {type: sock, path: /run/a.sock}\n    - {type: sock, path: /run/a.sock}\n")) ==
        "smeard.yaml:10:26: reference.sources[1].path: /run/a.sock is already used by reference.sources[0]");
  CHECK(only_problem(sources("    - {type: shm, unit: 2}\n    - {type: system}\n    - {type: shm, unit: 2}\n")) ==
        "smeard.yaml:11:25: reference.sources[2].unit: SHM unit 2 is already used by reference.sources[0]");
  CHECK(only_problem(
            sources("    - {type: phc, device: /dev/ptp0}\n    - {type: phc, device: /dev/ptp0, timescale: utc}\n")) ==
        "smeard.yaml:10:27: reference.sources[1].device: /dev/ptp0 is already used by reference.sources[0]");
  CHECK(only_problem(sources("    - {type: system}\n    - {type: system, clock: tai}\n")) ==
        "smeard.yaml:10:7: reference.sources[1]: the system clock is already used by reference.sources[0]");
  // Different units, paths and devices are different sources.
  const auto distinct =
      parse(sources("    - {type: shm, unit: 0}\n    - {type: shm, unit: 1}\n"
                    "    - {type: sock, path: /run/a.sock}\n    - {type: sock, path: /run/b.sock}\n"
                    "    - {type: phc, device: /dev/ptp0}\n    - {type: phc, device: /dev/ptp1}\n"));
  REQUIRE_MESSAGE(distinct.problems.empty(), distinct.problems.front().to_string());
  CHECK(distinct.config->reference.sources.size() == 6);
}

TEST_CASE("minsources: from 1 to the sources that can be selected") {
  const std::string three =
      "    - {type: system}\n    - {type: shm, unit: 0}\n"
      "    - {type: sock, path: /run/a.sock, noselect: true}\n";
  const auto two = parse(sources(three, "  minsources: 2\n"));
  REQUIRE_MESSAGE(two.problems.empty(), two.problems.front().to_string());
  CHECK(two.config->reference.minsources == 2);
  CHECK(only_problem(sources(three, "  minsources: 3\n")) ==
        "smeard.yaml:12:15: reference.minsources: must be from 1 to 2, the number of sources without noselect");
  CHECK(only_problem(sources(three, "  minsources: 0\n")) ==
        "smeard.yaml:12:15: reference.minsources: must be from 1 to 2, the number of sources without noselect");
  CHECK(only_problem(sources(three, "  minsources: two\n")) ==
        "smeard.yaml:12:15: reference.minsources: 'two' is not a whole number from 0 to 32");
  CHECK(only_problem(sources("    - {type: system, noselect: true}\n    - {type: shm, unit: 0, noselect: true}\n")) ==
        "smeard.yaml:9:5: reference.sources: every source is noselect: nothing could ever be selected");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, noselect: true}\n") ==
        "smeard.yaml:7:37: reference.noselect: the only source cannot be noselect: nothing could ever be selected");
  // In the shorthand, minsources is the upstream source's own: how many of its servers agree.
  CHECK(only_problem(kListener + kTimescales + "reference: {type: system, minsources: 1}\n") ==
        "smeard.yaml:7:27: reference.minsources: not for type: system (only for type: upstream)");
}

TEST_CASE("max_step: decimal seconds from 0.001 to 10^9") {
  const auto max_step = [](const std::string& value) {
    const auto result = parse(kListener + kTimescales + "reference: {type: system, max_step: " + value + "}\n");
    REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
    return result.config->reference.max_step;
  };
  CHECK(max_step("1") == std::chrono::seconds{1});
  CHECK(max_step("0.5") == std::chrono::milliseconds{500});
  CHECK(max_step("1000") == std::chrono::seconds{1000});
  CHECK(max_step("0.001") == std::chrono::milliseconds{1});
  CHECK(max_step("2.123456789") == leapdb::Nanoseconds{2'123'456'789});
  CHECK(max_step("1000000000") == std::chrono::seconds{1'000'000'000});
  CHECK(parse(sources("    - {type: system}\n", "  max_step: 1000\n")).config->reference.max_step ==
        std::chrono::seconds{1000});
  for (const char* bad : {"0", "0.0005", "1000000000.5", "1e9", "-1", ".5", "1.", "0.0000000001", "1.5.3", "\"\"",
                          "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK(only_problem(kListener + kTimescales + "reference: {type: system, max_step: " + bad + "}\n") ==
          "smeard.yaml:7:37: reference.max_step: '" + std::string{bad == std::string{"\"\""} ? "" : bad} +
              "' is not a number of seconds from 0.001 to 1000000000, e.g. 1 or 0.5");
  }
}

TEST_CASE("ptp4l: for phc and system sources only, an absolute path") {
  CHECK(parse(kListener + kTimescales + "reference: {type: phc, device: /dev/ptp0, ptp4l: /run/ptp4l}\n")
            .config->reference.sources[0]
            .ptp4l == "/run/ptp4l");
  CHECK(parse(kListener + kTimescales + "reference: {type: system, ptp4l: /run/ptp4l}\n")
            .config->reference.sources[0]
            .ptp4l == "/run/ptp4l");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: shm, unit: 0, ptp4l: /run/ptp4l}\n") ==
        "smeard.yaml:7:33: reference.ptp4l: not for type: shm (only for type: system, phc)");
  CHECK(only_problem(sources("    - {type: upstream, servers: [a], ptp4l: /run/ptp4l}\n")) ==
        "smeard.yaml:9:38: reference.sources[0].ptp4l: not for type: upstream (only for type: system, phc)");
  CHECK(only_problem(kListener + kTimescales + "reference: {type: phc, device: /dev/ptp0, ptp4l: ptp4l.sock}\n") ==
        "smeard.yaml:7:50: reference.ptp4l: 'ptp4l.sock' must be an absolute path");
}

TEST_CASE("the list in default.yaml's comments is a valid reference") {
  const std::string_view text = config::embedded_default();
  std::string example;  // the lines from "# reference:" to the next bare "#", uncommented
  for (std::size_t at = text.find("# reference:\n"); at < text.size() && text.substr(at).starts_with("# ");) {
    const std::size_t end = text.find('\n', at) + 1;
    example += text.substr(at + 2, end - at - 2);
    at = end;
  }
  REQUIRE(example.starts_with("reference:\n  sources:\n"));
  const auto result = parse(kListener + kTimescales + example);
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  CHECK(result.config->reference.sources.size() == 3);
  CHECK(result.config->reference.minsources == 2);
}

namespace {

const std::string kUpstream = kListener + kTimescales + "reference:\n  type: upstream\n  servers:\n";

// The problems of an upstream reference with these `servers` items (each a line of YAML), and
// perhaps keys after them.
std::vector<std::string> upstream_problems(const std::string& items, const std::string& more = "") {
  std::vector<std::string> out;
  for (const config::Problem& p : parse(kUpstream + items + more).problems) out.push_back(p.to_string());
  return out;
}

}  // namespace

TEST_CASE("upstream servers: a string, or a mapping with server or pool and the entry's options") {
  using Kind = config::UpstreamServer::Kind;
  const auto result = parse(kUpstream +
                            "    - ntp1.example.net\n"
                            "    - {server: \"ntp2.example.net:1123\", key: 7}\n"
                            "    - {pool: pool.example.net, max_sources: 6}\n"
                            "    - {pool: other.example.net}\n"
                            "    - {server: \"[2001:db8::1]\", nts: true, nts_port: 4461, nts_ca: /etc/ssl/ca.pem}\n"
                            "  minsources: 11\n  nts_dump_dir: /var/lib/smeard/nts\nkeys: /etc/smeard/ntp.keys\n");
  REQUIRE_MESSAGE(result.problems.empty(), result.problems.front().to_string());
  const config::ReferenceSource& source = result.config->reference.sources.at(0);
  REQUIRE(source.servers.size() == 5);
  const auto& s = source.servers;
  CHECK(s[0].kind == Kind::server);
  CHECK(s[0].host == "ntp1.example.net");
  CHECK(s[0].key == "reference.servers[0]");
  CHECK(s[0].associations() == 1);
  CHECK(s[1].kind == Kind::server);
  CHECK(s[1].host == "ntp2.example.net");
  CHECK(s[1].port == 1123);
  CHECK(s[1].text == "ntp2.example.net:1123");
  CHECK(s[1].key_id == 7u);
  CHECK(s[1].key_id_location.line == 11);
  CHECK(s[2].kind == Kind::pool);
  CHECK(s[2].max_sources == 6);
  CHECK(s[2].associations() == 6);
  CHECK(s[3].max_sources == 4);  // chrony's default
  CHECK(s[4].nts);
  CHECK(s[4].host == "2001:db8::1");
  CHECK(s[4].nts_port == 4461);
  CHECK(s[4].nts_ca == "/etc/ssl/ca.pem");
  CHECK_FALSE(s[4].key_id);
  CHECK(s[1].nts_port == 4460);
  CHECK_FALSE(s[1].nts_ca);
  CHECK(source.minsources == 11);  // 1 + 1 + 6 + 4 + 1 servers
  CHECK(source.nts_dump_dir == "/var/lib/smeard/nts");
}

TEST_CASE("upstream servers: each entry's problems named by field") {
  CHECK(upstream_problems("    - {pool: pool.example.net, max_sources: 4}\n", "  minsources: 5\n") ==
        std::vector<std::string>{
            "smeard.yaml:11:15: reference.minsources: must be from 1 to the number of servers (a pool counts "
            "its max_sources)"});
  CHECK(upstream_problems("    - {pool: pool.example.net, max_sources: 4}\n", "  minsources: 4\n").empty());
  CHECK(upstream_problems("    - {server: a, pool: b}\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:7: reference.servers[0]: server and pool exclude each other: an entry is one or "
            "the other"});
  CHECK(upstream_problems("    - {max_sources: 2}\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:7: reference.servers[0]: needs server: HOST[:PORT] or pool: NAME[:PORT]"});
  CHECK(upstream_problems("    - {server: a, max_sources: 2}\n") ==
        std::vector<std::string>{"smeard.yaml:10:32: reference.servers[0].max_sources: only for a pool"});
  CHECK(upstream_problems("    - {pool: a, max_sources: 17}\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:30: reference.servers[0].max_sources: '17' is not a whole number from 0 to 16"});
  CHECK(upstream_problems("    - {pool: a, max_sources: 0}\n") ==
        std::vector<std::string>{"smeard.yaml:10:30: reference.servers[0].max_sources: must be from 1 to 16"});
  CHECK(upstream_problems("    - {pool: \"192.0.2.1\"}\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:14: reference.servers[0].pool: '192.0.2.1' is an address: a pool is a name with "
            "several addresses (use server: for one)"});
  CHECK(upstream_problems("    - {pool: \"[2001:db8::1]:123\"}\n").size() == 1);
  CHECK(upstream_problems("    - {server: \"a:0\"}\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:16: reference.servers[0].server: 'a:0' is not HOST, HOST:PORT, IPv4:PORT or "
            "[IPv6]:PORT"});
  CHECK(upstream_problems("    - {server: a, colour: red}\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:19: reference.servers[0].colour: unknown key (expected one of: server, pool, "
            "max_sources, key, nts, nts_port, nts_ca)"});
  CHECK(upstream_problems("    - [a]\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:7: reference.servers[0]: expected HOST[:PORT], or a mapping with server: or "
            "pool:, found a list"});
  CHECK(upstream_problems("    - a\n    - {server: a}\n") ==
        std::vector<std::string>{"smeard.yaml:11:7: reference.servers[1]: 'a' is already servers[0]"});
  // Keys: an id from 1 to 2^32 - 1, of a keys file; not with NTS.
  CHECK(upstream_problems("    - {server: a, key: 0}\n", "keys: /etc/k\n") ==
        std::vector<std::string>{"smeard.yaml:10:24: reference.servers[0].key: must be a key id from 1 to 4294967295"});
  CHECK(upstream_problems("    - {server: a, key: 4294967296}\n", "keys: /etc/k\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:24: reference.servers[0].key: '4294967296' is not a whole number from 0 to "
            "4294967295"});
  CHECK(upstream_problems("    - {server: a, key: 4294967295}\n", "keys: /etc/k\n").empty());
  CHECK(upstream_problems("    - {server: a, key: 1}\n") ==
        std::vector<std::string>{"smeard.yaml:10:24: reference.servers[0].key: needs a keys file (keys: PATH)"});
  CHECK(upstream_problems("    - {server: a, key: 1, nts: true}\n", "keys: /etc/k\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:24: reference.servers[0].key: not together with nts: NTS authenticates by itself"});
  // NTS: its port and CA only with it.
  CHECK(upstream_problems("    - {server: a, nts_port: 4460}\n") ==
        std::vector<std::string>{"smeard.yaml:10:29: reference.servers[0].nts_port: only with nts: true"});
  CHECK(upstream_problems("    - {server: a, nts: false, nts_ca: /etc/ca.pem}\n") ==
        std::vector<std::string>{"smeard.yaml:10:39: reference.servers[0].nts_ca: only with nts: true"});
  CHECK(upstream_problems("    - {server: a, nts: yes}\n") ==
        std::vector<std::string>{"smeard.yaml:10:24: reference.servers[0].nts: 'yes' is not true or false"});
  CHECK(upstream_problems("    - {server: a, nts: true, nts_port: 0}\n") ==
        std::vector<std::string>{"smeard.yaml:10:40: reference.servers[0].nts_port: must be a port from 1 to 65535"});
  CHECK(upstream_problems("    - {server: a, nts: true, nts_ca: ca.pem}\n") ==
        std::vector<std::string>{"smeard.yaml:10:38: reference.servers[0].nts_ca: 'ca.pem' must be an absolute path"});
  CHECK(upstream_problems("    - a\n", "  nts_dump_dir: nts\n") ==
        std::vector<std::string>{"smeard.yaml:11:17: reference.nts_dump_dir: 'nts' must be an absolute path"});
  // At most 64 servers, a pool counting its max_sources.
  std::string many;
  for (int i = 0; i < 4; ++i) many += "    - {pool: p" + std::to_string(i) + ".example.net, max_sources: 16}\n";
  CHECK(upstream_problems(many).empty());
  CHECK(upstream_problems(many + "    - extra.example.net\n") ==
        std::vector<std::string>{
            "smeard.yaml:10:5: reference.servers: at most 64 servers, a pool counting its max_sources"});
}
