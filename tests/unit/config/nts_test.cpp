// nts: the TLS files, the cookie key, and where the KE listeners send their clients.
#include <doctest/doctest.h>

#include <string>

#include "tests/unit/config/helpers.hpp"

using config_test::only_problem;
using config_test::parse;

TEST_CASE("nts: files, rotation, KE listeners handing clients to their timescale's port, limits") {
  const std::string ntp =
      "listeners:\n  - {address: \"0.0.0.0:1123\", timescale: smeared}\n"
      "  - {address: \"0.0.0.0:123\", timescale: utc}\n"
      "timescales:\n  smeared: {smear: google}\n  utc: {smear: none}\n";
  const std::string files = "nts:\n  certificate: /c.pem\n  private_key: /k.pem\n  cookie_key_file: /s.key\n";

  SUBCASE("defaults, and the port of the timescale's NTP listener when it is not 123") {
    const auto result = parse(ntp + files +
                              "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: smeared}\n"
                              "    - {address: \"0.0.0.0:4461\", timescale: utc}\n");
    REQUIRE(result.config);
    REQUIRE(result.config->nts);
    const config::Nts& nts = *result.config->nts;
    CHECK(nts.certificate == "/c.pem");
    CHECK(nts.private_key == "/k.pem");
    CHECK(nts.cookie_key_file == "/s.key");
    CHECK(nts.cookie_key_file_location.line == 10);
    CHECK(nts.rotation == std::chrono::hours{24});
    CHECK(nts.max_connections == 256);
    CHECK(nts.handshake_timeout == std::chrono::seconds{5});
    CHECK(nts.rate_interval == std::chrono::seconds{1});
    CHECK(nts.rate_burst == 16);
    REQUIRE(nts.listeners.size() == 2);
    CHECK(nts.listeners[0].address.to_string() == "0.0.0.0:4460");
    CHECK(nts.listeners[0].timescale == "smeared");
    CHECK(nts.listeners[0].port == 1123);
    CHECK(nts.listeners[0].server.empty());
    CHECK_FALSE(nts.listeners[1].port);  // 123 is what the client assumes anyway
  }
  SUBCASE("everything set") {
    const auto result = parse(ntp + files +
                              "  rotation: 3600\n  max_connections: 10\n  handshake_timeout: 2\n"
                              "  ratelimit: {interval: 10, burst: 3}\n  listeners:\n"
                              "    - {address: \"[::]:4460\", timescale: utc, server: ntp.example.net, "
                              "port: 1123}\n");
    REQUIRE(result.config);
    const config::Nts& nts = *result.config->nts;
    CHECK(nts.rotation == std::chrono::hours{1});
    CHECK(nts.max_connections == 10);
    CHECK(nts.handshake_timeout == std::chrono::seconds{2});
    CHECK(nts.rate_interval == std::chrono::seconds{10});
    CHECK(nts.rate_burst == 3);
    CHECK(nts.listeners[0].server == "ntp.example.net");
    CHECK(nts.listeners[0].port == 1123);  // the operator's word, even if it serves another timescale
  }
  SUBCASE("without a server, the address a client reached NTS-KE at must serve the timescale") {
    const std::string specific =
        "listeners:\n  - {address: \"10.0.0.1:1123\", timescale: smeared}\n"
        "  - {address: \"10.0.0.2:1123\", timescale: utc}\n"
        "  - {address: \"0.0.0.0:123\", timescale: utc}\n"
        "timescales:\n  smeared: {smear: google}\n  utc: {smear: none}\n" +
        files + "  listeners:\n";
    const auto ke = [&](const std::string& item) { return specific + "    - " + item + "\n"; };
    // Each address leads to its own listener.
    const auto good = parse(ke("{address: \"10.0.0.1:4460\", timescale: smeared}") +
                            "    - {address: \"10.0.0.2:4460\", timescale: utc}\n");
    REQUIRE(good.config);
    CHECK(good.config->nts->listeners[0].port == 1123);
    CHECK(good.config->nts->listeners[1].port == 1123);
    // Port 123 at 10.0.0.1 is the wildcard's: utc.
    const auto to_123 = parse(ke("{address: \"10.0.0.1:4460\", timescale: utc}"));
    REQUIRE(to_123.config);
    CHECK_FALSE(to_123.config->nts->listeners[0].port);
    CHECK(only_problem(ke("{address: \"10.0.0.2:4460\", timescale: smeared}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "where no NTP listener of timescale 'smeared' answers; add one, or set server and port");
    CHECK(only_problem(ke("{address: \"0.0.0.0:4460\", timescale: smeared}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "where no NTP listener of timescale 'smeared' answers on every address; add one, or set server and port");
    CHECK(only_problem(ke("{address: \"0.0.0.0:4460\", timescale: utc, port: 1123}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients would ask for time at 10.0.0.1:1123 "
          "(listeners[0]), which serves 'smeared', not 'utc'; set server, or the port of a listener of 'utc'");
    CHECK(only_problem(ke("{address: \"10.0.0.1:4460\", timescale: smeared, port: 999}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "port 999, where no NTP listener answers; set server, or the port of a listener of timescale 'smeared'");
    CHECK(only_problem(ke("{address: \"[::]:4460\", timescale: utc}")) ==
          "smeard.yaml:13:17: nts.listeners[0].address: its clients ask for time at the address they reached it at, "
          "where no NTP listener of timescale 'utc' answers on every address; add one, or set server and port");
    // With a server, where its clients go is the operator's to say.
    CHECK(parse(ke("{address: \"10.0.0.2:4460\", timescale: smeared, server: ntp.example.net}")).config);
  }
  SUBCASE("errors") {
    const std::string ke = "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: smeared}\n";
    CHECK(only_problem(ntp + "nts:\n  certificate: /c.pem\n  private_key: /k.pem\n" + ke) ==
          "smeard.yaml:8:3: nts.cookie_key_file: required key is missing");
    CHECK(only_problem(ntp + files + "  cookie: x\n" + ke) ==
          "smeard.yaml:11:3: nts.cookie: unknown key (expected one of: certificate, private_key, cookie_key_file, "
          "rotation, listeners, max_connections, handshake_timeout, ratelimit)");
    CHECK(only_problem(ntp + files + "  rotation: 10\n" + ke) ==
          "smeard.yaml:11:13: nts.rotation: must be at least 60 seconds");
    CHECK(only_problem(ntp + files + "  rotation: 1d\n" + ke) ==
          "smeard.yaml:11:13: nts.rotation: '1d' is not a whole number of seconds from 0 to 2592000");
    CHECK(only_problem(ntp + files + "  handshake_timeout: 0\n" + ke) ==
          "smeard.yaml:11:22: nts.handshake_timeout: must be from 1 to 60 seconds");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: tai}\n") ==
          "smeard.yaml:12:44: nts.listeners[0].timescale: no NTP listener serves a timescale named 'tai'");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"host:4460\", timescale: utc}\n") ==
          "smeard.yaml:12:17: nts.listeners[0].address: 'host:4460' is not a numeric address with a port, e.g. "
          "\"0.0.0.0:4460\" or \"[::]:4460\"");
    CHECK(only_problem(ntp + files +
                       "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: utc}\n"
                       "    - {address: \"0.0.0.0:4460\", timescale: smeared}\n") ==
          "smeard.yaml:13:17: nts.listeners[1].address: 0.0.0.0:4460 is already used by nts.listeners[0]");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"127.0.0.1:9466\", timescale: utc}\n") ==
          "smeard.yaml:12:17: nts.listeners[0].address: 127.0.0.1:9466 is already used by metrics.listen");
    CHECK(only_problem(ntp + files +
                       "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: utc, server: "
                       "\"ntp:123\"}\n") ==
          "smeard.yaml:12:57: nts.listeners[0].server: 'ntp:123' is not a host name or address without a port");
    CHECK(only_problem(ntp + files + "  listeners:\n    - {address: \"0.0.0.0:4460\", timescale: utc, port: 0}\n") ==
          "smeard.yaml:12:55: nts.listeners[0].port: must be a port from 1 to 65535");
    CHECK(only_problem(ntp + files + "  listeners: []\n") ==
          "smeard.yaml:11:14: nts.listeners: at least one NTS-KE listener is needed");
    CHECK(only_problem(ntp + files + "  certificate: \"\"\n" + ke).ends_with("nts.certificate: key given twice"));
  }
}
