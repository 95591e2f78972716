#pragma once
// Key material is wiped (OPENSSL_cleanse, stores the compiler may not drop) as soon as it is no
// longer needed, so a key let go of leaves no copy in freed memory, a core dump or swap. Values
// holding fixed-size keys wipe them when they are destroyed; a secret of variable length is a
// Secret, whose every buffer is wiped before it is released: when the Secret is destroyed,
// assigned over or outgrows it. Pure.

#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

namespace nts {

void wipe(std::span<std::byte> bytes);

// std::allocator, but what it hands back is wiped first.
template <class T>
struct WipingAllocator {
  using value_type = T;
  // Moved or swapped, a container takes its buffer along; the one it had is deallocated.
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;

  WipingAllocator() = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    wipe({reinterpret_cast<std::byte*>(p), n * sizeof(T)});
    std::allocator<T>{}.deallocate(p, n);
  }

  template <class U>
  friend bool operator==(const WipingAllocator&, const WipingAllocator<U>&) {
    return true;
  }
};

// A secret of variable length: the fleet's cookie master secret.
using Secret = std::vector<std::byte, WipingAllocator<std::byte>>;

}  // namespace nts
