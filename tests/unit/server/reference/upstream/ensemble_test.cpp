#include "server/reference/upstream/ensemble.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/unit/server/reference/upstream/simulation.hpp"

using namespace std::chrono;
using namespace reference::upstream;
using reference::Notice;
using reference::SourceState;
using upstream_test::SimulatedServer;
using upstream_test::World;

namespace {

const leapdb::UtcTime kStart = leapdb::UtcTime{sys_days{year{2026} / June / 1}};

std::vector<ServerIdentity> names(std::size_t n) {
  std::vector<ServerIdentity> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string address = "192.0.2." + std::to_string(i + 1) + ":123";
    out.push_back({address, address, 0xC0000201 + static_cast<std::uint32_t>(i)});
  }
  return out;
}

Ensemble ensemble(std::size_t n, std::size_t minsources, std::optional<Drift> stored = std::nullopt,
                  leapdb::Nanoseconds poll = seconds{1}) {
  return Ensemble(names(n), EnsembleOptions{minsources, poll, -20}, stored, seconds{100});
}

std::vector<Notice> events(Ensemble& e, std::vector<Notice>& log, const std::string& name) {
  for (Notice& n : e.take_notices()) log.push_back(std::move(n));
  std::vector<Notice> out;
  std::ranges::copy_if(log, std::back_inserter(out), [&](const Notice& n) { return n.event == name; });
  return out;
}

std::string field(const Notice& n, const std::string& key) {
  for (const auto& [k, v] : n.fields) if (k == key) return v;
  return "";
}

SimulatedServer off(leapdb::Nanoseconds error, leapdb::Nanoseconds delay = microseconds{200}) {
  SimulatedServer s;
  s.error = error;
  s.delay = delay;
  return s;
}

// Ticks until locked; the number of ticks, or -1.
int lock(World& world, Ensemble& e, int limit = 60) {
  for (int i = 1; i <= limit; ++i) {
    world.tick(e);
    if (e.locked()) return i;
  }
  return -1;
}

}  // namespace

TEST_CASE("ensemble: three servers, one 2 s off: two agree, the third is a falseticker, the time is theirs") {
  // The raw oscillator 40 ppm fast against TAI, the system clock 3 ms ahead.
  World world(kStart, -40, milliseconds{3});
  world.servers = {off(microseconds{30}), off(microseconds{-30}, microseconds{400}), off(seconds{2})};
  world.servers[1].stratum = 2;
  Ensemble e = ensemble(3, 2);
  std::vector<Notice> log;

  const reference::Estimate before = world.tick(e);
  CHECK_FALSE(before.last_update);  // nothing to claim yet
  CHECK_FALSE(before.tracking);
  const int ticks = lock(world, e);
  CHECK(ticks >= 6);
  CHECK(ticks <= 9);
  reference::Estimate est;
  for (int i = 0; i < 60; ++i) est = world.tick(e);

  CHECK(est.tracking);
  REQUIRE(est.last_update);
  // The 1/λ mean of +30 us and -30 us, the first with the shorter path.
  CHECK(std::abs(world.served_error(est).count()) < 15'000);
  CHECK(std::abs(world.served_error(est).count()) > 1'000);
  CHECK(est.stratum == 1);  // the selected server's: replies say 2
  CHECK(est.reference_id == 0xC0000201);
  CHECK(est.root_delay > microseconds{250});
  CHECK(est.root_delay < microseconds{350});
  CHECK(est.dispersion > microseconds{100});
  CHECK(est.dispersion < microseconds{400});
  CHECK(est.leap == reference::LeapWarning::none);

  const auto rows = e.report();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].state == SourceState::selected);
  CHECK(rows[1].state == SourceState::candidate);
  CHECK(rows[2].state == SourceState::falseticker);
  CHECK(rows[2].why.find("outside what the majority agree on") != std::string::npos);
  CHECK(rows[0].reach == 0xfe);  // the request just sent has no reply yet
  CHECK(rows[1].stratum == 2);
  // Reports are on the system clock's axis: the servers are 3 ms behind it.
  REQUIRE(rows[0].offset);
  CHECK(std::abs((*rows[0].offset + milliseconds{3} - microseconds{30}).count()) < 2'000);
  CHECK(events(e, log, "falseticker").size() == 1);
  CHECK(field(events(e, log, "falseticker")[0], "server") == "192.0.2.3:123");
  CHECK(events(e, log, "upstream_locked").size() == 1);
  CHECK(e.clock().frequency().ppm == doctest::Approx(-40).epsilon(0.01));
}

TEST_CASE("ensemble: when every server stops, the claims stay those of the last update and reach runs out") {
  World world(kStart, 10, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0})};
  Ensemble e = ensemble(2, 1);
  std::vector<Notice> log;
  REQUIRE(lock(world, e) > 0);
  for (int i = 0; i < 20; ++i) world.tick(e);
  for (SimulatedServer& s : world.servers) s.answering = false;
  const reference::Estimate last = world.tick(e);  // the last replies
  REQUIRE(last.last_update);
  reference::Estimate coasting;
  for (int i = 0; i < 4; ++i) coasting = world.tick(e);
  CHECK_FALSE(coasting.tracking);
  CHECK(coasting.last_update == last.last_update);
  CHECK(coasting.stratum == last.stratum);
  CHECK(coasting.reference_id == last.reference_id);
  CHECK(coasting.dispersion == last.dispersion);
  // The clock coasts on its frequency.
  CHECK(std::abs(world.served_error(coasting).count()) < 1'000);
  for (int i = 0; i < 10; ++i) coasting = world.tick(e);
  CHECK(events(e, log, "source_unreachable").size() == 2);
  CHECK(e.report()[0].state == SourceState::unreachable);
  CHECK(e.report()[0].reach == 0);
  CHECK(coasting.stratum == last.stratum);

  // They return: a burst of requests, and the clock steers again.
  for (SimulatedServer& s : world.servers) s.answering = true;
  for (int i = 0; i < 3; ++i) coasting = world.tick(e);
  CHECK(coasting.tracking);
  CHECK(events(e, log, "source_reachable").size() == 4);
}

TEST_CASE("ensemble: a server that smears against the others is refused, loudly") {
  World world(kStart, 0, microseconds{0});
  // A rehearsal: one second over a minute, starting once the clock is locked.
  world.servers = {off(microseconds{0}), off(microseconds{20}), off(microseconds{-20})};
  Ensemble e = ensemble(3, 2);
  std::vector<Notice> log;
  REQUIRE(lock(world, e) > 0);
  for (int i = 0; i < 5; ++i) world.tick(e);
  world.servers[2].drift_ppm = 16'667;
  reference::Estimate est;
  for (int i = 0; i < 20; ++i) est = world.tick(e);
  const auto refused = events(e, log, "source_refused");
  REQUIRE(refused.size() == 1);
  CHECK(field(refused[0], "server") == "192.0.2.3:123");
  CHECK(field(refused[0], "why").find("ppm against the other servers: it smears") != std::string::npos);
  CHECK(field(refused[0], "for_s") == "3600");
  CHECK(e.report()[2].state == SourceState::refused);
  // It never moved the served time.
  CHECK(std::abs(world.served_error(est).count()) < 20'000);
  CHECK(est.tracking);
}

TEST_CASE("ensemble: a server with no leap warning just before a leap in the table is refused") {
  const leapdb::UtcTime leap = leapdb::UtcTime{sys_days{year{2017} / January / 1}};
  World world(leap - hours{6}, 0, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0})};
  world.servers[0].leap = ntp::LeapIndicator::insert;
  Ensemble e = ensemble(2, 1);
  std::vector<Notice> log;
  REQUIRE(lock(world, e) > 0);
  for (int i = 0; i < 5; ++i) world.tick(e);
  const auto refused = events(e, log, "source_refused");
  REQUIRE(refused.size() == 1);
  CHECK(field(refused[0], "server") == "192.0.2.2:123");
  CHECK(field(refused[0], "why").find("it smears or ignores the leap") != std::string::npos);
  CHECK(e.report()[0].state == SourceState::selected);
  CHECK(e.report()[1].state == SourceState::refused);
}

TEST_CASE("ensemble: refids that say smeared, and kiss-o'-death") {
  World world(kStart, 0, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0}), off(microseconds{0})};
  world.servers[0].stratum = 2;
  world.servers[0].reference_id = 0x7F7F01FF;
  world.servers[1].kiss = 0x44454E59;  // DENY
  world.servers[2].kiss = 0x52415445;  // RATE
  Ensemble e = ensemble(3, 1, std::nullopt, seconds{16});
  std::vector<Notice> log;
  for (int i = 0; i < 40; ++i) world.tick(e);
  CHECK_FALSE(e.locked());
  const auto refused = events(e, log, "source_refused");
  REQUIRE(refused.size() == 2);
  CHECK(field(refused[0], "why") == "its refid 127.127.1.255 (chrony's time smoothing) says it serves smeared time, not true UTC");
  CHECK(field(refused[1], "why") == "it answered kiss-o'-death DENY: no more requests");
  CHECK(field(refused[1], "for_s") == "ever");
  // No more requests to the one that denied: its reach has run out, and no burst again.
  CHECK(e.report()[1].reach == 0);
  const std::vector<std::size_t> due = e.due(world.raw() + hours{1});
  CHECK(std::ranges::find(due, 1u) == due.end());
  // RATE: the poll doubled and the burst stopped.
  CHECK(events(e, log, "source_rate_limited").size() >= 1);
  CHECK(e.report()[2].poll >= seconds{32});
}

TEST_CASE("ensemble: a stored drift locks at the first update, a cold start needs seconds of samples") {
  World cold_world(kStart, 25, microseconds{0});
  cold_world.servers = {off(microseconds{0})};
  Ensemble cold = ensemble(1, 1);
  const int cold_ticks = lock(cold_world, cold);
  REQUIRE(cold_ticks > 0);
  const std::optional<Drift> learned = cold.known_drift();
  REQUIRE(learned);
  CHECK(learned->ppm == doctest::Approx(25).epsilon(0.01));
  CHECK(cold.drift_to_save(cold_world.raw()));
  CHECK_FALSE(cold.drift_to_save(cold_world.raw() + minutes{59}));
  CHECK(cold.drift_to_save(cold_world.raw() + minutes{61}));

  World warm_world(kStart, 25, microseconds{0});
  warm_world.servers = {off(microseconds{0})};
  Ensemble warm = ensemble(1, 1, learned);
  const int warm_ticks = lock(warm_world, warm);
  CHECK(warm_ticks == 2);  // a request at the first tick, its reply at the second
  CHECK(cold_ticks >= 7);
  reference::Estimate est;
  for (int i = 0; i < 5; ++i) est = warm_world.tick(warm);
  CHECK(std::abs(warm_world.served_error(est).count()) < 5'000);
}

TEST_CASE("ensemble: minsources unmet is not synchronized, and says why") {
  World world(kStart, 0, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0})};
  world.servers[1].answering = false;
  Ensemble e = ensemble(2, 2);
  std::vector<Notice> log;
  for (int i = 0; i < 20; ++i) world.tick(e);
  CHECK_FALSE(e.locked());
  const auto failed = events(e, log, "selection_failed");
  REQUIRE(failed.size() == 1);
  CHECK(field(failed[0], "detail") == "1 usable server(s), minsources is 2");
  CHECK(e.report()[0].state == SourceState::candidate);
  CHECK(e.report()[1].state == SourceState::unreachable);
}

TEST_CASE("ensemble: a vacant slot is never asked, is reported as such, and takes an address as a new association") {
  World world(kStart, 0, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0}), off(microseconds{0})};
  std::vector<ServerIdentity> slots = names(3);
  slots[1] = {"pool.example.net", "", 0};
  slots[2] = {"pool.example.net", "", 0};
  Ensemble e(slots, EnsembleOptions{1, seconds{1}, -20}, std::nullopt, seconds{100});
  std::vector<Notice> log;
  CHECK(e.due(seconds{100}) == std::vector<std::size_t>{0});
  REQUIRE(lock(world, e) > 0);
  e.explain_vacancy(2, "no address of its name is free");
  auto rows = e.report();
  CHECK(rows[0].address == "192.0.2.1:123");
  CHECK(rows[1].name == "pool.example.net");
  CHECK(rows[1].address.empty());
  CHECK(rows[1].state == SourceState::unreachable);
  CHECK(rows[1].why == "no address yet");
  CHECK(rows[2].why == "no address of its name is free");
  CHECK(e.health(1).vacant);
  CHECK(replacement_reason(e.health(1)) == "vacant");

  e.assign(1, {"pool.example.net", "192.0.2.2:123", 0xC0000202}, "vacant");
  CHECK(field(events(e, log, "source_address").at(0), "address") == "192.0.2.2:123");
  for (int i = 0; i < 12; ++i) world.tick(e);
  rows = e.report();
  CHECK(rows[1].address == "192.0.2.2:123");
  CHECK(rows[1].reach != 0);
  CHECK((rows[1].state == SourceState::candidate || rows[1].state == SourceState::selected));
  CHECK(e.health(1).requests >= 8);
  CHECK(e.health(2).vacant);
}

TEST_CASE("ensemble: a replaced association starts afresh, the old address named in the log") {
  World world(kStart, 0, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0})};
  Ensemble e = ensemble(2, 1);
  std::vector<Notice> log;
  REQUIRE(lock(world, e) > 0);
  world.servers[1].answering = false;
  for (int i = 0; i < 12; ++i) world.tick(e);
  const AssociationHealth dead = e.health(1);
  CHECK(dead.reach == 0);
  CHECK(dead.state == SourceState::unreachable);
  REQUIRE(replacement_reason(dead));
  CHECK(*replacement_reason(dead) == "unreachable: no reply to its last 8 requests");

  e.unauthentic(1);
  CHECK(e.report()[1].unauthentic == 1);
  e.assign(1, {"192.0.2.2:123", "192.0.2.9:123", 0xC0000209}, *replacement_reason(dead));
  const auto replaced = events(e, log, "source_replaced");
  REQUIRE(replaced.size() == 1);
  CHECK(field(replaced[0], "old_address") == "192.0.2.2:123");
  CHECK(field(replaced[0], "address") == "192.0.2.9:123");
  CHECK(field(replaced[0], "why") == "unreachable: no reply to its last 8 requests");
  const AssociationHealth fresh = e.health(1);
  CHECK(fresh.requests == 0);
  CHECK(fresh.reach == 0);
  CHECK_FALSE(replacement_reason(fresh));  // its chances first
  CHECK(e.report()[1].unauthentic == 0);
  CHECK(e.identity(1).reference_id == 0xC0000209);
  // Due at once, in a burst.
  const std::vector<std::size_t> due = e.due(world.raw());
  CHECK(std::ranges::find(due, 1u) != due.end());
  world.servers[1].answering = true;
  for (int i = 0; i < 3; ++i) world.tick(e);
  CHECK(e.report()[1].reach != 0);
}

TEST_CASE("ensemble: a server that moved (NTS-KE named another address) keeps its samples, named anew") {
  World world(kStart, 0, microseconds{0});
  world.servers = {off(microseconds{0})};
  Ensemble e = ensemble(1, 1);
  std::vector<Notice> log;
  REQUIRE(lock(world, e) > 0);
  const reference::SourceReport before = e.report()[0];
  e.moved(0, "192.0.2.77:123", 0xC000024D);
  const auto moved = events(e, log, "source_moved");
  REQUIRE(moved.size() == 1);
  CHECK(field(moved[0], "address") == "192.0.2.77:123");
  const reference::SourceReport after = e.report()[0];
  CHECK(after.address == "192.0.2.77:123");
  CHECK(after.reach == before.reach);
  CHECK(after.state == before.state);
  CHECK(e.identity(0).reference_id == 0xC000024D);
  CHECK(world.tick(e).reference_id == 0xC000024D);  // what replies name it by
}

TEST_CASE("ensemble: a server whose refid is one of our own addresses is refused as a loop, and recovers") {
  World world(kStart, 0, microseconds{0});
  world.servers = {off(microseconds{0}), off(microseconds{0})};
  world.servers[1].stratum = 3;
  world.servers[1].reference_id = 0x0A000005;  // 10.0.0.5: ours
  Ensemble e = ensemble(2, 1);
  e.set_own_reference_ids({0x7F000001, 0x0A000005});
  std::vector<Notice> log;
  REQUIRE(lock(world, e) > 0);
  for (int i = 0; i < 5; ++i) world.tick(e);
  const auto refused = events(e, log, "source_refused");
  REQUIRE(refused.size() == 1);  // logged once
  CHECK(field(refused[0], "server") == "192.0.2.2:123");
  CHECK(field(refused[0], "why") ==
        "its refid 10.0.0.5 is one of our own addresses: it takes its time from us (a timing loop)");
  CHECK(e.report()[1].state == SourceState::refused);
  CHECK(e.report()[0].state == SourceState::selected);
  CHECK(replacement_reason(e.health(1))->starts_with("refused: its refid 10.0.0.5"));
  // It finds another reference: usable again.
  world.servers[1].reference_id = 0xC0000263;
  for (int i = 0; i < 5; ++i) world.tick(e);
  CHECK(e.report()[1].state == SourceState::candidate);
}
