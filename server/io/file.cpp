#include "server/io/file.hpp"

#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace io {

FileRead read_file(const std::string& path) {
  FileRead result;
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    result.error = "cannot read " + path + ": " + std::strerror(errno);
    return result;
  }
  std::array<char, 65536> chunk;
  while (in && result.bytes.size() <= kMaxFileBytes) {
    in.read(chunk.data(), chunk.size());
    result.bytes.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) {
    result.error = "cannot read " + path + ": " + std::strerror(errno);
  } else if (result.bytes.size() > kMaxFileBytes) {
    result.error = "cannot read " + path + ": longer than " + std::to_string(kMaxFileBytes >> 20) + " MiB";
  }
  if (!result.error.empty()) result.bytes.clear();
  return result;
}

std::optional<FileSignature> file_signature(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileSignature{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                       static_cast<std::int64_t>(st.st_size),
                       std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                       std::int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec};
}

}  // namespace io
