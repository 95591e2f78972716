#include "server/io/file.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

TEST_CASE("read_file: a file's bytes, or an error naming it") {
  const auto path = std::filesystem::temp_directory_path() / ("smeard-file-test-" + std::to_string(::getpid()));
  const std::string text = std::string(100'000, 'x') + "\nend\0with a NUL" + std::string(1, '\0');
  std::ofstream{path, std::ios::binary} << text;
  const io::FileRead read = io::read_file(path.string());
  CHECK(read.ok());
  CHECK(read.bytes == text);
  std::filesystem::remove(path);

  const io::FileRead missing = io::read_file(path.string());
  CHECK(missing.error == "cannot read " + path.string() + ": No such file or directory");
  CHECK(missing.bytes.empty());

  const io::FileRead directory = io::read_file(std::filesystem::temp_directory_path().string());
  CHECK_FALSE(directory.ok());
}

TEST_CASE("read_file: a path naming an endless device is refused at the size limit") {
  const io::FileRead endless = io::read_file("/dev/zero");
  CHECK(endless.error == "cannot read /dev/zero: longer than 16 MiB");
  CHECK(endless.bytes.empty());
}
