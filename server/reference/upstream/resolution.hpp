#pragma once
// Pure. Upstream names resolved again and again: which associations give way, to which of the
// addresses a name has now, and when to ask the resolver next. As in chrony, a `server` is one
// association using the first of its name's addresses that works, a `pool` up to max_sources
// associations with distinct addresses; an association that is vacant, refused, unreachable or a
// falseticker is replaced by an address of its name that no association uses.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "leapdb/time.hpp"
#include "server/reference/source.hpp"
#include "server/reference/upstream/address.hpp"

namespace reference::upstream {

enum class EntryKind : std::uint8_t { server, pool };

// One association as the resolution sees it, from the Ensemble (Ensemble::health).
struct AssociationHealth {
  bool vacant = true;  // no address yet
  SourceState state = SourceState::unreachable;
  std::uint8_t reach = 0;
  unsigned requests = 0;  // sent to this address since it was assigned
  bool given_up = false;  // refused for good (kiss-o'-death DENY or RSTR): never asked again
  std::string why;        // the state's reason, as reported
};

// Requests an address gets before its silence or its refusal counts against it: a burst's worth
// of chances, so a server still starting (unsynchronized for its first seconds) is not dropped.
inline constexpr unsigned kGraceRequests = 4;

// Why the association should give way to another address; none while it may stay.
std::optional<std::string> replacement_reason(const AssociationHealth& health);

// A vacant or bad association: its name needs resolving soon.
bool wanting(const AssociationHealth& health);
// Every association answers and none is bad: the name's retries start afresh.
bool healthy(std::span<const AssociationHealth> slots);

struct Slot {
  std::optional<Address> address;
  AssociationHealth health;
};

struct Replacement {
  std::size_t slot = 0;  // the entry's own index
  Address address;
  std::string why;  // why the slot changes: vacant, or why the old address gave way
};

// One entry's slots given its name's addresses from a fresh resolution (in the resolver's order).
// `in_use`: every address any association of the source has, this entry's included, so no two
// associations share one. `abandoned`: addresses this entry gave up on, oldest first; they are
// taken only when nothing else is left, the one given up longest ago first.
//
// Vacant slots are filled first, then bad associations replaced; a server's association whose
// address is no longer among its name's moves too (the name was moved). A pool's good members
// stay wherever the name points now: a pool's DNS answers with a few of many addresses.
std::vector<Replacement> plan_replacements(EntryKind kind, std::span<const Slot> slots,
                                           std::span<const Address> resolved, std::span<const Address> in_use,
                                           std::span<const Address> abandoned);

// When to resolve one entry's name again: every hour (kRefresh), and while it wants an address
// (a slot vacant or bad) after 4 polls, doubling each time up to the hour, until its
// associations are healthy again. chrony retries unresolved names from 28 s doubling to about
// an hour, and replaces bad sources at most every 30 minutes; scaled to the poll instead, a
// small poll finds a replacement in seconds and a long one does not ask DNS more often than
// it asks the servers.
class ResolutionSchedule {
 public:
  static constexpr leapdb::Nanoseconds kRefresh = std::chrono::hours{1};
  static constexpr unsigned kRetryPolls = 4;
  static constexpr leapdb::Nanoseconds kMinRetry = std::chrono::seconds{4};

  explicit ResolutionSchedule(leapdb::Nanoseconds poll);

  bool due(leapdb::Nanoseconds now, bool want) const;
  void started(leapdb::Nanoseconds now, bool want);
  void healthy();  // the entry's associations all answer: back to the first retry interval
  leapdb::Nanoseconds retry() const { return retry_; }

 private:
  leapdb::Nanoseconds first_retry_;
  leapdb::Nanoseconds retry_;       // after the last start, while wanting
  leapdb::Nanoseconds next_retry_;  // after the next start
  std::optional<leapdb::Nanoseconds> last_start_;
};

}  // namespace reference::upstream
