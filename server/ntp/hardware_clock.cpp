#include "server/ntp/hardware_clock.hpp"

#include <limits>

namespace ntp {

std::optional<leapdb::UtcTime> PhcMapping::to_system(leapdb::Nanoseconds phc) const {
  // In 128 bits: a stamp is whatever the NIC says, and may be anywhere in 64.
  const leapdb::Int128 elapsed = leapdb::Int128{phc.count()} - phc_at.count();
  if (reach <= leapdb::Nanoseconds{0} || elapsed > reach.count() || elapsed < -reach.count()) return std::nullopt;
  const leapdb::Int128 system = line_at(phc);
  if (system < leapdb::kEarliestTime.time_since_epoch().count() ||
      system > leapdb::kLatestTime.time_since_epoch().count()) {
    return std::nullopt;
  }
  return leapdb::UtcTime{leapdb::Nanoseconds{static_cast<std::int64_t>(system)}};
}

leapdb::Int128 PhcMapping::line_at(leapdb::Nanoseconds phc) const {
  const leapdb::Int128 elapsed = leapdb::Int128{phc.count()} - phc_at.count();
  const leapdb::Nanoseconds since{static_cast<std::int64_t>(elapsed)};
  return leapdb::Int128{system_at.time_since_epoch().count()} + elapsed + rate.over(since).count();
}

std::optional<leapdb::Nanoseconds> phc_nanoseconds(const timespec& stamp) {
  constexpr std::int64_t kBillion = 1'000'000'000;
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / kBillion - 1;
  if (stamp.tv_nsec < 0 || stamp.tv_nsec >= kBillion) return std::nullopt;
  if (stamp.tv_sec == 0 && stamp.tv_nsec == 0) return std::nullopt;
  if (stamp.tv_sec > kMaxSeconds || stamp.tv_sec < -kMaxSeconds) return std::nullopt;
  return leapdb::Nanoseconds{std::int64_t{stamp.tv_sec} * kBillion + stamp.tv_nsec};
}

bool HardwareClocks::add(unsigned ifindex, const PhcMapping& mapping) {
  if (ifindex == 0 || size_ == kCapacity || find(ifindex) != nullptr) return false;
  entries_[size_++] = Entry{ifindex, mapping};
  return true;
}

const PhcMapping* HardwareClocks::find(unsigned ifindex) const {
  for (std::size_t i = 0; i < size_; ++i) {
    if (entries_[i].ifindex == ifindex) return &entries_[i].mapping;
  }
  return nullptr;
}

std::optional<leapdb::UtcTime> HardwareClocks::to_system(const timespec& stamp, unsigned ifindex) const {
  const PhcMapping* mapping = find(ifindex);
  if (mapping == nullptr) return std::nullopt;
  const std::optional<leapdb::Nanoseconds> phc = phc_nanoseconds(stamp);
  if (!phc) return std::nullopt;
  return mapping->to_system(*phc);
}

}  // namespace ntp
