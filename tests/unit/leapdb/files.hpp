#pragma once
// Reads test fixtures and system files for the leapdb tests.

#include <fstream>
#include <sstream>
#include <string>

namespace test_files {

inline std::string read(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string fixture_path(const std::string& name) { return std::string{SMEARD_LEAPDB_FIXTURES} + "/" + name; }
inline std::string fixture(const std::string& name) { return read(fixture_path(name)); }

}  // namespace test_files
