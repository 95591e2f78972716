#pragma once
// Reads test fixtures and system files for the leapdb tests, and the fixture leap table the
// other modules' tests run on.

#include <fstream>
#include <sstream>
#include <string>

#include "leapdb/parse.hpp"

namespace test_files {

inline std::string read(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string fixture_path(const std::string& name) { return std::string{SMEARD_LEAPDB_FIXTURES} + "/" + name; }
inline std::string fixture(const std::string& name) { return read(fixture_path(name)); }

// The real leaps, from the fixture leap-seconds.list, parsed once.
inline const leapdb::LeapTable& leap_table() {
  static const leapdb::LeapTable table = leapdb::parse(fixture("leap-seconds.list"), "leap-seconds.list").table;
  return table;
}

}  // namespace test_files
