#include "server/app/log.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "server/reference/clocks.hpp"

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

std::atomic<bool> json_lines{false};
std::atomic<Level> minimum{Level::info};

std::string json_line(Level level, std::string_view event, std::span<const Field> fields) {
  nlohmann::ordered_json line;
  line["time"] = leapdb::format_rfc3339(reference::realtime_now());
  line["level"] = level_name(level);
  line["event"] = event;
  for (const Field& field : fields) line[std::string{field.key}] = field.value;
  // A value from a damaged file may not be UTF-8: replace such bytes rather than throw.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// Both formats write whole lines under one lock, so lines from two threads never interleave.
std::mutex serialize;

}  // namespace

void log_as_json(bool json) { json_lines.store(json); }
void log_minimum(Level level) { minimum.store(level); }

void log(Level level, std::string_view event, std::initializer_list<Field> fields) {
  log(level, event, std::span<const Field>{fields.begin(), fields.size()});
}

void log(Level level, std::string_view event, std::span<const Field> fields) {
  if (level < minimum.load(std::memory_order_relaxed)) return;
  if (json_lines.load(std::memory_order_relaxed)) {
    const std::string line = json_line(level, event, fields);
    const std::lock_guard lock{serialize};
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
    return;
  }
  std::string line = "time=" + leapdb::format_rfc3339(reference::realtime_now());
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
  const std::lock_guard lock{serialize};
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace app
