// The format a file is in, and the reader for it.
#include "config/import/import.hpp"

#include <algorithm>

#include "config/config.hpp"
#include "config/import/readers.hpp"

namespace config::import {

std::string_view to_string(Format format) {
  switch (format) {
    case Format::chrony:
      return "chrony";
    case Format::ntpd:
      return "ntpd";
    case Format::ntpd_rs:
      return "ntpd-rs";
  }
  return "chrony";
}

std::optional<Format> parse_format(std::string_view name) {
  for (const Format format : {Format::chrony, Format::ntpd, Format::ntpd_rs}) {
    if (name == to_string(format)) return format;
  }
  return std::nullopt;
}

std::optional<Format> guess_format(std::string_view text) {
  static constexpr std::string_view kChrony[] = {
      "makestep",      "rtcsync",      "smoothtime",    "leapsectz",     "sourcedir",      "ntsdumpdir",  "confdir",
      "maxupdateskew", "keyfile",      "allow",         "cmdallow",      "bindcmdaddress", "hwtimestamp", "leapsecmode",
      "refclock PHC",  "refclock SHM", "refclock SOCK", "local stratum", "rtcfile",        "logdir"};
  static constexpr std::string_view kNtpd[] = {
      "restrict", "statsdir", "leapsmearinterval", "tinker", "tos",     "filegen",     "statistics",
      "fudge",    "leapfile", "trustedkey",        "keys",   "discard", "includefile", "logfile"};
  int chrony = 0, ntpd = 0;
  while (!text.empty()) {
    std::string_view line = take_line(text);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.starts_with("[[source]]") || line.starts_with("[synchronization]") || line.starts_with("[[server]]") ||
        line.starts_with("[observability]")) {
      return Format::ntpd_rs;
    }
    const auto starts = [&](std::string_view directive) {
      return line.starts_with(directive) &&
             (line.size() == directive.size() || line[directive.size()] == ' ' || line[directive.size()] == '\t');
    };
    chrony += static_cast<int>(std::count_if(std::begin(kChrony), std::end(kChrony), starts));
    ntpd += static_cast<int>(std::count_if(std::begin(kNtpd), std::end(kNtpd), starts));
  }
  if (chrony == ntpd) return std::nullopt;
  return chrony > ntpd ? Format::chrony : Format::ntpd;
}

std::string Error::to_string(std::string_view file) const {
  return std::string{file} + ":" + std::to_string(line) + ": " + directive + ": " + message;
}

namespace {

// The input line a line of the YAML names in its comment ("   # FILE:LINE: DIRECTIVE ..."), or 0.
std::pair<int, std::string> origin_of(std::string_view yaml, int yaml_line, std::string_view file) {
  for (int i = 1; i < yaml_line && !yaml.empty(); ++i) {
    const std::size_t end = yaml.find('\n');
    yaml = end == std::string_view::npos ? std::string_view{} : yaml.substr(end + 1);
  }
  const std::string_view line = yaml.substr(0, yaml.find('\n'));
  const std::string marker = "   # " + std::string{file} + ":";
  const std::size_t at = line.find(marker);
  if (at == std::string_view::npos) return {0, "import"};
  std::string_view rest = line.substr(at + marker.size());
  const std::size_t colon = rest.find(": ");
  const auto number = whole(rest.substr(0, colon), 1u << 30);
  if (!number || colon == std::string_view::npos) return {0, "import"};
  rest = rest.substr(colon + 2);
  return {static_cast<int>(*number), std::string{rest.substr(0, rest.find(' '))}};
}

}  // namespace

Result translate(std::string_view text, std::string_view file, Format format) {
  Draft draft = format == Format::chrony ? read_chrony(text, file)
                : format == Format::ntpd ? read_ntp_conf(text, file)
                                         : read_ntp_toml(text, file);
  if (!draft.errors.empty()) return {{}, std::move(draft.errors)};
  Result result{emit(std::move(draft)), {}};
  // What smeard would refuse (a name no resolver takes, a relative device path, a refid too long)
  // is an error of the line it comes from: the YAML written is always one smeard accepts.
  for (const Problem& problem : parse(result.yaml, "import").problems) {
    auto [line, directive] = origin_of(result.yaml, problem.where.line, file);
    result.errors.push_back({line, std::move(directive), "smeard refuses it: " + problem.message});
  }
  if (!result.errors.empty()) result.yaml.clear();
  return result;
}

}  // namespace config::import
