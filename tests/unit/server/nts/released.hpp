#pragma once
// What the program's memory holds as it is handed back: this test program replaces operator
// delete, and while a Watch is alive each block released is searched for the watched bytes
// before it is freed. That is how a test shows a key was wiped when its holder let it go,
// without reading memory that is no longer the program's.

#include <cstddef>
#include <cstdint>
#include <span>

namespace released {

// A block's address as a number, taken while it is live: a pointer to it is no use once it is freed.
inline std::uintptr_t address_of(const void* block) { return reinterpret_cast<std::uintptr_t>(block); }

class Watch {
 public:
  // Watches for `pattern` (at most 64 bytes, copied) in every block released from now on.
  explicit Watch(std::span<const std::byte> pattern);
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  ~Watch();

  // Whether the block at `address` (address_of() it while it was live) was released meanwhile.
  bool saw_release_of(std::uintptr_t address) const;
  // How many blocks released meanwhile still held the pattern.
  std::size_t blocks_holding_pattern() const;
};

}  // namespace released
