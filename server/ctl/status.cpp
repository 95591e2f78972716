#include "server/ctl/status.hpp"

#include <algorithm>
#include <asio/ip/tcp.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string_view>

#include "leapdb/time.hpp"

namespace ctl {
namespace {

struct Url {
  std::string host;
  std::string port;
};

std::optional<Url> parse_url(std::string_view url) {
  if (!url.starts_with("http://")) return std::nullopt;
  url.remove_prefix(7);
  url = url.substr(0, url.find('/'));
  const std::size_t colon = url.rfind(':');
  if (colon == std::string_view::npos || url.ends_with(']')) return Url{std::string{url}, "80"};
  std::string host{url.substr(0, colon)};
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return Url{host, std::string{url.substr(colon + 1)}};
}

struct Reply {
  int code = 0;
  std::string body;
};

// GET url/path over plain HTTP/1.1; the status code and body, or an error message in `error`.
Reply fetch(const Url& url, std::string_view path, std::string& error) {
  asio::ip::tcp::iostream stream;
  stream.expires_after(std::chrono::seconds{5});
  stream.connect(url.host, url.port);
  if (!stream) {
    error = "cannot connect to " + url.host + ":" + url.port + ": " + stream.error().message();
    return {};
  }
  stream << "GET " << path << " HTTP/1.1\r\nHost: " << url.host << "\r\nConnection: close\r\n\r\n" << std::flush;
  std::string status_line;
  std::getline(stream, status_line);
  Reply reply;
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 ||
      std::sscanf(status_line.c_str() + 9, "%3d", &reply.code) != 1) {
    error = "not an HTTP answer: " + status_line;
    return {};
  }
  std::string line;
  while (std::getline(stream, line) && line != "\r") {
  }
  std::ostringstream body;
  body << stream.rdbuf();
  reply.body = body.str();
  return reply;
}

// GET url_text/path into `reply`; or prints why not and returns the exit status (2: not a URL,
// 1: no HTTP answer).
std::optional<int> get(const std::string& url_text, std::string_view path, Reply& reply) {
  const auto url = parse_url(url_text);
  if (!url) {
    std::cerr << "smearctl: --url takes http://HOST:PORT, e.g. http://127.0.0.1:9466\n";
    return 2;
  }
  std::string error;
  reply = fetch(*url, path, error);
  if (error.empty()) return std::nullopt;
  std::cerr << "smearctl: " << error << "\n";
  return 1;
}

std::string time_text(const nlohmann::json& seconds) {
  if (seconds.is_null()) return "none";
  const auto ns = static_cast<std::int64_t>(std::llround(seconds.get<double>() * 1e9));
  return leapdb::format_rfc3339(leapdb::utc_from_unix_nanoseconds(ns));
}

std::string in_days(const nlohmann::json& when, double now) {
  if (when.is_null()) return "";
  char text[48];
  std::snprintf(text, sizeof text, " (in %.1f days)", (when.get<double>() - now) / 86400);
  return text;
}

}  // namespace

int run_status(const std::string& url_text, bool json) {
  Reply reply;
  if (const auto failed = get(url_text, "/status", reply)) return *failed;
  if (reply.code != 200) {
    std::cerr << "smearctl: /status answered " << reply.code << "\n";
    return 1;
  }
  const nlohmann::json s = nlohmann::json::parse(reply.body, nullptr, false);
  if (s.is_discarded()) {
    std::cerr << "smearctl: the status is not JSON\n";
    return 1;
  }
  const bool ready = s.value("ready", false);
  if (json) {
    std::cout << s.dump(2) << "\n";
    return ready ? 0 : 3;
  }
  const double now = s.value("now", 0.0);
  const auto& ref = s["reference"];
  const auto& served = s["served"];
  const auto& leap = s["leap_table"];
  std::printf("Version         : %s\n", s.value("version", "").c_str());
  std::printf("Ready           : %s\n", ready ? "yes" : "NO");
  for (const auto& reason : s["not_ready"]) std::printf("  not ready     : %s\n", reason.get<std::string>().c_str());
  std::string stage = ref.value("stage", "");
  if (stage != "synchronized") std::transform(stage.begin(), stage.end(), stage.begin(), ::toupper);
  std::printf("Reference       : %s, %s, offset %+.9f s, error bound %.9f s\n", ref.value("type", "").c_str(),
              stage.c_str(), ref.value("offset_s", 0.0), ref.value("error_bound_s", 0.0));
  const std::string selected = ref.contains("selected") && ref["selected"].is_string() ? ref["selected"].get<std::string>()
                                                                                       : "none";
  std::printf("Selected source : %s (%llu selection changes)\n", selected.c_str(),
              static_cast<unsigned long long>(ref.value("selection_changes", 0ULL)));
  std::printf("Last update     : %s\n", time_text(ref["last_update"]).c_str());
  if (!ref["holdover_ends"].is_null()) {
    std::printf("Holdover ends   : %s (in %.0f s)\n", time_text(ref["holdover_ends"]).c_str(),
                ref["holdover_ends"].get<double>() - now);
  }
  std::printf("Stratum / refid : %d / %s\n", served.value("stratum", 0), served.value("refid", "").c_str());
  std::printf("Time (UTC)      : %s\n", time_text(s["now"]).c_str());
  std::printf("TAI-UTC         : %d s\n", leap.value("tai_offset", 0));
  std::printf("Next leap       : %s%s%s\n", time_text(leap["next_leap"]).c_str(),
              leap["next_leap"].is_null() ? "" : (leap.value("next_leap_sign", 0) > 0 ? " (+1 s)" : " (-1 s)"),
              in_days(leap["next_leap"], now).c_str());
  std::printf("Leap table      : %s, %d leaps, hash %s, expires %s%s%s\n", leap.value("source", "").c_str(),
              leap.value("leaps", 0), leap.value("hash", "").c_str(), time_text(leap["expires"]).c_str(),
              in_days(leap["expires"], now).c_str(), leap.value("valid", false) ? "" : " [NOT VALID]");
  if (const auto& nts = s["nts"]; nts.is_object()) {
    std::uint64_t sessions = 0, ok = 0;
    for (const auto& [outcome, count] : nts["ke_sessions"].items()) {
      sessions += count.get<std::uint64_t>();
      if (outcome == "ok") ok = count.get<std::uint64_t>();
    }
    std::printf("NTS             : %llu KE sessions (%llu ok), %llu cookies issued, cookie key age %.0f s of %.0f s\n",
                static_cast<unsigned long long>(sessions), static_cast<unsigned long long>(ok),
                static_cast<unsigned long long>(nts.value("cookies_issued", 0ULL)), nts.value("cookie_key_age_s", 0.0),
                nts.value("rotation_s", 0.0));
    if (!nts["certificate_expires"].is_null()) {
      const bool expired = nts["certificate_expires"].get<double>() <= now;
      std::printf("NTS certificate : expires %s%s%s\n", time_text(nts["certificate_expires"]).c_str(),
                  in_days(nts["certificate_expires"], now).c_str(), expired ? " [EXPIRED]" : "");
    }
  }
  // Like `chronyc sources`: state, name, stratum, poll, reach (octal), last sample.
  std::printf("\n%-12s %-40s %-3s %-6s %-5s %-14s %-12s %-12s\n", "State", "Source", "St", "Poll", "Reach",
              "Offset (s)", "Delay (s)", "Error (s)");
  for (const auto& source : s["sources"]) {
    const auto number = [&source](const char* key) {
      char text[32] = "-";
      if (source.contains(key) && source[key].is_number()) std::snprintf(text, sizeof text, "%+.9f", source[key].get<double>());
      return std::string{text};
    };
    // An upstream association shows its name and the address it uses now (none: vacant).
    std::string name = source.value("name", "");
    if (source.contains("address") && source["address"].is_string() && source["address"].get<std::string>() != name) {
      name += " (" + source["address"].get<std::string>() + ")";
    } else if (source.contains("address") && source["address"].is_null() && source.value("type", "") == "upstream") {
      name += " (vacant)";
    }
    std::printf("%-12s %-40s %-3d %-6.0f %-5o %-14s %-12s %-12s%s%s\n", source.value("state", "").c_str(), name.c_str(),
                source.value("stratum", 0), source.value("poll_s", 0.0),
                static_cast<unsigned>(source.value("reach", 0)), number("offset_s").c_str(), number("delay_s").c_str(),
                number("error_s").c_str(), source.value("why", "").empty() ? "" : "  ",
                source.value("why", "").c_str());
  }
  std::printf("\n%-14s %-22s %-6s %-14s %-9s %-14s %-3s\n", "Timescale", "Profile", "Smear", "Offset (s)", "Progress",
              "Freq (ppm)", "LI");
  for (const auto& t : s["timescales"]) {
    std::printf("%-14s %-22s %-6s %+-14.9f %-9.6f %+-14.6f %-3d%s\n", t.value("name", "").c_str(),
                t.value("profile", "").c_str(), t.value("active", false) ? "on" : "off", t.value("offset_s", 0.0),
                t.value("progress", 0.0), t.value("frequency_ppm", 0.0), t.value("leap", 0),
                t.value("rehearsal", false) ? "  REHEARSAL" : "");
  }
  std::printf("\n%-24s %-14s %-12s %-12s %-9s %-8s %-6s\n", "Listener", "Timescale", "Requests", "Responses", "Dropped",
              "KoD", "Mixed");
  for (const auto& t : s["traffic"]) {
    std::printf("%-24s %-14s %-12llu %-12llu %-9llu %-8llu %-6llu\n", t.value("listener", "").c_str(),
                t.value("timescale", "").c_str(), static_cast<unsigned long long>(t.value("requests", 0ULL)),
                static_cast<unsigned long long>(t.value("responses", 0ULL)),
                static_cast<unsigned long long>(t.value("dropped", 0ULL)),
                static_cast<unsigned long long>(t.value("kod_deny", 0ULL)),
                static_cast<unsigned long long>(t.value("mixed_clients", 0ULL)));
    const auto xdp = t.find("xdp");
    if (xdp == t.end() || !xdp->is_object()) continue;
    const std::string interface = xdp->value("interface", "");
    if (xdp->value("state", "") == "attached") {
      std::printf("  AF_XDP on %s: %s mode, %s, %u queue(s), %llu requests\n", interface.c_str(),
                  xdp->value("mode", "").c_str(), xdp->value("zero_copy", false) ? "zero-copy" : "copy",
                  xdp->value("queues", 0U), static_cast<unsigned long long>(xdp->value("requests", 0ULL)));
    } else {
      const auto problem = xdp->find("problem");
      std::printf("  AF_XDP on %s: not in use, served through sockets (%s: %s)\n", interface.c_str(),
                  xdp->value("reason", "").c_str(),
                  problem != xdp->end() && problem->is_string() ? problem->get<std::string>().c_str() : "");
    }
  }
  return ready ? 0 : 3;
}

int run_clients(const ClientsOptions& options) {
  Reply reply;
  if (const auto failed = get(options.url, "/status", reply)) return *failed;
  if (reply.code != 200) {
    std::cerr << "smearctl: /status answered " << reply.code << "\n";
    return 1;
  }
  const nlohmann::ordered_json s = nlohmann::ordered_json::parse(reply.body, nullptr, false);
  if (s.is_discarded() || !s.contains("timescales")) {
    std::cerr << "smearctl: the status is not JSON with timescales\n";
    return 1;
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  std::string names;
  for (const auto& t : s["timescales"]) {
    if (!t.is_object()) continue;
    const std::string name = t.value("name", "");
    names += (names.empty() ? "" : ", ") + name;
    if (options.timescale && *options.timescale != name) continue;
    if (!t.contains("clients") || !t["clients"].is_array()) {
      std::cerr << "smearctl: this smeard's status has no clients (a version before top talkers)\n";
      return 1;
    }
    nlohmann::ordered_json clients = nlohmann::ordered_json::array();
    for (const auto& client : t["clients"]) {
      if (clients.size() >= options.top) break;
      clients.push_back(client);
    }
    out.push_back({{"timescale", name}, {"clients", clients}});
  }
  if (options.timescale && out.empty()) {
    std::cerr << "smearctl: smeard serves no timescale named '" << *options.timescale << "' (it serves: " << names
              << ")\n";
    return 1;
  }
  if (options.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto& t = out[i];
    std::printf("%sTimescale %s: %zu heaviest client%s\n", i == 0 ? "" : "\n",
                t["timescale"].get<std::string>().c_str(), t["clients"].size(), t["clients"].size() == 1 ? "" : "s");
    std::printf("%-40s %12s %10s %13s  %s\n", "Address", "Requests", "KoD", "Rate-limited", "Last seen (UTC)");
    for (const auto& c : t["clients"]) {
      std::printf("%-40s %12llu %10llu %13llu  %s\n", c.value("address", "").c_str(),
                  static_cast<unsigned long long>(c.value("requests", 0ULL)),
                  static_cast<unsigned long long>(c.value("kod", 0ULL)),
                  static_cast<unsigned long long>(c.value("rate_limited", 0ULL)), c.value("last_seen", "").c_str());
    }
  }
  return 0;
}

int run_health(const std::string& url_text, bool ready) {
  Reply reply;
  if (const auto failed = get(url_text, ready ? "/readyz" : "/healthz", reply)) return *failed;
  std::cout << reply.body;
  return reply.code == 200 ? 0 : 1;
}

}  // namespace ctl
