#include "server/io/steering.hpp"

#include <doctest/doctest.h>

#include <array>
#include <vector>

TEST_CASE("steering: IPv4 worker from the address's hash") {
  // (0x7f000301 * 0x9E3779B1 mod 2^32) >> 16 = 0x13a4, which is even.
  const std::array<std::uint8_t, 4> a{127, 0, 3, 1};
  CHECK(io::steered_worker(a, 2) == 0);
  CHECK(io::steered_worker(a, 1) == 0);
  CHECK(io::steered_worker(a, 5) == 3);  // 0x13a4 = 5028
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
