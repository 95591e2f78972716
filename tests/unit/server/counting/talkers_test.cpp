// The heavy-hitters table: what one request counts, IPv4 and IPv6 kept apart, fixed memory
// whatever the number of clients, heavy talkers surviving floods of one-off addresses (and fading
// once they stop), rows of several workers merged, and a reader racing the writer never seeing
// one address with another's counts.
#include "server/counting/talkers.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <vector>

using counting::merge_talkers;
using counting::Talker;
using counting::TalkerTable;
using Ip = std::array<std::uint8_t, 16>;
using namespace std::chrono_literals;

namespace {

Ip v4(std::uint32_t address) {
  Ip ip{};
  ip[10] = ip[11] = 0xff;
  for (std::size_t i = 0; i < 4; ++i) ip[15 - i] = static_cast<std::uint8_t>(address >> (8 * i));
  return ip;
}

Ip v6(std::uint64_t low) {
  Ip ip{0x20, 0x01, 0x0d, 0xb8};
  for (std::size_t i = 0; i < 8; ++i) ip[15 - i] = static_cast<std::uint8_t>(low >> (8 * i));
  return ip;
}

const leapdb::UtcTime kStart = leapdb::UtcTime{1'700'000'000s};

std::optional<Talker> find(const std::vector<Talker>& rows, const Ip& ip) {
  const auto it = std::ranges::find(rows, ip, &Talker::ip);
  return it == rows.end() ? std::nullopt : std::optional<Talker>{*it};
}

}  // namespace

TEST_CASE("TalkerTable: counts a client's requests, kisses of death and rate-limited requests") {
  TalkerTable table{64, 1};
  const Ip client = v4(0xC0000201);
  table.record(client, kStart, false, false);
  table.record(client, kStart + 1s, true, true);
  table.record(client, kStart + 2s, false, true);
  const auto rows = table.read();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0] == Talker{client, 3, 1, 2, kStart + 2s});
}

TEST_CASE("TalkerTable: IPv4, its IPv4-compatible IPv6 twin and IPv6 addresses are different clients") {
  TalkerTable table{64, 2};
  const Ip mapped = v4(0x0A000001);
  Ip compatible{};
  compatible[15] = 1;
  compatible[12] = 10;
  const Ip six = v6(1);
  table.record(mapped, kStart, false, false);
  for (int i = 0; i < 2; ++i) table.record(compatible, kStart, false, false);
  for (int i = 0; i < 3; ++i) table.record(six, kStart, true, false);
  const auto rows = table.read();
  CHECK(rows.size() == 3);
  CHECK(find(rows, mapped)->requests == 1);
  CHECK(find(rows, compatible)->requests == 2);
  CHECK(find(rows, six)->kod == 3);
}

TEST_CASE("TalkerTable: memory is fixed at construction whatever the number of clients") {
  TalkerTable table{4096, 3};
  CHECK(table.slots() == 4096);
  const std::size_t bytes = table.size_bytes();
  CHECK(bytes == 4096 * (64 + 16));
  for (std::uint32_t i = 0; i < 100'000; ++i) table.record(i % 2 ? v4(i) : v6(i), kStart, false, false);
  CHECK(table.size_bytes() == bytes);
  const auto rows = table.read();
  CHECK(rows.size() <= table.slots());
  // Nearly every slot in use: the hash spreads addresses over the sets.
  CHECK(rows.size() > table.slots() * 99 / 100);
  // Slots are rounded up to a power of two, at least one set.
  CHECK(TalkerTable{1000, 0}.slots() == 1024);
  CHECK(TalkerTable{1, 0}.slots() == TalkerTable::kWays);
}

TEST_CASE("TalkerTable: heavy talkers keep their records and exact counts through a flood of one-off addresses") {
  TalkerTable table{4096, 4};
  std::vector<Ip> heavy;
  for (std::uint32_t i = 0; i < 50; ++i) heavy.push_back(i % 2 ? v4(0x0A000000 + i) : v6(0xFFFF'0000 + i));
  // Heavy: 20 requests each to start with, then one more per 20000 one-offs: their sets see
  // about 40 one-offs in between, five times their ways, so recency alone would lose them.
  for (int round = 0; round < 20; ++round) {
    for (const Ip& ip : heavy) table.record(ip, kStart, false, false);
  }
  leapdb::UtcTime now = kStart;
  for (std::uint32_t i = 0; i < 500'000; ++i) {
    now += 1ms;  // 500 s of flood: within one half-life
    table.record(i % 3 ? v4(0xC0000000 + i) : v6(i), now, false, false);
    if (i % 20000 == 19999) {
      for (const Ip& ip : heavy) table.record(ip, now, true, false);
    }
  }
  const auto rows = table.read();
  for (const Ip& ip : heavy) {
    const auto row = find(rows, ip);
    REQUIRE(row);
    CHECK(row->requests == 20 + 25);
    CHECK(row->kod == 25);
    CHECK(row->last_seen == now);
  }
  const auto top = merge_talkers(rows, 50);
  REQUIRE(top.size() == 50);
  for (const Talker& t : top) CHECK(std::ranges::find(heavy, t.ip) != heavy.end());
}

TEST_CASE("TalkerTable: a client that starts talking during a flood takes a record and keeps it") {
  TalkerTable table{4096, 5};
  const Ip newcomer = v6(0xABCDEF);
  leapdb::UtcTime now = kStart;
  std::uint64_t sent = 0;
  for (std::uint32_t i = 0; i < 300'000; ++i) {
    now += 1ms;
    table.record(v4(0x64000000 + i), now, false, false);
    // One request every 500 one-offs: its set sees about one of them in between.
    if (i >= 100'000 && i % 500 == 0) {
      table.record(newcomer, now, false, true);
      ++sent;
    }
  }
  const auto rows = table.read();
  const auto row = find(rows, newcomer);
  REQUIRE(row);
  CHECK(row->requests == sent);
  CHECK(row->rate_limited == sent);
  CHECK(merge_talkers(rows, 1).front().ip == newcomer);
}

TEST_CASE("TalkerTable: a heavy talker that stopped fades and gives its record up") {
  TalkerTable table{8, 6};  // one set
  const Ip old = v4(0x0A0A0A0A);
  for (int i = 0; i < 1000; ++i) table.record(old, kStart, false, false);
  // Within a few half-lives, one-offs cannot displace it.
  leapdb::UtcTime now = kStart + TalkerTable::kHalfLife * 4;
  for (std::uint32_t i = 0; i < 100; ++i) table.record(v4(i + 1), now, false, false);
  CHECK(find(table.read(), old));
  // Its weight halves every half-life: after ten, 1000 is 0 and the next one-off takes its way.
  now = kStart + TalkerTable::kHalfLife * 10;
  for (std::uint32_t i = 0; i < TalkerTable::kWays; ++i) table.record(v4(1000 + i), now, false, false);
  CHECK_FALSE(find(table.read(), old));
}

TEST_CASE("TalkerTable: among equally light records the longest unseen is replaced") {
  TalkerTable table{8, 7};  // one set
  for (std::uint32_t i = 0; i < TalkerTable::kWays; ++i) {
    table.record(v4(i + 1), kStart + std::chrono::seconds{i}, false, false);
  }
  table.record(v4(100), kStart + 100s, false, false);
  const auto rows = table.read();
  CHECK(rows.size() == TalkerTable::kWays);
  CHECK_FALSE(find(rows, v4(1)));
  CHECK(find(rows, v4(2)));
  CHECK(find(rows, v4(100)));
}

TEST_CASE("TalkerTable: a clock that went back keeps the weights") {
  TalkerTable table{8, 8};
  const Ip heavy = v4(0x0B000001);
  for (int i = 0; i < 100; ++i) table.record(heavy, kStart, false, false);
  const leapdb::UtcTime earlier = kStart - TalkerTable::kHalfLife * 40;
  for (std::uint32_t i = 0; i < 100; ++i) table.record(v4(i + 1), earlier, false, false);
  const auto row = find(table.read(), heavy);
  REQUIRE(row);
  CHECK(row->requests == 100);
}

TEST_CASE("merge_talkers: sums an address's rows from several workers and ranks by requests") {
  const Ip a = v4(0x0A000001), b = v6(2), c = v4(0x0A000003);
  TalkerTable first{64, 9}, second{64, 10};
  for (int i = 0; i < 5; ++i) first.record(a, kStart + 1s, i == 0, false);
  for (int i = 0; i < 4; ++i) second.record(a, kStart + 3s, false, true);
  for (int i = 0; i < 7; ++i) second.record(b, kStart + 2s, false, false);
  first.record(c, kStart, false, false);
  std::vector<Talker> rows = first.read();
  const auto more = second.read();
  rows.insert(rows.end(), more.begin(), more.end());

  const auto merged = merge_talkers(rows, 10);
  REQUIRE(merged.size() == 3);
  CHECK(merged[0] == Talker{a, 9, 1, 4, kStart + 3s});
  CHECK(merged[1] == Talker{b, 7, 0, 0, kStart + 2s});
  CHECK(merged[2] == Talker{c, 1, 0, 0, kStart});
  CHECK(merge_talkers(rows, 2).size() == 2);
  CHECK(merge_talkers(rows, 0).empty());
  CHECK(merge_talkers({}, 10).empty());
}

TEST_CASE("merge_talkers: equal counts rank the most recently seen first, then by address") {
  const std::vector<Talker> rows{{v4(3), 5, 0, 0, kStart}, {v4(1), 5, 0, 0, kStart}, {v4(2), 5, 0, 0, kStart + 1s}};
  const auto merged = merge_talkers(rows, 3);
  REQUIRE(merged.size() == 3);
  CHECK(merged[0].ip == v4(2));
  CHECK(merged[1].ip == v4(1));
  CHECK(merged[2].ip == v4(3));
}

TEST_CASE("TalkerTable: a reader racing the writer never pairs an address with another's counts") {
  TalkerTable table{8, 11};  // one set: nearly every request replaces a record the reader reads
  std::atomic<bool> done{false};
  // Each address says what its requests are: odd last byte, every one a KoD; the byte before
  // odd, every one rate-limited.
  std::thread writer{[&] {
    leapdb::UtcTime now = kStart;
    for (std::uint32_t i = 0; i < 2'000'000; ++i) {
      const std::uint32_t address = (i * 2654435761u) % 64;
      const Ip ip = v4(address);
      table.record(ip, now, (ip[15] & 1) != 0, (ip[14] & 1) != 0);
      if (i % 64 == 0) now += 1ms;
    }
    done.store(true);
  }};
  std::size_t rows_read = 0;
  bool consistent = true;
  while (!done.load()) {
    for (const Talker& row : table.read()) {
      ++rows_read;
      consistent = consistent && row.requests > 0 && row.kod == ((row.ip[15] & 1) != 0 ? row.requests : 0) &&
                   row.rate_limited == ((row.ip[14] & 1) != 0 ? row.requests : 0) && row.last_seen >= kStart;
    }
  }
  writer.join();
  CHECK(consistent);
  CHECK(rows_read > 0);
}
