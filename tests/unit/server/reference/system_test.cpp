#include "server/reference/system.hpp"

#include <doctest/doctest.h>


TEST_CASE("refid text is packed left-aligned and zero-padded") {
  CHECK(reference::encode_refid("GPS") == 0x4750'5300u);
  CHECK(reference::encode_refid("LOCL") == 0x4C4F'434Cu);
  CHECK(reference::encode_refid("A") == 0x4100'0000u);
}

TEST_CASE("reference state") {
  config::Reference ref;
  ref.refid = "PPS";
  const auto now = leapdb::utc_from_unix_nanoseconds(1'700'000'000'750'000'000);
  reference::KernelClockStatus synced{true, false, leapdb::Nanoseconds{2'000'000}, leapdb::Nanoseconds{1'000}};
  const reference::ReferenceState s = reference::reference_state(ref, synced, -24, now);
  CHECK(s.stratum == 1);
  CHECK(s.precision == -24);
  CHECK(s.reference_id == 0x5050'5300u);
  CHECK(s.root_delay.count() == 0);
  CHECK(s.root_dispersion == leapdb::Nanoseconds{2'000'000});
  CHECK(s.read_at == now);

  const reference::KernelClockStatus unsynced{false, false, leapdb::Nanoseconds{16'000'000'000}, {}};
  CHECK(reference::reference_state(ref, unsynced, -24, now).root_dispersion.count() == 0);
  ref.type = config::Reference::Type::simulated;
  CHECK(reference::reference_state(ref, synced, -24, now).root_dispersion.count() == 0);
}

TEST_CASE("measured precision is plausible") {
  const std::int8_t precision = reference::measure_precision();
  CHECK(precision <= -10);  // better than a millisecond on any machine we run on
  CHECK(precision >= -32);
}
