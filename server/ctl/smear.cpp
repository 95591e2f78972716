#include "server/ctl/smear.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "leapdb/parse.hpp"
#include "server/ctl/arguments.hpp"
#include "server/ctl/plot.hpp"
#include "server/io/file.hpp"
#include "smear/smearer.hpp"

namespace ctl {
namespace {

using leapdb::Nanoseconds;
using leapdb::UtcTime;

struct Options {
  std::vector<std::string> profiles;
  std::optional<std::chrono::sys_days> leap_day;
  int sign = 1;
  std::optional<std::string> leap_file;
  std::optional<UtcTime> at, from, to;
  std::optional<Nanoseconds> step;
  bool json = false;
  std::optional<std::string> out;
  std::vector<std::string> positional;
};

// Thrown for a usage problem; main turns it into exit status 2.
struct UsageError {
  std::string message;
};

std::optional<std::chrono::sys_days> parse_date(std::string_view text) {
  const auto t = leapdb::parse_rfc3339(std::string{text} + "T00:00:00Z");
  if (!t) return std::nullopt;
  return std::chrono::floor<std::chrono::days>(*t);
}

UtcTime parse_time(std::string_view flag, std::string_view text) {
  const auto t = leapdb::parse_rfc3339(text);
  if (!t) throw UsageError{std::string{flag} + " takes an RFC 3339 UTC time, e.g. 2016-12-31T12:00:00Z"};
  return *t;
}

Options parse(const std::vector<std::string_view>& args, bool allow_several_profiles) {
  Options o;
  auto value = [&](std::size_t& i) -> std::string_view {
    if (i + 1 >= args.size()) throw UsageError{std::string{args[i]} + " needs a value"};
    return args[++i];
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--profile") {
      o.profiles.emplace_back(value(i));
      if (o.profiles.size() > 1 && !allow_several_profiles) throw UsageError{"give one --profile"};
    } else if (arg == "--leap") {
      o.leap_day = parse_date(value(i));
      if (!o.leap_day) throw UsageError{"--leap takes the UTC day whose last second changes, e.g. 2016-12-31"};
    } else if (arg == "--sign") {
      const std::string_view sign = value(i);
      if (sign != "-" && sign != "+") throw UsageError{"--sign takes + (inserted second) or - (deleted second)"};
      o.sign = sign == "-" ? -1 : 1;
    } else if (arg == "--leap-file") {
      o.leap_file = std::string{value(i)};
    } else if (arg == "--at") {
      o.at = parse_time(arg, value(i));
    } else if (arg == "--from") {
      o.from = parse_time(arg, value(i));
    } else if (arg == "--to") {
      o.to = parse_time(arg, value(i));
    } else if (arg == "--step") {
      double seconds = 0;
      if (!parse_number(value(i), seconds) || !(seconds >= 0.001) || seconds > 1e7) {
        throw UsageError{"--step takes seconds, at least 0.001"};
      }
      o.step = Nanoseconds{std::llround(seconds * 1e9)};
    } else if (arg == "--json") {
      o.json = true;
    } else if (arg == "--out") {
      o.out = std::string{value(i)};
    } else if (arg.starts_with("--")) {
      throw UsageError{"unexpected argument '" + std::string{arg} + "'"};
    } else {
      o.positional.emplace_back(arg);
    }
  }
  if (o.profiles.empty()) throw UsageError{"--profile NAME is needed"};
  if (!o.leap_day && !o.leap_file) throw UsageError{"--leap YYYY-MM-DD or --leap-file FILE is needed"};
  if (o.leap_day && o.leap_file) throw UsageError{"give --leap or --leap-file, not both"};
  return o;
}

// The leap to smear: one synthetic leap for --leap, or a whole validated table.
std::optional<leapdb::LeapTable> leap_table(const Options& o) {
  if (o.leap_file) {
    io::FileRead file = io::read_file(*o.leap_file);
    if (!file.ok()) {
      std::cerr << "smearctl: " << file.error << "\n";
      return std::nullopt;
    }
    leapdb::ParseResult result = leapdb::parse(file.bytes, *o.leap_file);
    for (const auto& problem : result.problems) std::cerr << "smearctl: " << problem.to_string() << "\n";
    if (!result.ok()) return std::nullopt;
    return std::move(result.table);
  }
  const std::chrono::sys_days next = *o.leap_day + std::chrono::days{1};
  if (std::chrono::year_month_day{next}.day() != std::chrono::day{1}) {
    throw UsageError{"--leap names the UTC day whose last second changes: the last day of a month"};
  }
  leapdb::LeapTable table;
  table.source = "--leap";
  table.initial_tai_utc = 36;  // TAI-UTC does not change what any profile serves
  table.leaps.push_back(leapdb::Leap{UtcTime{next}, o.sign, 36 + o.sign, 0});
  return table;
}

std::optional<smear::Smearer> make_smearer(const leapdb::LeapTable& table, const std::string& spec) {
  const smear::ProfileResult profile = smear::parse_profile(spec);
  if (!profile.profile) throw UsageError{profile.error};
  smear::Smearer::Result made = smear::Smearer::make(table, *profile.profile);
  if (!made.smearer) {
    std::cerr << "smearctl: " << made.error << "\n";
    return std::nullopt;
  }
  return std::move(made.smearer);
}

std::string signed_text(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%+.*f", decimals, value + 0.0);  // + 0.0 turns -0 into 0
  return text;
}

int run_smear(const Options& o) {
  const auto table = leap_table(o);
  if (!table) return 1;
  const auto smearer = make_smearer(*table, o.profiles.front());
  if (!smearer) return 1;

  std::vector<UtcTime> instants;
  if (o.at) {
    if (o.from || o.to || o.step) throw UsageError{"give --at TIME, or --from TIME --to TIME --step SECONDS"};
    instants.push_back(*o.at);
  } else {
    if (!o.from || !o.to || !o.step) throw UsageError{"give --at TIME, or --from TIME --to TIME --step SECONDS"};
    if (*o.to < *o.from) throw UsageError{"--to is before --from"};
    if ((*o.to - *o.from) / *o.step > 1'000'000) throw UsageError{"more than a million rows: use a larger --step"};
    for (UtcTime t = *o.from; t <= *o.to; t += *o.step) instants.push_back(t);
  }

  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  if (!o.json) std::cout << "time                            offset_s       frequency_ppm  progress  leap\n";
  for (const UtcTime t : instants) {
    const smear::Served s = smearer->at(table->to_tai(t));
    const double offset = static_cast<double>(s.offset.count()) / 1e9;
    if (o.json) {
      rows.push_back({{"time", leapdb::format_rfc3339(t)},
                      {"offset_s", offset},
                      {"frequency_ppm", s.frequency_ppm},
                      {"progress", s.progress},
                      {"leap", s.leap_indicator}});
    } else {
      std::printf("%s  %-13s  %-13s  %-8.6f  %d\n", leapdb::format_rfc3339(t).c_str(), signed_text(offset, 9).c_str(),
                  signed_text(s.frequency_ppm, 6).c_str(), s.progress, s.leap_indicator);
    }
  }
  if (o.json) std::cout << rows.dump(2) << "\n";
  return 0;
}

int run_unsmear(const Options& o) {
  if (o.positional.size() != 1) throw UsageError{"unsmear takes one SMEARED_TIME (RFC 3339)"};
  const UtcTime served = parse_time("SMEARED_TIME", o.positional.front());
  const auto table = leap_table(o);
  if (!table) return 1;
  const auto smearer = make_smearer(*table, o.profiles.front());
  if (!smearer) return 1;
  std::cout << leapdb::format_utc(*table, smearer->unsmear(served)) << "\n";
  return 0;
}

int run_plot(const Options& o) {
  if (!o.out) throw UsageError{"plot needs --out FILE.svg"};
  const auto table = leap_table(o);
  if (!table) return 1;
  if (table->leaps.empty()) {
    std::cerr << "smearctl: no leap to plot\n";
    return 1;
  }
  // The leap to centre on: the given day, or the last one in the file.
  const leapdb::Leap& leap = table->leaps.back();
  Plot plot;
  plot.title = "Smeared time minus true UTC around the leap second of " + leapdb::format_date(leap.day()) +
               (leap.sign > 0 ? " (inserted)" : " (deleted)");
  plot.x_label = "hours from the leap (true UTC midnight)";
  plot.y_label = "offset (seconds)";

  std::vector<smear::Smearer> smearers;
  UtcTime first = leap.effective - std::chrono::hours{2};
  UtcTime last = leap.effective + std::chrono::hours{2};
  for (const std::string& spec : o.profiles) {
    auto s = make_smearer(*table, spec);
    if (!s) return 1;
    const smear::Window& w = s->windows().empty() ? smear::Window{} : s->windows().back();
    if (!s->windows().empty()) {
      first = std::min(first, table->to_utc(w.begins) - std::chrono::hours{2});
      last = std::max(last, table->to_utc(w.ends) + std::chrono::hours{2});
    }
    smearers.push_back(std::move(*s));
  }
  const leapdb::TaiTime from = table->to_tai(first), to = table->to_tai(last);
  constexpr int kSamples = 1200;
  for (std::size_t i = 0; i < smearers.size(); ++i) {
    Curve curve;
    curve.label = o.profiles[i];
    for (int k = 0; k <= kSamples; ++k) {
      const leapdb::TaiTime t = from + (to - from) / kSamples * k;
      const smear::Served s = smearers[i].at(t);
      // x is true UTC, so the leap second shows as the one-second step it is on true UTC.
      curve.hours.push_back(static_cast<double>((table->to_utc(t) - leap.effective).count()) / 3.6e12);
      curve.offset_seconds.push_back(static_cast<double>(s.offset.count()) / 1e9);
    }
    plot.curves.push_back(std::move(curve));
  }
  std::ofstream out{*o.out, std::ios::binary | std::ios::trunc};
  out << render_svg(plot);
  if (!out.flush()) {
    std::cerr << "smearctl: cannot write " << *o.out << "\n";
    return 1;
  }
  std::cout << "wrote " << *o.out << " (" << plot.curves.size() << " profiles)\n";
  return 0;
}

template <class Run>
int guarded(const std::vector<std::string_view>& args, bool several_profiles, Run run) {
  try {
    return run(parse(args, several_profiles));
  } catch (const UsageError& error) {
    std::cerr << "smearctl: " << error.message << " (see smearctl --help)\n";
    return 2;
  }
}

}  // namespace

int smear_command(const std::vector<std::string_view>& args) { return guarded(args, false, run_smear); }
int unsmear_command(const std::vector<std::string_view>& args) { return guarded(args, false, run_unsmear); }
int plot_command(const std::vector<std::string_view>& args) { return guarded(args, true, run_plot); }

}  // namespace ctl
