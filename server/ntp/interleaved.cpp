#include "server/ntp/interleaved.hpp"

#include <algorithm>
#include <bit>

namespace ntp {
namespace {

std::uint64_t key_of(Timestamp t) { return (std::uint64_t{t.seconds} << 32) | t.fraction; }

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

}  // namespace

bool asks_interleaved(std::uint8_t version, Timestamp origin, Timestamp receive, Timestamp transmit) {
  return version == 4 && (origin.fraction & 1u) != 0 && receive != transmit;
}

InterleavedTable::InterleavedTable(std::size_t capacity, std::uint64_t seed)
    : entries_(std::bit_ceil(std::max<std::size_t>(capacity, 2))),
      mask_(entries_.size() - 1),
      hasher_(seed),
      seed_(seed) {}

// Two slots per key, the pair that differs in the lowest bit of the hash.
InterleavedTable::Entry* InterleavedTable::find(std::uint64_t receive) {
  const std::size_t slot = mix(receive ^ seed_) & mask_;
  if (entries_[slot].receive == receive) return &entries_[slot];
  if (entries_[slot ^ 1].receive == receive) return &entries_[slot ^ 1];
  return nullptr;
}

std::optional<Timestamp> InterleavedTable::take(Timestamp receive, const ClientAddress& client) {
  Entry* entry = find(key_of(receive));
  if (entry == nullptr || entry->client != hasher_(client.ip)) return std::nullopt;
  const Timestamp transmit = entry->transmit;
  *entry = Entry{};
  return transmit;
}

void InterleavedTable::save(Timestamp receive, const ClientAddress& client, Timestamp transmit) {
  const std::uint64_t key = key_of(receive);
  if (key == 0) return;
  Entry* entry = find(key);
  if (entry == nullptr) {
    const std::size_t slot = mix(key ^ seed_) & mask_;
    Entry& a = entries_[slot];
    Entry& b = entries_[slot ^ 1];
    entry = a.receive == 0 || (b.receive != 0 && a.age <= b.age) ? &a : &b;
  }
  *entry = Entry{key, hasher_(client.ip), transmit, false, ++saves_};
}

bool InterleavedTable::update(Timestamp receive, Timestamp transmit, bool hardware) {
  Entry* entry = find(key_of(receive));
  if (entry == nullptr) return false;
  if (entry->hardware && !hardware) return true;
  entry->transmit = transmit;
  entry->hardware = hardware;
  return true;
}

}  // namespace ntp
