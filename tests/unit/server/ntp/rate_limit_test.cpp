// The per-address rate limiter: the GCRA's exact burst and rate, the leak's share, one KoD an
// interval, eviction of the oldest, and surviving clock steps.
#include <doctest/doctest.h>

#include "server/ntp/rate_limit.hpp"

using Verdict = ntp::RateLimiter::Verdict;
using namespace std::chrono;

namespace {

const leapdb::UtcTime kStart = leapdb::utc_from_unix_nanoseconds(1'800'000'000'000'000'000);

ntp::ClientAddress client(std::uint32_t n) {
  ntp::ClientAddress address;
  address.ip[10] = 0xff;
  address.ip[11] = 0xff;
  address.ip[12] = static_cast<std::uint8_t>(n >> 24);
  address.ip[13] = static_cast<std::uint8_t>(n >> 16);
  address.ip[14] = static_cast<std::uint8_t>(n >> 8);
  address.ip[15] = static_cast<std::uint8_t>(n);
  address.port = 123;
  return address;
}

}  // namespace

TEST_CASE("rate limit: a burst, then one answer an interval on average") {
  for (const int interval : {-4, -1, 0, 3, 12}) {
    for (const unsigned burst : {1u, 2u, 8u, 255u}) {
      CAPTURE(interval);
      CAPTURE(burst);
      ntp::RateLimiter limiter{1024, 11};
      const ntp::RateLimitSettings settings{true, interval, burst, 0};
      const nanoseconds step = interval >= 0 ? nanoseconds{1'000'000'000LL << interval}
                                             : nanoseconds{1'000'000'000LL >> -interval};
      unsigned answered = 0;
      // A flood at one instant: exactly `burst` answers.
      for (int i = 0; i < 300; ++i) answered += limiter.check(settings, client(1), kStart) == Verdict::answer;
      CHECK(answered == burst);
      // Then one a step, each exactly on time, and none before.
      for (int k = 1; k <= 20; ++k) {
        CHECK(limiter.check(settings, client(1), kStart + step * k - nanoseconds{1}) != Verdict::answer);
        CHECK(limiter.check(settings, client(1), kStart + step * k) == Verdict::answer);
      }
      // A pause refills the bucket up to the burst, no more.
      const leapdb::UtcTime later = kStart + step * (21 + 1000);
      answered = 0;
      for (int i = 0; i < 300; ++i) answered += limiter.check(settings, client(1), later) == Verdict::answer;
      CHECK(answered == burst);
    }
  }
}

TEST_CASE("rate limit: over the limit, at most one KoD an interval; the rest dropped") {
  ntp::RateLimiter limiter{1024, 3};
  const ntp::RateLimitSettings settings{true, 2, 1, 0};  // 4 s
  CHECK(limiter.check(settings, client(9), kStart) == Verdict::answer);
  int kods = 0, drops = 0;
  for (int ms = 0; ms < 3999; ms += 10) {
    const Verdict v = limiter.check(settings, client(9), kStart + milliseconds{ms});
    kods += v == Verdict::kod;
    drops += v == Verdict::drop;
  }
  CHECK(kods == 1);
  CHECK(drops == 399);
}

TEST_CASE("rate limit: 1 in 2^leak of the requests over the limit is answered anyway") {
  for (const unsigned leak : {1u, 2u, 4u}) {
    CAPTURE(leak);
    ntp::RateLimiter limiter{1024, 99};
    const ntp::RateLimitSettings settings{true, 6, 1, leak};
    int leaked = 0;
    const int n = 64000;
    for (int i = 0; i < n; ++i) leaked += limiter.check(settings, client(5), kStart) == Verdict::leak;
    const double expected = n / double(1u << leak);
    CHECK(leaked > expected * 0.9);
    CHECK(leaked < expected * 1.1);
  }
  ntp::RateLimiter never{1024, 99};
  const ntp::RateLimitSettings no_leak{true, 6, 1, 0};
  int leaked = 0;
  for (int i = 0; i < 10000; ++i) leaked += never.check(no_leak, client(5), kStart) == Verdict::leak;
  CHECK(leaked == 0);
}

TEST_CASE("rate limit: the table is fixed; a full set evicts its oldest, and forgets only that one") {
  ntp::RateLimiter limiter{1024, 5};
  CHECK(limiter.entries() == 1024);
  CHECK(limiter.size_bytes() == 16 * 1024);
  CHECK(ntp::RateLimiter{1000, 1}.entries() == 1024);
  CHECK(ntp::RateLimiter{0, 1}.entries() == ntp::RateLimiter::kWays);
  const ntp::RateLimitSettings settings{true, 0, 1, 0};
  // A tiny table: 4 entries, one set. Five clients, each spending its burst.
  ntp::RateLimiter tiny{4, 5};
  for (std::uint32_t c = 1; c <= 4; ++c) CHECK(tiny.check(settings, client(c), kStart + milliseconds{c}) == Verdict::answer);
  for (std::uint32_t c = 1; c <= 4; ++c) CHECK(tiny.check(settings, client(c), kStart + milliseconds{10}) != Verdict::answer);
  // The fifth evicts client 1 (oldest arrival time); the others are still limited.
  CHECK(tiny.check(settings, client(5), kStart + milliseconds{20}) == Verdict::answer);
  for (std::uint32_t c = 2; c <= 4; ++c) CHECK(tiny.check(settings, client(c), kStart + milliseconds{30}) != Verdict::answer);
  CHECK(tiny.check(settings, client(1), kStart + milliseconds{40}) == Verdict::answer);  // forgotten: fresh
}

TEST_CASE("rate limit: a clock stepped back does not lock clients out") {
  ntp::RateLimiter limiter{1024, 8};
  const ntp::RateLimitSettings settings{true, 3, 2, 0};  // 8 s, burst 2
  CHECK(limiter.check(settings, client(2), kStart) == Verdict::answer);
  CHECK(limiter.check(settings, client(2), kStart) == Verdict::answer);
  const leapdb::UtcTime back = kStart - hours{1};
  // At most one interval of limiting after a step back of an hour.
  CHECK(limiter.check(settings, client(2), back + seconds{8}) == Verdict::answer);
  // Stepped forward: a full burst again.
  const leapdb::UtcTime ahead = kStart + hours{24};
  CHECK(limiter.check(settings, client(2), ahead) == Verdict::answer);
  CHECK(limiter.check(settings, client(2), ahead) == Verdict::answer);
  CHECK(limiter.check(settings, client(2), ahead) != Verdict::answer);
}

TEST_CASE("rate limit: IPv6 clients and many clients are kept apart") {
  ntp::RateLimiter limiter{1u << 16, 21};
  const ntp::RateLimitSettings settings{true, 4, 1, 0};
  int first_answered = 0;
  for (std::uint32_t c = 0; c < 10000; ++c) first_answered += limiter.check(settings, client(c), kStart) == Verdict::answer;
  CHECK(first_answered == 10000);
  ntp::ClientAddress v6{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 123};
  CHECK(limiter.check(settings, v6, kStart) == Verdict::answer);
  CHECK(limiter.check(settings, v6, kStart) != Verdict::answer);
  v6.ip[15] = 2;
  CHECK(limiter.check(settings, v6, kStart) == Verdict::answer);
}

TEST_CASE("rate table: as NTS-KE uses it, a burst then one an interval, per address; new addresses flagged") {
  ntp::RateTable table{16, 4};
  const std::int64_t second = 1'000'000'000;
  const auto admit = [&](std::uint32_t c, std::int64_t at) { return table.admit(client(c).ip, at, second, 2); };
  const auto first = admit(1, 0);
  CHECK(first.admitted);
  CHECK(first.fresh);
  const auto second_one = admit(1, 0);
  CHECK(second_one.admitted);
  CHECK_FALSE(second_one.fresh);
  CHECK_FALSE(admit(1, 0).admitted);
  CHECK_FALSE(admit(1, second - 1).admitted);
  CHECK(admit(1, second).admitted);
  CHECK(admit(2, 0).admitted);  // another address has its own bucket
  CHECK(ntp::RateTable{0, 1}.admit(client(1).ip, 0, second, 0).admitted);  // a burst of 0 is taken as 1
}
