#pragma once
// One line per event on stderr: "time=... level=info event=listening address=0.0.0.0:123".
// Values with spaces, quotes or '=' are quoted, so every line splits back into key=value.

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace app {

enum class Level { info, warning, error };

struct Field {
  std::string_view key;
  std::string value;
};

void log(Level level, std::string_view event, std::initializer_list<Field> fields = {});
void log(Level level, std::string_view event, std::span<const Field> fields);

// One JSON object a line instead of key=value; set before any thread logs.
void log_as_json(bool json);
// Drops lines below `level` (--check-config reports only problems).
void log_minimum(Level level);

}  // namespace app
