// What each decision counts (and nothing more), where a processing time falls in the
// histogram, and the sum of workers' counters.
#include "server/counting/counters.hpp"

#include <doctest/doctest.h>

#include <memory>

using counting::Totals;
using counting::WorkerCounters;
using ntp::Decision;
using namespace std::chrono_literals;

namespace {

Totals counted(const Decision& decision) {
  const auto counters = std::make_unique<WorkerCounters>();
  counting::count(decision, *counters);
  Totals totals;
  totals += *counters;
  return totals;
}

Decision decision_of(Decision::Outcome outcome) {
  Decision decision;
  decision.outcome = outcome;
  return decision;
}

std::size_t index(ntp::DropReason reason) { return static_cast<std::size_t>(reason); }
std::size_t index(ntp::AuthResult result) { return static_cast<std::size_t>(result); }

}  // namespace

TEST_CASE("count: a drop counts under its reason") {
  Totals expected;
  expected.drops[index(ntp::DropReason::bad_nts)] = 1;
  CHECK(counted(decision_of(ntp::Drop{ntp::DropReason::bad_nts})) == expected);
}

TEST_CASE("count: plain and MAC-signed time count nothing of their own; NTS time counts as nts_ok") {
  CHECK(counted(decision_of(ntp::TimeReply{})) == Totals{});
  CHECK(counted(decision_of(ntp::TimeReply{68, ntp::MacKey{0, 16}, std::nullopt, false, std::nullopt})) == Totals{});
  Totals expected;
  expected.nts_ok = 1;
  CHECK(counted(decision_of(ntp::TimeReply{200, ntp::MacKey{}, nts::ReplySeal{}, false, std::nullopt})) ==
        expected);
}

TEST_CASE("count: an interleaved reply counts as one; a basic reply saving interleaved state does not") {
  CHECK(counted(decision_of(ntp::TimeReply{48, ntp::MacKey{}, std::nullopt, true, std::nullopt})) == Totals{});
  Totals expected;
  expected.interleaved_replies = 1;
  CHECK(counted(decision_of(ntp::TimeReply{48, ntp::MacKey{}, std::nullopt, true, ntp::Timestamp{1, 2}})) ==
        expected);
}

TEST_CASE("count: each kiss-o'-death under its code, and the NTS NAK") {
  Totals deny, rate, crypto_nak, nts_nak;
  deny.kod_deny = 1;
  rate.kod_rate = 1;
  crypto_nak.crypto_nak = 1;
  nts_nak.nts_nak = 1;
  CHECK(counted(decision_of(ntp::KissOfDeath{ntp::Kiss::deny})) == deny);
  CHECK(counted(decision_of(ntp::KissOfDeath{ntp::Kiss::rate})) == rate);
  CHECK(counted(decision_of(ntp::KissOfDeath{ntp::Kiss::crypto_nak, 52})) == crypto_nak);
  CHECK(counted(decision_of(ntp::NtsNak{84})) == nts_nak);
}

TEST_CASE("count: what was learned about the client counts whatever the outcome") {
  for (const Decision::Outcome& outcome :
       {Decision::Outcome{ntp::Drop{ntp::DropReason::wrong_timescale}}, Decision::Outcome{ntp::TimeReply{}},
        Decision::Outcome{ntp::KissOfDeath{ntp::Kiss::crypto_nak}}}) {
    Decision decision = decision_of(outcome);
    decision.rate = ntp::RateLimiter::Verdict::leak;
    decision.auth = ntp::AuthResult::bad_mac;
    decision.pin_violation = true;
    decision.sticky_violation = true;
    decision.mixed = true;
    const Totals t = counted(decision);
    CHECK(t.ratelimit_leaked == 1);
    CHECK(t.auth[index(ntp::AuthResult::bad_mac)] == 1);
    CHECK(t.pin_violations == 1);
    CHECK(t.sticky_violations == 1);
    CHECK(t.mixed_clients == 1);
  }
  // The limiter's other verdicts are counted by their outcomes (a KoD RATE, a drop), "none"
  // (no MAC) is not an authentication result.
  Decision quiet = decision_of(ntp::TimeReply{});
  quiet.rate = ntp::RateLimiter::Verdict::answer;
  quiet.auth = ntp::AuthResult::none;
  CHECK(counted(quiet) == Totals{});
}

TEST_CASE("count_sent: the reply's version, and its processing time in the first bucket whose bound holds it") {
  const auto counters = std::make_unique<WorkerCounters>();
  counting::count_sent(4, 1'000ns, *counters);  // on the first bound: the first bucket
  counting::count_sent(4, 1'001ns, *counters);  // just above it: the second
  counting::count_sent(3, -5ns, *counters);     // a clock step: counted as 0
  counting::count_sent(4, 20ms, *counters);     // above the last bound: the overflow bucket
  Totals t;
  t += *counters;
  CHECK(t.replies_by_version[4] == 3);
  CHECK(t.replies_by_version[3] == 1);
  CHECK(t.processing_buckets[0] == 2);
  CHECK(t.processing_buckets[1] == 1);
  CHECK(t.processing_buckets.back() == 1);
  CHECK(t.processing_sum_ns == 1'000 + 1'001 + 20'000'000);
  CHECK(t.replies == 0);  // the worker counts a batch's sent replies at once
}

TEST_CASE("totals: workers' counters add up, field by field") {
  const auto a = std::make_unique<WorkerCounters>();
  const auto b = std::make_unique<WorkerCounters>();
  counting::bump(a->requests, 5);
  counting::bump(b->requests, 7);
  counting::bump(a->receive_errors);
  counting::count(ntp::DropReason::too_long, *a);
  counting::count(ntp::DropReason::too_long, *b);
  counting::count(decision_of(ntp::KissOfDeath{ntp::Kiss::rate}), *b);
  Totals t;
  t += *a;
  t += *b;
  CHECK(t.requests == 12);
  CHECK(t.receive_errors == 1);
  CHECK(t.dropped(ntp::DropReason::too_long) == 2);
  CHECK(t.kod_rate == 1);
}
