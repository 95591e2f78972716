// smearctl: the operator's command-line tool for smeard.
#include <charconv>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "server/ctl/query.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: smearctl COMMAND ...

commands:
  query HOST[:PORT] [--json] [--timeout SECONDS] [--ntp-version 1-4]
      send one NTP request and print offset, delay, stratum, leap indicator,
      refid, version and the server's transmit time (PORT defaults to 123)
)";

int usage_error(std::string_view message) {
  std::cerr << "smearctl: " << message << "\n" << kUsage;
  return 2;
}

bool parse_number(std::string_view text, double& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
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
      if (!parse_number(args[++i], seconds) || seconds <= 0 || seconds > 3600) {
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage_error("no command given");
  const std::string_view command = argv[1];
  const std::vector<std::string_view> args(argv + 2, argv + argc);
  if (command == "query") return query_command(args);
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  return usage_error("unknown command '" + std::string{command} + "'");
}
