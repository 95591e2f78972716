#include "server/reference/upstream/resolution.hpp"

#include <doctest/doctest.h>

using namespace std::chrono;
using namespace reference::upstream;
using reference::SourceState;

namespace {

Address ip(const char* text) { return *parse_address(text, 123); }

AssociationHealth good() { return {false, SourceState::candidate, 0xff, 20, false, ""}; }

AssociationHealth with(SourceState state, std::uint8_t reach, unsigned requests, std::string why = "") {
  return {false, state, reach, requests, false, std::move(why)};
}

Slot slot(const char* address, AssociationHealth health) { return {ip(address), std::move(health)}; }
Slot vacant() { return {std::nullopt, AssociationHealth{}}; }

}  // namespace

TEST_CASE("resolution: what makes an association give way") {
  CHECK(replacement_reason(AssociationHealth{}) == "vacant");
  CHECK_FALSE(replacement_reason(good()));
  CHECK_FALSE(replacement_reason(with(SourceState::selected, 1, 100)));
  // A new address gets its chances first.
  CHECK_FALSE(replacement_reason(with(SourceState::unreachable, 0, kGraceRequests - 1)));
  CHECK_FALSE(replacement_reason(with(SourceState::refused, 0xff, kGraceRequests - 1, "it says it is unsynchronized")));
  CHECK(replacement_reason(with(SourceState::unreachable, 0, kGraceRequests)) ==
        "unreachable: no reply to its last 4 requests");
  CHECK(replacement_reason(with(SourceState::unreachable, 0, 50)) == "unreachable: no reply to its last 8 requests");
  CHECK(replacement_reason(with(SourceState::refused, 0xff, 10, "its refid 127.0.0.1 is one of our own addresses")) ==
        "refused: its refid 127.0.0.1 is one of our own addresses");
  CHECK(replacement_reason(with(SourceState::falseticker, 0xff, 10, "its offset 2000 ms is outside")) ==
        "a falseticker: its offset 2000 ms is outside");
  // A kiss-o'-death DENY stops the requests: there is nothing to wait for.
  AssociationHealth denied = with(SourceState::refused, 1, 1, "it answered kiss-o'-death DENY");
  denied.given_up = true;
  CHECK(replacement_reason(denied) == "refused for good: it answered kiss-o'-death DENY");

  const AssociationHealth answering[] = {good(), with(SourceState::selected, 1, 1)};
  CHECK(healthy(answering));
  const AssociationHealth new_one[] = {good(), with(SourceState::unreachable, 0, 1)};
  CHECK_FALSE(healthy(new_one));  // not bad yet, not answering yet
  CHECK_FALSE(wanting(new_one[1]));
  const AssociationHealth with_vacancy[] = {good(), AssociationHealth{}};
  CHECK_FALSE(healthy(with_vacancy));
  CHECK(wanting(with_vacancy[1]));
}

TEST_CASE("resolution: a pool fills its vacant slots with distinct unused addresses, in the resolver's order") {
  const Slot slots[] = {vacant(), vacant(), vacant()};
  const Address resolved[] = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.2"), ip("192.0.2.3"), ip("192.0.2.4")};
  const Address in_use[] = {ip("192.0.2.2")};  // by another entry
  const auto plan = plan_replacements(EntryKind::pool, slots, resolved, in_use, {});
  REQUIRE(plan.size() == 3);
  CHECK(plan[0].slot == 0);
  CHECK(plan[0].address == ip("192.0.2.1"));
  CHECK(plan[0].why == "vacant");
  CHECK(plan[1].address == ip("192.0.2.3"));
  CHECK(plan[2].address == ip("192.0.2.4"));

  // Fewer addresses than slots: the rest stay vacant.
  const Address two[] = {ip("192.0.2.1"), ip("192.0.2.2")};
  const auto partial = plan_replacements(EntryKind::pool, slots, two, {}, {});
  REQUIRE(partial.size() == 2);
  CHECK(partial[1].slot == 1);
}

TEST_CASE("resolution: a bad association is replaced by an address no one uses; good ones stay") {
  const Slot slots[] = {slot("192.0.2.1", good()), slot("192.0.2.2", with(SourceState::unreachable, 0, 8)),
                        slot("192.0.2.3", with(SourceState::falseticker, 0xff, 30, "off"))};
  const Address in_use[] = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")};
  // The name now answers with other addresses: the good member is kept all the same.
  const Address resolved[] = {ip("192.0.2.2"), ip("192.0.2.5"), ip("192.0.2.6"), ip("192.0.2.7")};
  const auto plan = plan_replacements(EntryKind::pool, slots, resolved, in_use, {});
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].slot == 1);
  CHECK(plan[0].address == ip("192.0.2.5"));
  CHECK(plan[0].why == "unreachable: no reply to its last 8 requests");
  CHECK(plan[1].slot == 2);
  CHECK(plan[1].address == ip("192.0.2.6"));
  CHECK(plan[1].why == "a falseticker: off");

  // Nothing unused: the bad ones stay until there is.
  const Address same[] = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")};
  CHECK(plan_replacements(EntryKind::pool, slots, same, in_use, {}).empty());
}

TEST_CASE("resolution: a server moves to the next address that works, and follows its name") {
  // The first address does not answer: the second is tried.
  const Slot dead[] = {slot("192.0.2.1", with(SourceState::unreachable, 0, 4))};
  const Address resolved[] = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")};
  const Address in_use[] = {ip("192.0.2.1")};
  auto plan = plan_replacements(EntryKind::server, dead, resolved, in_use, {});
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].address == ip("192.0.2.2"));

  // Addresses given up on are tried last, the oldest first: two dead addresses of three do not
  // make it alternate between them.
  const Slot second_dead[] = {slot("192.0.2.2", with(SourceState::unreachable, 0, 4))};
  const Address in_use2[] = {ip("192.0.2.2")};
  const Address abandoned[] = {ip("192.0.2.1")};
  plan = plan_replacements(EntryKind::server, second_dead, resolved, in_use2, abandoned);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].address == ip("192.0.2.3"));
  const Address both[] = {ip("192.0.2.3"), ip("192.0.2.1")};
  const Address in_use3[] = {ip("192.0.2.2")};
  const Address only_old[] = {ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3")};
  plan = plan_replacements(EntryKind::server, second_dead, only_old, in_use3, both);
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].address == ip("192.0.2.3"));  // given up on before 192.0.2.1

  // A good server whose name no longer has its address moves with the name; a pool member stays.
  const Slot fine[] = {slot("192.0.2.1", good())};
  const Address moved[] = {ip("192.0.2.9")};
  plan = plan_replacements(EntryKind::server, fine, moved, in_use, {});
  REQUIRE(plan.size() == 1);
  CHECK(plan[0].address == ip("192.0.2.9"));
  CHECK(plan[0].why == "its address is no longer among its name's");
  CHECK(plan_replacements(EntryKind::pool, fine, moved, in_use, {}).empty());
  CHECK(plan_replacements(EntryKind::server, fine, resolved, in_use, {}).empty());
}

TEST_CASE("resolution schedule: at once, then after 4 polls doubling while wanting, hourly otherwise") {
  ResolutionSchedule s(seconds{16});
  CHECK(s.due(seconds{0}, false));  // never resolved
  s.started(seconds{0}, true);
  CHECK(s.retry() == seconds{64});
  CHECK_FALSE(s.due(seconds{63}, true));
  CHECK(s.due(seconds{64}, true));
  s.started(seconds{64}, true);
  CHECK(s.retry() == seconds{128});
  CHECK_FALSE(s.due(seconds{64 + 127}, true));
  CHECK(s.due(seconds{64 + 128}, true));
  for (int i = 0; i < 10; ++i) s.started(seconds{1000 * i}, true);
  CHECK(s.retry() == hours{1});  // at most the hour
  // Healthy again: the next trouble is looked at after 4 polls, and all is refreshed hourly.
  s.healthy();
  CHECK(s.retry() == seconds{64});
  s.started(seconds{20'000}, false);
  CHECK_FALSE(s.due(seconds{20'000} + minutes{59}, false));
  CHECK(s.due(seconds{20'000} + minutes{60}, false));
  CHECK(s.due(seconds{20'000} + seconds{64}, true));

  // A small poll, not below 4 s; a large one, not above the hour.
  CHECK(ResolutionSchedule(seconds{1}).retry() == seconds{4});
  CHECK(ResolutionSchedule(seconds{1024}).retry() == hours{1});
}
