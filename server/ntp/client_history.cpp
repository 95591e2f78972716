#include "server/ntp/client_history.hpp"

#include <algorithm>
#include <cstring>

namespace ntp {
namespace {

constexpr std::uint64_t kEmpty = 0;

std::uint32_t seconds_of(leapdb::TaiTime t) {
  // Wraps after 136 years; ages are taken modulo 2^32 as well.
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.time_since_epoch().count() / 1'000'000'000));
}

// slot = tag (20 bits, never 0) | generation (4 bits) | timescale (8 bits) | seconds (32 bits)
constexpr int kTagShift = 40;
constexpr std::uint64_t kGenerationMask = ClientHistory::kGenerations - 1;

std::uint64_t pack(std::uint32_t tag_and_generation, std::uint8_t timescale, std::uint32_t seconds) {
  return (std::uint64_t{tag_and_generation} << kTagShift) | (std::uint64_t{timescale} << 32) | seconds;
}

}  // namespace

ClientHistory::ClientHistory(std::size_t slots, std::uint64_t seed)
    : slots_(std::make_unique<std::atomic<std::uint64_t>[]>(slots)), slot_count_(slots), hash_(seed) {}

ClientHistory::Place ClientHistory::place(const ClientAddress& client, std::uint8_t generation) const {
  const std::uint64_t h = hash_(client.ip);
  const auto tag = static_cast<std::uint32_t>(h >> 44);
  // A zero tag is made 1, so an occupied slot is never mistaken for an empty one.
  // The low 32 bits scaled to the table (any size, no division); the tag is the top 20.
  return Place{&slots_[((h & 0xFFFF'FFFFu) * slot_count_) >> 32],
               ((tag == 0 ? 1u : tag) << 4) | static_cast<std::uint32_t>(generation & kGenerationMask)};
}

ClientHistory::Seen ClientHistory::last(Place place, leapdb::TaiTime now) const {
  const std::uint64_t value = place.slot->load(std::memory_order_relaxed);
  if (value == kEmpty || (value >> kTagShift) != place.tag_and_generation) return {};
  // Signed: a clock stepped back, or two workers recording out of order, gives a small
  // negative difference, which is "just now", not 136 years.
  const auto age = static_cast<std::int32_t>(seconds_of(now) - static_cast<std::uint32_t>(value));
  return Seen{true, static_cast<std::uint8_t>(value >> 32), std::chrono::seconds{std::max(age, 0)}};
}

void ClientHistory::clear() {
  for (std::uint64_t i = 0; i < slot_count_; ++i) slots_[i].store(kEmpty, std::memory_order_relaxed);
}

std::size_t ClientHistory::purge(std::uint8_t generation) {
  std::size_t purged = 0;
  for (std::uint64_t i = 0; i < slot_count_; ++i) {
    std::uint64_t value = slots_[i].load(std::memory_order_relaxed);
    if (value == kEmpty || ((value >> kTagShift) & kGenerationMask) == (generation & kGenerationMask)) continue;
    // A worker may have just recorded a current entry here: keep it.
    if (slots_[i].compare_exchange_strong(value, kEmpty, std::memory_order_relaxed)) ++purged;
  }
  return purged;
}

void ClientHistory::record(Place place, std::uint8_t timescale, leapdb::TaiTime now) {
  const std::uint64_t value = pack(place.tag_and_generation, timescale, seconds_of(now));
  if (place.slot->load(std::memory_order_relaxed) != value) place.slot->store(value, std::memory_order_relaxed);
}

}  // namespace ntp
