#include "server/reference/upstream/resolution.hpp"

#include <algorithm>

namespace reference::upstream {

namespace {

bool contains(std::span<const Address> list, const Address& address) {
  return std::ranges::find(list, address) != list.end();
}

}  // namespace

std::optional<std::string> replacement_reason(const AssociationHealth& health) {
  if (health.vacant) return "vacant";
  if (health.given_up) return "refused for good: " + health.why;
  if (health.requests < kGraceRequests) return std::nullopt;
  switch (health.state) {
    case SourceState::refused:
      return "refused: " + health.why;
    case SourceState::falseticker:
      return "a falseticker: " + health.why;
    case SourceState::selected:
    case SourceState::candidate:
    case SourceState::unreachable:
      break;
  }
  if (health.reach == 0) {
    return "unreachable: no reply to its last " + std::to_string(std::min(health.requests, 8u)) + " requests";
  }
  return std::nullopt;
}

bool wanting(const AssociationHealth& health) { return replacement_reason(health).has_value(); }

bool healthy(std::span<const AssociationHealth> slots) {
  return std::ranges::all_of(slots, [](const AssociationHealth& h) { return h.reach != 0 && !wanting(h); });
}

std::vector<Replacement> plan_replacements(EntryKind kind, std::span<const Slot> slots,
                                           std::span<const Address> resolved, std::span<const Address> in_use,
                                           std::span<const Address> abandoned) {
  // Addresses no association has, not given up on first (in the resolver's order), then those
  // given up on longest ago.
  std::vector<Address> candidates;
  for (const Address& a : resolved) {
    if (!contains(in_use, a) && !contains(abandoned, a) && !contains(candidates, a)) candidates.push_back(a);
  }
  for (const Address& a : abandoned) {
    if (contains(resolved, a) && !contains(in_use, a) && !contains(candidates, a)) candidates.push_back(a);
  }

  std::vector<Replacement> out;
  const auto want = [&](std::size_t slot, std::string why) {
    if (out.size() < candidates.size()) out.push_back({slot, candidates[out.size()], std::move(why)});
  };
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].health.vacant || !slots[i].address) want(i, "vacant");
  }
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].health.vacant || !slots[i].address) continue;
    if (const std::optional<std::string> why = replacement_reason(slots[i].health)) want(i, *why);
  }
  if (kind == EntryKind::server && !resolved.empty()) {
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const Slot& s = slots[i];
      if (s.health.vacant || !s.address || replacement_reason(s.health) || contains(resolved, *s.address)) continue;
      want(i, "its address is no longer among its name's");
    }
  }
  return out;
}

ResolutionSchedule::ResolutionSchedule(leapdb::Nanoseconds poll)
    : first_retry_(std::clamp(poll * kRetryPolls, kMinRetry, kRefresh)),
      retry_(first_retry_),
      next_retry_(first_retry_) {}

bool ResolutionSchedule::due(leapdb::Nanoseconds now, bool want) const {
  if (!last_start_) return true;
  return now - *last_start_ >= (want ? retry_ : kRefresh);
}

void ResolutionSchedule::started(leapdb::Nanoseconds now, bool want) {
  last_start_ = now;
  if (!want) return;
  retry_ = next_retry_;
  next_retry_ = std::min(next_retry_ * 2, kRefresh);
}

void ResolutionSchedule::healthy() { retry_ = next_retry_ = first_retry_; }

}  // namespace reference::upstream
