#pragma once
// Key material is wiped (OPENSSL_cleanse, stores the compiler may not drop) as soon as it is no
// longer needed, so a key let go of leaves no copy in freed memory, a core dump or swap. Values
// holding fixed-size keys wipe them when they are destroyed. Pure.

#include <cstddef>
#include <span>

namespace nts {

void wipe(std::span<std::byte> bytes);

}  // namespace nts
