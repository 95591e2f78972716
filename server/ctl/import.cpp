// smearctl import: the file I/O around config::import, and a check that smeard reads what it wrote.
#include "server/ctl/import.hpp"

#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "config/import/import.hpp"
#include "server/io/file.hpp"

namespace ctl {

namespace {

struct ImportOptions {
  std::string file;
  std::optional<std::string> out;
  std::optional<config::import::Format> from;
};

int usage(std::string_view message) {
  std::cerr << "smearctl: " << message << " (see smearctl --help)\n";
  return 2;
}

}  // namespace

int import_command(const std::vector<std::string_view>& args) {
  ImportOptions options;
  bool have_file = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--out" && i + 1 < args.size()) {
      options.out = std::string{args[++i]};
    } else if (arg == "--from" && i + 1 < args.size()) {
      options.from = config::import::parse_format(args[++i]);
      if (!options.from) return usage("--from takes chrony, ntpd or ntpd-rs");
    } else if (!arg.starts_with("--") && !have_file) {
      options.file = std::string{arg};
      have_file = true;
    } else {
      return usage("unexpected argument '" + std::string{arg} + "'");
    }
  }
  if (!have_file) return usage("import needs a FILE (chrony.conf, ntp.conf or ntp.toml)");

  io::FileRead input = io::read_file(options.file);
  if (!input.ok()) {
    std::cerr << "smearctl: " << input.error << "\n";
    return 1;
  }
  const auto format = options.from ? options.from : config::import::guess_format(input.bytes);
  if (!format) {
    std::cerr << "smearctl: " << options.file
              << ": cannot tell whether this is a chrony.conf, an ntp.conf or an ntpd-rs ntp.toml: give --from "
                 "chrony, ntpd or ntpd-rs\n";
    return 1;
  }
  const config::import::Result result = config::import::translate(input.bytes, options.file, *format);
  for (const config::import::Error& error : result.errors) std::cerr << error.to_string(options.file) << "\n";
  if (!result.errors.empty()) return 1;

  // What is written must be a configuration smeard reads; a failure here is smearctl's own bug.
  const std::string name = options.out.value_or("<standard output>");
  const config::ParseResult check = config::parse(result.yaml, name);
  for (const config::Problem& problem : check.problems) {
    std::cerr << "smearctl: the translation of " << options.file << " is not valid: " << problem.to_string() << "\n";
  }
  if (!check.problems.empty()) return 1;

  if (!options.out) {
    std::cout << result.yaml;
    return std::cout.flush() ? 0 : 1;
  }
  std::ofstream out{*options.out, std::ios::binary | std::ios::trunc};
  out << result.yaml;
  if (!out.flush()) {
    std::cerr << "smearctl: cannot write " << *options.out << "\n";
    return 1;
  }
  std::cerr << "smearctl: wrote " << *options.out << " from " << options.file << " ("
            << config::import::to_string(*format) << ")\n";
  return 0;
}

}  // namespace ctl
