#include "server/ctl/leap.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "leapdb/sources.hpp"
#include "server/io/file.hpp"

namespace ctl {
namespace {

nlohmann::ordered_json optional_time(const std::optional<leapdb::UtcTime>& t) {
  return t ? nlohmann::ordered_json(leapdb::format_rfc3339(*t)) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json table_json(const leapdb::LeapTable& table) {
  nlohmann::ordered_json leaps = nlohmann::ordered_json::array();
  for (const leapdb::Leap& leap : table.leaps) {
    leaps.push_back({{"date", leapdb::format_date(leap.day())}, {"tai_utc", leap.tai_utc}, {"sign", leap.sign}});
  }
  nlohmann::ordered_json out;
  out["leaps"] = std::move(leaps);
  out["expires"] = optional_time(table.expires);
  out["last_update"] = optional_time(table.last_update);
  out["hash"] = std::string{leapdb::to_string(table.hash)};
  out["source"] = table.source;
  return out;
}

void print_table(const leapdb::LeapTable& table, const LeapOptions& options) {
  const auto freshness = leapdb::freshness(table, options.at, options.expiry_warning);
  std::cout << "source       " << table.source << "\n"
            << "format       " << leapdb::to_string(table.format) << "\n"
            << "hash         " << leapdb::to_string(table.hash) << "\n"
            << "last update  " << (table.last_update ? leapdb::format_rfc3339(*table.last_update) : "unknown") << "\n"
            << "expires      " << (table.expires ? leapdb::format_rfc3339(*table.expires) : "unknown") << " ("
            << leapdb::to_string(freshness) << ")\n"
            << "leaps        " << table.leaps.size() << "\n"
            << "  date        TAI-UTC  sign\n";
  for (const leapdb::Leap& leap : table.leaps) {
    std::printf("  %s  %-7d  %c\n", leapdb::format_date(leap.day()).c_str(), leap.tai_utc, leap.sign > 0 ? '+' : '-');
    std::fflush(stdout);
  }
}

std::vector<leapdb::SourceBytes> read_all(const std::vector<std::string>& files, std::vector<std::string>& errors) {
  std::vector<leapdb::SourceBytes> inputs;
  for (const std::string& path : files) {
    io::FileRead file = io::read_file(path);
    if (!file.ok()) {
      errors.push_back(file.error);
      continue;
    }
    inputs.push_back({path, std::move(file.bytes)});
  }
  return inputs;
}

}  // namespace

int run_leap_show(const LeapOptions& options) {
  std::vector<std::string> errors;
  const auto inputs = read_all(options.files, errors);
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  bool first = true;
  for (const leapdb::SourceBytes& input : inputs) {
    const leapdb::ParseResult result =
        leapdb::parse(input.bytes, input.path, leapdb::ParseOptions{.allow_unhashed = options.allow_unhashed});
    for (const auto& problem : result.problems) errors.push_back(problem.to_string());
    if (options.json) {
      all.push_back(table_json(result.table));
    } else {
      if (!first) std::cout << "\n";
      print_table(result.table, options);
    }
    first = false;
  }
  // One file gives one object; several give a list of them, in argument order.
  if (options.json && !all.empty()) {
    std::cout << (all.size() == 1 ? all[0] : all).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  for (const std::string& error : errors) std::cerr << "smearctl: " << error << "\n";
  return errors.empty() ? 0 : 1;
}

int run_leap_check(const LeapOptions& options) {
  std::vector<std::string> problems;
  const auto inputs = read_all(options.files, problems);
  const leapdb::Combined combined =
      leapdb::combine(inputs, leapdb::ParseOptions{.allow_unhashed = options.allow_unhashed});
  for (const auto& problem : combined.problems) problems.push_back(problem.to_string());
  for (const leapdb::ParseResult& source : combined.sources) {
    const auto state = leapdb::freshness(source.table, options.at, options.expiry_warning);
    if (state == leapdb::Freshness::expired) {
      problems.push_back(source.table.source + ": expired on " + leapdb::format_rfc3339(*source.table.expires));
    } else if (state == leapdb::Freshness::expiring) {
      std::cout << "warning: " << source.table.source << ": expires on " << leapdb::format_rfc3339(*source.table.expires)
                << "\n";
    }
  }
  for (const auto& warning : combined.warnings) std::cout << "warning: " << warning.to_string() << "\n";
  for (const std::string& problem : problems) std::cout << problem << "\n";
  if (!problems.empty()) return 1;
  const leapdb::LeapTable& table = *combined.table;
  std::cout << "ok: " << options.files.size() << (options.files.size() == 1 ? " file" : " files agree") << "; "
            << table.leaps.size() << " leaps; TAI-UTC "
            << table.tai_utc_at(options.at) << " at " << leapdb::format_rfc3339(options.at) << "; expires "
            << (table.expires ? leapdb::format_rfc3339(*table.expires) : "unknown") << " (" << table.source << ")\n";
  return 0;
}

}  // namespace ctl
