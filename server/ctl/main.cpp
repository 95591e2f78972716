// smearctl: the operator's command-line tool for smeard.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "leapdb/time.hpp"
#include "server/ctl/arguments.hpp"
#include "server/ctl/bench.hpp"
#include "server/ctl/import.hpp"
#include "server/ctl/leap.hpp"
#include "server/ctl/query.hpp"
#include "server/ctl/smear.hpp"
#include "server/ctl/status.hpp"
#include "server/reference/clocks.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: smearctl COMMAND ...

commands:
  query HOST[:PORT] [--json] [--timeout SECONDS] [--ntp-version 1-4]
      send one NTP request and print offset, delay, stratum, leap indicator,
      refid, version and the server's transmit time (PORT defaults to 123)
  leap show FILE... [--json] [--allow-unhashed] [--at TIME]
      print each leap file's table: leaps (date, TAI-UTC, sign), expiry, last
      update, hash status; the format (leap-seconds.list, tzdata leapseconds,
      TZif) is detected from the content
  leap check FILE... [--allow-unhashed] [--at TIME] [--warn-days DAYS]
      exit 0 when every file is valid, unexpired and all agree; otherwise
      print one line per problem and exit 1 (TIME: RFC 3339, default now;
      DAYS: how early to warn of expiry, default 28)
  smear --profile NAME (--leap YYYY-MM-DD [--sign -] | --leap-file FILE)
        (--at TIME | --from TIME --to TIME --step SECONDS) [--json]
      print, per true-UTC instant, the offset the profile serves, its frequency
      offset, progress through the smear and the leap indicator
  unsmear --profile NAME (--leap YYYY-MM-DD [--sign -] | --leap-file FILE) SMEARED_TIME
      print the true UTC time (23:59:60 in an inserted second) a smeared clock
      showed SMEARED_TIME at
  plot --profile NAME [--profile NAME...] (--leap YYYY-MM-DD [--sign -] | --leap-file FILE)
       --out FILE.svg
      draw the offset curves around the leap, with axes and a legend

  status [--url http://HOST:PORT] [--json]
      show what a running smeard is doing: reference, leap table, each
      timescale's smear, traffic (default URL http://127.0.0.1:9466; exit 3
      when it is not ready)
  clients [--url http://HOST:PORT] [--top N] [--timescale NAME] [--json]
      show each timescale's heaviest client addresses, from the workers'
      fixed-size tables: requests, kisses of death, rate-limited requests and
      when last seen, heaviest first (N: 1 to 100, default 10)
  health [--url http://HOST:PORT] [--ready]
      GET /healthz (or /readyz) and print the answer; exit 0 when it is 200,
      1 otherwise (for container health checks, which have no HTTP client)
  bench HOST:PORT --seconds N [--sockets S] [--window W] [--rate R] [--sources K]
        [--timeout SECONDS] [--nts C2S:COOKIE] [--json]
      load a server from S sockets (default 4), each keeping W requests in flight
      (default 16), or paced at R requests/s (each timed from when it was due);
      every reply is checked (server mode, origin timestamp); prints replies/s,
      loss (and late replies), and p50/p99 round trip.
      --sources sends from K distinct loopback addresses 127.1.0.1 upwards (an
      IPv4 loopback target only); unanswered after --timeout (default 1) is lost.
      --nts sends NTS requests (RFC 8915) with that cookie, authenticated with the
      client-to-server key (hex, as in chronyd's ntsdumpdir files); an NTS NAK
      counts as a kiss-o'-death.
      Exit status 1 when no valid reply came, or any reply was invalid
  import FILE [--out FILE.yaml] [--from chrony|ntpd|ntpd-rs]
      translate a chrony.conf, an ntp.conf (ntpd or NTPsec) or an ntpd-rs ntp.toml
      into a smeard configuration (standard output without --out): each setting
      names the line it comes from, each directive without an equivalent is
      listed with the reason. The format is told from the content unless --from
      names it. Exit status 1 when the file cannot be read or translated (each
      problem as FILE:LINE: DIRECTIVE: MESSAGE), 2 for a usage error

  Profiles: google (aws), google-2016, ntpd, ntpsec, chrony (meta), none, or custom:
  linear:window=SECONDS[,anchor=center|end|start], cosine:..., or
  quadratic:wander=PPM_PER_S[,max_frequency=PPM][,anchor=start]. TIME is RFC 3339 UTC.
)";

int usage_error(std::string_view message) {
  std::cerr << "smearctl: " << message << "\n" << kUsage;
  return 2;
}

int query_command(const std::vector<std::string_view>& args) {
  ctl::QueryOptions options;
  std::optional<ctl::Target> target;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--timeout" && i + 1 < args.size()) {
      double seconds = 0;
      if (!ctl::parse_number(args[++i], seconds) || seconds <= 0 || seconds > 3600) {
        return usage_error("--timeout takes a number of seconds, e.g. 2 or 0.5");
      }
      options.timeout = std::chrono::milliseconds{static_cast<long>(seconds * 1000)};
    } else if (arg == "--ntp-version" && i + 1 < args.size()) {
      const std::string_view v = args[++i];
      if (v.size() != 1 || v[0] < '1' || v[0] > '4') return usage_error("--ntp-version takes 1, 2, 3 or 4");
      options.version = static_cast<std::uint8_t>(v[0] - '0');
    } else if (!arg.starts_with("--") && !target) {
      target = ctl::parse_target(arg);
      if (!target) return usage_error("'" + std::string{arg} + "' is not HOST, HOST:PORT or [IPv6]:PORT");
    } else {
      return usage_error("unexpected argument '" + std::string{arg} + "'");
    }
  }
  if (!target) return usage_error("query needs HOST[:PORT]");
  options.target = *target;
  return ctl::run_query(options);
}

int clients_command(const std::vector<std::string_view>& args) {
  ctl::ClientsOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--url" && i + 1 < args.size()) {
      options.url = std::string{args[++i]};
    } else if (arg == "--top" && i + 1 < args.size()) {
      if (!ctl::parse_number(args[++i], options.top) || options.top < 1 || options.top > ctl::kMaxClientsShown) {
        return usage_error("--top takes a number of clients from 1 to " + std::to_string(ctl::kMaxClientsShown));
      }
    } else if (arg == "--timescale" && i + 1 < args.size()) {
      options.timescale = std::string{args[++i]};
    } else {
      return usage_error("unexpected argument '" + std::string{arg} + "'");
    }
  }
  return ctl::run_clients(options);
}

int leap_command(const std::vector<std::string_view>& args) {
  if (args.empty() || (args[0] != "show" && args[0] != "check")) return usage_error("leap needs 'show' or 'check'");
  ctl::LeapOptions options;
  options.at = reference::realtime_now();
  options.expiry_warning = std::chrono::duration_cast<leapdb::Nanoseconds>(std::chrono::days{28});
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--json" && args[0] == "show") {
      options.json = true;
    } else if (arg == "--allow-unhashed") {
      options.allow_unhashed = true;
    } else if (arg == "--at" && i + 1 < args.size()) {
      const auto at = leapdb::parse_rfc3339(args[++i]);
      if (!at) return usage_error("--at takes an RFC 3339 time, e.g. 2016-12-31T12:00:00Z");
      options.at = *at;
    } else if (arg == "--warn-days" && i + 1 < args.size() && args[0] == "check") {
      double days = 0;
      if (!ctl::parse_number(args[++i], days) || days < 0 || days > 3650) return usage_error("--warn-days takes 0 to 3650");
      options.expiry_warning = leapdb::Nanoseconds{static_cast<std::int64_t>(days * 86400.0 * 1e9)};
    } else if (!arg.starts_with("--")) {
      options.files.emplace_back(arg);
    } else {
      return usage_error("unexpected argument '" + std::string{arg} + "'");
    }
  }
  if (options.files.empty()) return usage_error("leap " + std::string{args[0]} + " needs at least one FILE");
  return args[0] == "show" ? ctl::run_leap_show(options) : ctl::run_leap_check(options);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("no command given");
  const std::string_view command = argv[1];
  const std::vector<std::string_view> args(argv + 2, argv + argc);
  if (command == "query") return query_command(args);
  if (command == "leap") return leap_command(args);
  if (command == "smear") return ctl::smear_command(args);
  if (command == "status" || command == "health") {
    std::string url = "http://127.0.0.1:9466";
    bool flag = false;
    const std::string_view flag_name = command == "status" ? "--json" : "--ready";
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == flag_name) {
        flag = true;
      } else if (args[i] == "--url" && i + 1 < args.size()) {
        url = std::string{args[++i]};
      } else {
        return usage_error("unexpected argument '" + std::string{args[i]} + "'");
      }
    }
    return command == "status" ? ctl::run_status(url, flag) : ctl::run_health(url, flag);
  }
  if (command == "clients") return clients_command(args);
  if (command == "bench") return ctl::bench_command(args);
  if (command == "import") return ctl::import_command(args);
  if (command == "unsmear") return ctl::unsmear_command(args);
  if (command == "plot") return ctl::plot_command(args);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  return usage_error("unknown command '" + std::string{command} + "'");
}
