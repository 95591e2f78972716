// Key material is wiped when it is let go of: the wipe itself, and the watch on released memory
// the other tests show it with.
#include "server/nts/secret.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "tests/unit/server/nts/released.hpp"

namespace {

std::array<std::byte, 32> pattern() {
  std::array<std::byte, 32> p{};
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<std::byte>(0xA5 ^ (i * 29));
  return p;
}

bool all_zero(std::span<const std::byte> bytes) {
  return std::ranges::all_of(bytes, [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

TEST_CASE("wipe() zeroes the bytes it is given, and only those") {
  const auto before = pattern();
  auto bytes = before;
  nts::wipe(std::span{bytes}.first(16));
  CHECK(all_zero(std::span{bytes}.first(16)));
  CHECK(std::ranges::equal(std::span{bytes}.subspan(16), std::span{before}.subspan(16)));
}

TEST_CASE("the watch sees what a block still holds as it is released") {
  const auto secret = pattern();
  auto plain = std::make_unique<std::vector<std::byte>>(secret.begin(), secret.end());
  REQUIRE(std::ranges::equal(*plain, secret));
  const std::uintptr_t at = released::address_of(plain->data());
  const released::Watch watch{secret};
  plain.reset();
  CHECK(watch.saw_release_of(at));
  CHECK(watch.blocks_holding_pattern() == 1);  // an ordinary vector leaves it behind
}

TEST_CASE("a Secret wipes its buffer when it is destroyed, assigned over, or outgrows it") {
  const auto secret = pattern();
  SUBCASE("destroyed") {
    auto held = std::make_unique<nts::Secret>(secret.begin(), secret.end());
    REQUIRE(std::ranges::equal(*held, secret));
    const std::uintptr_t at = released::address_of(held->data());
    const released::Watch watch{secret};
    held.reset();
    CHECK(watch.saw_release_of(at));
    CHECK(watch.blocks_holding_pattern() == 0);
  }
  SUBCASE("assigned over") {
    nts::Secret held(secret.begin(), secret.end());
    REQUIRE(std::ranges::equal(held, secret));
    const std::uintptr_t at = released::address_of(held.data());
    const released::Watch watch{secret};
    held = nts::Secret(16, std::byte{1});
    CHECK(watch.saw_release_of(at));
    CHECK(watch.blocks_holding_pattern() == 0);
  }
  SUBCASE("outgrown") {
    nts::Secret held(secret.begin(), secret.end());
    REQUIRE(held.capacity() == held.size());
    const std::uintptr_t at = released::address_of(held.data());
    const released::Watch watch{secret};
    held.push_back(std::byte{0});
    CHECK(watch.saw_release_of(at));
    CHECK(watch.blocks_holding_pattern() == 0);
    CHECK(std::ranges::equal(std::span{held}.first(secret.size()), secret));  // moved on, not lost
  }
}
