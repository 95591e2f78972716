#include "server/reference/quality.hpp"

#include <doctest/doctest.h>

using namespace std::chrono;
using reference::Stage;

namespace {

const leapdb::TaiTime kNow{seconds{1'800'000'000}};
const leapdb::TaiTime kStarted = kNow - hours{5};

reference::Estimate refclock(bool tracking) {
  reference::Estimate e;
  e.tracking = tracking;
  e.stratum = 0;
  e.reference_id = 0x4750'5300;
  e.dispersion = microseconds{20};
  e.root_delay = microseconds{4};
  return e;
}

}  // namespace

TEST_CASE("a tracking refclock is served at stratum 1 with its own dispersion from its last update") {
  const auto served = reference::serve(refclock(true), {}, kNow - seconds{1}, kNow, kStarted);
  CHECK(served.stage == Stage::synchronized);
  CHECK(served.quality.stratum == 1);
  CHECK(served.quality.reference_id == 0x4750'5300);
  CHECK(served.quality.root_delay == ntp::to_ntp_short(microseconds{4}));
  CHECK(served.quality.dispersion == microseconds{20});
  CHECK(served.quality.last_update == kNow - seconds{1});
  CHECK(served.quality.synchronized_until == kNow - seconds{1} + hours{1});
  CHECK(served.quality.dispersion_growth == leapdb::Rate::from_ppb(15'000));
}

TEST_CASE("an upstream's stratum plus one; a stratum-15 upstream cannot be served") {
  reference::Estimate e = refclock(true);
  e.stratum = 2;
  CHECK(reference::serve(e, {}, kNow, kNow, kStarted).quality.stratum == 3);
  e.stratum = 15;
  const auto served = reference::serve(e, {}, kNow, kNow, kStarted);
  CHECK(served.stage == Stage::unsynchronized);
  CHECK(served.quality.synchronized_until == leapdb::TaiTime::min());
}

TEST_CASE("holdover, then unsynchronized or the local stratum") {
  const reference::HoldoverPolicy policy{minutes{10}, 0};
  CHECK(reference::serve(refclock(false), policy, kNow - minutes{9}, kNow, kStarted).stage == Stage::holdover);
  const auto late = reference::serve(refclock(false), policy, kNow - minutes{10}, kNow, kStarted);
  CHECK(late.stage == Stage::unsynchronized);
  CHECK(late.quality.synchronized_until == kNow);
  CHECK(ntp::header_quality(late.quality, kNow).unsynchronized);
  CHECK_FALSE(ntp::header_quality(late.quality, kNow - seconds{1}).unsynchronized);

  const reference::HoldoverPolicy local{minutes{10}, 10};
  const auto fallback = reference::serve(refclock(false), local, kNow - hours{1}, kNow, kStarted);
  CHECK(fallback.stage == Stage::local);
  CHECK(ntp::header_quality(fallback.quality, kNow).stratum == 10);
  CHECK(ntp::header_quality(fallback.quality, kNow).reference_id == ntp::kLocalAddressRefid);
}

TEST_CASE("a reference that never had a good sample is unsynchronized from the start, not held over") {
  const auto never = reference::serve(refclock(false), {}, std::nullopt, kNow, kStarted);
  CHECK(never.stage == Stage::unsynchronized);
  CHECK(ntp::header_quality(never.quality, kStarted).unsynchronized);
  // At a local stratum, its dispersion grows from when smeard started.
  const auto local = reference::serve(refclock(false), {hours{1}, 8}, std::nullopt, kNow, kStarted);
  CHECK(local.stage == Stage::local);
  CHECK(local.quality.last_update == kStarted);
}

TEST_CASE("a holdover too long to add saturates rather than wraps") {
  const reference::HoldoverPolicy forever{leapdb::Nanoseconds::max(), 0};
  CHECK(reference::serve(refclock(false), forever, kNow, kNow, kStarted).quality.synchronized_until ==
        leapdb::TaiTime::max());
}
