#pragma once
// When a reply will leave, predicted so that its transmit timestamp says so. A worker stamps the
// replies of one sendmmsg() call in order, each just before it is signed; then the call sends
// them one after another. So the k-th reply leaves after the signing still to do (its own and
// the later ones'), the kernel's entry into the call, and k replies ahead of it. Each of these
// is learned from what recent calls took: signing from the readings taken between replies, the
// rest from the kernel's own transmit timestamps of the first and last reply of a call (or,
// without them, from how long the call took). Pure: readings in, nanoseconds out.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace io {

class Departure {
 public:
  // How a reply is signed, which is most of what stamping it costs.
  enum class Seal : std::uint8_t { none, mac, nts };
  static constexpr std::size_t kSeals = 3;

  // From the reading taken before stamping a reply, to the moment it leaves: `seals_from_here`
  // is the sum of seal_cost() over this reply and the ones after it in the call, `position` the
  // number of replies sent ahead of it in the call.
  std::int64_t lead_ns(std::int64_t seals_from_here, unsigned position) const {
    return seals_from_here + entry_ns_ + static_cast<std::int64_t>(position) * spacing_ns_;
  }
  std::int64_t seal_cost(Seal seal) const { return seal_ns_[static_cast<std::size_t>(seal)]; }

  // Observations. Each moves its estimate an eighth of the way, and by no more than the estimate
  // itself (or 500 ns): a descheduled call, late by a whole time slice, barely moves it, while a
  // real change is followed within a few dozen calls. Absurd ones are ignored.
  void stamped(Seal seal, std::int64_t ns) { learn(seal_ns_[static_cast<std::size_t>(seal)], ns); }
  // The kernel's transmit timestamp of the first reply of a call, after the reading before it.
  void first_left(std::int64_t ns_after_call) { learn(entry_ns_, ns_after_call); }
  // The kernel's transmit timestamps of the first and last of `count` replies of one call.
  void spread(std::int64_t first_to_last_ns, unsigned count) {
    if (count > 1) learn(spacing_ns_, first_to_last_ns / (count - 1));
    kernel_spacing_ = true;
  }
  // How long a call of `count` replies took, for when the kernel gives no transmit timestamps.
  void call_took(std::int64_t ns, unsigned count) {
    if (!kernel_spacing_ && count > 0) learn(spacing_ns_, ns / count);
  }

 private:
  static constexpr std::int64_t kAbsurdNs = 1'000'000;
  static void learn(std::int64_t& estimate, std::int64_t sample) {
    if (sample < 0 || sample > kAbsurdNs) return;
    const std::int64_t limit = std::max<std::int64_t>(estimate, 500);
    estimate += std::clamp(sample - estimate, -limit, limit) / 8;
  }

  std::array<std::int64_t, kSeals> seal_ns_{};
  std::int64_t entry_ns_ = 0;
  std::int64_t spacing_ns_ = 0;
  bool kernel_spacing_ = false;
};

}  // namespace io
