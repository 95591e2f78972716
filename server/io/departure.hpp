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
  // How many replies one call may send so that none is predicted further than `horizon_ns` past
  // the first: the further ahead, the more a varying or descheduled call is missed by (1 to 16;
  // on a quiet machine a reply takes a microsecond to send, on a busy one several).
  unsigned replies_per_call(std::int64_t horizon_ns) const {
    if (spacing_ns_ <= 0) return kMostPerCall;
    return static_cast<unsigned>(std::clamp<std::int64_t>(horizon_ns / spacing_ns_ + 1, 1, kMostPerCall));
  }

  // Observations. Each moves its estimate a 32nd of itself (at least 4 ns) towards the sample,
  // however far the sample is: the estimate tracks the median, which a call descheduled for a
  // whole time slice does not move, where a mean would (on a busy machine the mean of the entry
  // into sendmmsg() came out 5 to 10 % above its median). Absurd ones are ignored.
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
  static constexpr unsigned kMostPerCall = 16;
  static void learn(std::int64_t& estimate, std::int64_t sample) {
    if (sample < 0 || sample > kAbsurdNs) return;
    const std::int64_t step = std::max<std::int64_t>(estimate / 32, 4);
    if (sample > estimate) estimate += std::min(step, sample - estimate);
    if (sample < estimate) estimate -= std::min(step, estimate - sample);
  }

  std::array<std::int64_t, kSeals> seal_ns_{};
  std::int64_t entry_ns_ = 0;
  std::int64_t spacing_ns_ = 0;
  bool kernel_spacing_ = false;
};

}  // namespace io
