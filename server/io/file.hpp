#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace io {

struct FileRead {
  std::string bytes;
  std::string error;  // empty on success, else "cannot read PATH: reason"
  bool ok() const { return error.empty(); }
};

// Every file smeard reads is small; a path naming /dev/urandom must not fill the memory.
inline constexpr std::size_t kMaxFileBytes = 16 << 20;

FileRead read_file(const std::string& path);

// Enough of stat() to notice a file was changed or replaced (including by rename).
struct FileSignature {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = 0;
  std::int64_t modified_ns = 0;
  std::int64_t changed_ns = 0;
  friend bool operator==(const FileSignature&, const FileSignature&) = default;
};

std::optional<FileSignature> file_signature(const std::string& path);

}  // namespace io
