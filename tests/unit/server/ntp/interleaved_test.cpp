#include "server/ntp/interleaved.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "server/ntp/responder.hpp"

namespace {

const ntp::ClientAddress kClient{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, 123};
const ntp::ClientAddress kOther{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 2}, 123};

ntp::Timestamp receive(std::uint32_t n) { return ntp::mark_receive(ntp::Timestamp{0xE000'0000u + n, n * 7919u}); }
ntp::Timestamp transmit(std::uint32_t n) { return ntp::Timestamp{0xE000'0000u + n, n * 104729u}; }

}  // namespace

TEST_CASE("receive timestamps are marked odd and transmit timestamps even") {
  CHECK(ntp::mark_receive({5, 6}) == ntp::Timestamp{5, 7});
  CHECK(ntp::mark_receive({5, 7}) == ntp::Timestamp{5, 7});
  CHECK(ntp::mark_transmit({5, 7}) == ntp::Timestamp{5, 6});
  CHECK(ntp::mark_transmit({5, 6}) == ntp::Timestamp{5, 6});
}

TEST_CASE("a request asks to interleave with NTPv4, a marked origin and receive unlike transmit") {
  CHECK(ntp::asks_interleaved(4, {1, 3}, {2, 2}, {3, 4}));
  CHECK_FALSE(ntp::asks_interleaved(3, {1, 3}, {2, 2}, {3, 4}));  // chrony interleaves NTPv4 only
  CHECK_FALSE(ntp::asks_interleaved(4, {1, 2}, {2, 2}, {3, 4}));  // origin echoes a transmit timestamp
  CHECK_FALSE(ntp::asks_interleaved(4, {0, 0}, {0, 0}, {3, 4}));  // a basic client's first request
  CHECK_FALSE(ntp::asks_interleaved(4, {1, 3}, {3, 4}, {3, 4}));  // receive = transmit: basic
}

TEST_CASE("the interleaved table gives a saved transmit timestamp once, to its own client") {
  ntp::InterleavedTable table{64, 42};
  table.save(receive(1), kClient, transmit(1));
  CHECK_FALSE(table.take(receive(1), kOther).has_value());
  CHECK(table.take(receive(2), kClient) == std::nullopt);
  CHECK(table.take(receive(1), kClient) == transmit(1));
  CHECK(table.take(receive(1), kClient) == std::nullopt);  // a replay gets a basic reply
}

TEST_CASE("the kernel's transmit timestamp replaces the one written into the reply") {
  ntp::InterleavedTable table{64, 42};
  table.save(receive(1), kClient, transmit(1));
  CHECK(table.update(receive(1), transmit(100)));
  CHECK_FALSE(table.update(receive(2), transmit(100)));
  CHECK(table.take(receive(1), kClient) == transmit(100));
  CHECK_FALSE(table.update(receive(1), transmit(101)));  // taken: gone
}

TEST_CASE("the NIC's transmit timestamp is not replaced by the kernel's software one") {
  ntp::InterleavedTable table{64, 42};
  table.save(receive(1), kClient, transmit(1));
  CHECK(table.update(receive(1), transmit(200), true));
  CHECK(table.update(receive(1), transmit(100)));
  CHECK(table.take(receive(1), kClient) == transmit(200));
}

TEST_CASE("the interleaved table holds its capacity and evicts the oldest of a pair") {
  ntp::InterleavedTable table{100, 7};
  CHECK(table.capacity() == 128);
  const std::uint32_t saved = 10'000;
  for (std::uint32_t n = 1; n <= saved; ++n) table.save(receive(n), kClient, transmit(n));
  std::uint32_t found = 0;
  for (std::uint32_t n = 1; n <= saved; ++n) {
    if (const auto t = table.take(receive(n), kClient)) {
      CHECK(*t == transmit(n));
      ++found;
    }
  }
  CHECK(found <= 128);
  CHECK(found >= 64);  // at least one of each pair survives
  // The most recent save always survives.
  table.save(receive(saved + 1), kClient, transmit(saved + 1));
  CHECK(table.take(receive(saved + 1), kClient) == transmit(saved + 1));
}
