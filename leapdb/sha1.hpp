#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace leapdb {

// SHA-1 of the bytes, as the five 32-bit words leap-seconds.list prints in its #h line.
std::array<std::uint32_t, 5> sha1_words(std::string_view bytes);

}  // namespace leapdb
