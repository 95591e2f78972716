// The cookie keys a server holds: those of the period its time is in, derived again when the
// period turns or the secret changes, and not otherwise.
#include "server/nts/cookie_keeper.hpp"

#include <doctest/doctest.h>

#include <array>
#include <memory>

#include "server/ntp/snapshot.hpp"
#include "tests/unit/server/nts/released.hpp"

namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr leapdb::Nanoseconds kDay = hours{24};
constexpr std::array<std::byte, 32> kSecret{std::byte{7}, std::byte{1}};

leapdb::UtcTime at(std::int64_t unix_seconds) { return leapdb::UtcTime{seconds{unix_seconds}}; }

// 1'800'000'000 is in day 20833 since the epoch; day 20834 begins at kNextDay.
const leapdb::UtcTime kTime = at(1'800'000'000);
const leapdb::UtcTime kNextDay = at(20834LL * 86400);

}  // namespace

TEST_CASE("the rotation decision: keys for a new period or a new secret, and nothing else") {
  CHECK(nts::period_to_derive(std::nullopt, kDay, kTime, false) == 20833u);
  CHECK(nts::period_to_derive(20833u, kDay, kTime, false) == std::nullopt);
  CHECK(nts::period_to_derive(20833u, kDay, kTime, true) == 20833u);
  // The period turns at a whole number of rotations since the epoch.
  CHECK(nts::period_to_derive(20833u, kDay, kNextDay - leapdb::Nanoseconds{1}, false) == std::nullopt);
  CHECK(nts::period_to_derive(20833u, kDay, kNextDay, false) == 20834u);
  // Time stepped back into the previous period: its keys again.
  CHECK(nts::period_to_derive(20834u, kDay, kNextDay - seconds{1}, false) == 20833u);
  // Another rotation, other periods.
  CHECK(nts::period_to_derive(std::nullopt, hours{1}, kTime, false) == 500'000u);
}

TEST_CASE("counted on the reference's UTC, a node whose own clock is off derives its fleet's keys") {
  // At one instant, five minutes into a period: one node's system clock is right, another's is
  // ten minutes behind, which its reference corrects.
  const leapdb::UtcTime instant = kNextDay + minutes{5};
  ntp::ReferenceClock right, behind;
  behind.correction = {{}, minutes{10}, {}};
  nts::CookieKeeper a, b;
  REQUIRE(a.rotate(kSecret, kDay, right.to_utc(instant), false));
  REQUIRE(b.rotate(kSecret, kDay, behind.to_utc(instant - minutes{10}), false));
  CHECK(a.period() == 20834u);
  CHECK(b.period() == a.period());
  CHECK(b.keys()[0].key == a.keys()[0].key);
  // On its own clock it would still be sealing with the previous period's key.
  CHECK(nts::period_to_derive(std::nullopt, kDay, instant - minutes{10}, false) == 20833u);
}

TEST_CASE("the keeper holds the current period's key first, then the previous and the next period's") {
  nts::CookieKeeper keeper;
  CHECK(keeper.keys().empty());
  CHECK_FALSE(keeper.period().has_value());

  REQUIRE(keeper.rotate(kSecret, kDay, kTime, false));
  CHECK(keeper.period() == 20833u);
  REQUIRE(keeper.keys().size() == 3);
  CHECK(keeper.keys()[0].period == 20833);
  CHECK(keeper.keys()[1].period == 20832);
  CHECK(keeper.keys()[2].period == 20834);
  CHECK(keeper.keys()[0].key == nts::derive_cookie_key(kSecret, 20833)->key);

  // Within the period nothing changes; the next one brings its keys.
  CHECK_FALSE(keeper.rotate(kSecret, kDay, kTime + hours{1}, false));
  CHECK(keeper.period() == 20833u);
  CHECK(keeper.rotate(kSecret, kDay, kNextDay, false));
  CHECK(keeper.period() == 20834u);
  CHECK(keeper.keys()[0].key == nts::derive_cookie_key(kSecret, 20834)->key);

  // A new secret is taken at once, in the same period.
  constexpr std::array<std::byte, 32> other{std::byte{8}};
  CHECK(keeper.rotate(other, kDay, kNextDay, true));
  CHECK(keeper.period() == 20834u);
  CHECK(keeper.keys()[0].key == nts::derive_cookie_key(other, 20834)->key);

  keeper.clear();
  CHECK(keeper.keys().empty());
  CHECK_FALSE(keeper.period().has_value());
}

TEST_CASE("a secret too short gives no keys, but the period is still held") {
  nts::CookieKeeper keeper;
  const std::array<std::byte, 31> short_secret{};
  CHECK(keeper.rotate(short_secret, kDay, kTime, false));
  CHECK(keeper.keys().empty());
  CHECK(keeper.period() == 20833u);
}

TEST_CASE("keys rotated out, and those held when the keeper goes, are wiped") {
  auto keeper = std::make_unique<nts::CookieKeeper>();
  REQUIRE(keeper->rotate(kSecret, kDay, kTime, false));
  std::array<std::byte, nts::kCookieKeyLength> old = keeper->keys()[0].key;
  std::uintptr_t at = released::address_of(keeper->keys().data());
  {
    const released::Watch watch{old};
    REQUIRE(keeper->rotate(kSecret, kDay, kTime + hours{72}, false));  // none of the three kept
    CHECK(watch.saw_release_of(at));
    CHECK(watch.blocks_holding_pattern() == 0);
  }
  old = keeper->keys()[0].key;
  at = released::address_of(keeper->keys().data());
  const released::Watch watch{old};
  keeper.reset();
  CHECK(watch.saw_release_of(at));
  CHECK(watch.blocks_holding_pattern() == 0);
}
