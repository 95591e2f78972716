#include "server/app/log.hpp"

#include <cstdio>
#include <mutex>

#include "server/io/clock.hpp"

namespace app {
namespace {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "info";
}

void append_value(std::string& line, std::string_view value) {
  const bool plain = !value.empty() && value.find_first_of(" \t\"=\\") == std::string_view::npos;
  if (plain) {
    line += value;
    return;
  }
  line += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') line += '\\';
    line += c;
  }
  line += '"';
}

}  // namespace

void log(Level level, std::string_view event, std::initializer_list<Field> fields) {
  std::string line = "time=" + leapdb::format_rfc3339(io::realtime_now());
  line += " level=";
  line += level_name(level);
  line += " event=";
  append_value(line, event);
  for (const Field& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    append_value(line, field.value);
  }
  line += '\n';
  static std::mutex serialize;
  const std::lock_guard lock{serialize};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace app
