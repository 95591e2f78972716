#include "server/io/steering.hpp"

#include <doctest/doctest.h>

#include <array>
#include <vector>

TEST_CASE("steering: IPv4 worker from the address's hash") {
  // mix(0x7f000301) = 0x4c297998, mix(0x7f000302) = 0xea604502, mix(0x0a000001) = 0xb2f8d149.
  const std::array<std::uint8_t, 4> a{127, 0, 3, 1}, b{127, 0, 3, 2}, c{10, 0, 0, 1};
  CHECK(io::steered_worker(a, 1) == 0);
  CHECK(io::steered_worker(a, 2) == 0);
  CHECK(io::steered_worker(a, 7) == 3);
  CHECK(io::steered_worker(b, 3) == 2);
  CHECK(io::steered_worker(b, 7) == 4);
  CHECK(io::steered_worker(c, 2) == 1);
}

TEST_CASE("steering: every bit of the address counts") {
  // A multiply alone would leave the low output bits blind to the high address bits.
  const auto bytes = [](std::uint32_t v) {
    return std::array<std::uint8_t, 4>{static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                                       static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
  };
  const std::uint32_t base = 0x0a00'0001u;
  unsigned moved = 0;
  for (unsigned bit = 0; bit < 32; ++bit) {
    moved += io::steered_worker(bytes(base), 2) != io::steered_worker(bytes(base ^ (1u << bit)), 2) ? 1u : 0u;
  }
  CHECK(moved >= 8);  // about half of the 32 flips move a client between two workers
  unsigned high_moved = 0;
  for (unsigned bit = 24; bit < 32; ++bit) {
    high_moved += io::steered_worker(bytes(base), 2) != io::steered_worker(bytes(base ^ (1u << bit)), 2) ? 1u : 0u;
  }
  CHECK(high_moved >= 1);
}

TEST_CASE("steering: IPv6 folds the four words of the address") {
  std::array<std::uint8_t, 16> v6{};
  v6[12] = 127;
  v6[15] = 1;
  const std::array<std::uint8_t, 4> v4{127, 0, 0, 1};
  // Words 0..2 are zero, so the fold equals the last word.
  for (unsigned workers = 1; workers <= 8; ++workers) CHECK(io::steered_worker(v6, workers) == io::steered_worker(v4, workers));
}

TEST_CASE("steering spreads a /16 of clients evenly") {
  for (unsigned workers : {2u, 3u, 4u, 8u}) {
    std::vector<unsigned> counts(workers, 0);
    for (unsigned i = 0; i < 65536; ++i) {
      const std::array<std::uint8_t, 4> a{10, 1, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
      ++counts[io::steered_worker(a, workers)];
    }
    const double fair = 65536.0 / workers;
    for (const unsigned c : counts) {
      CAPTURE(workers);
      CHECK(static_cast<double>(c) > fair * 0.97);
      CHECK(static_cast<double>(c) < fair * 1.03);
    }
  }
}
