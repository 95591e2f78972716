#include "server/counting/talkers.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <tuple>

namespace counting {
namespace {

constexpr std::int64_t kNanosecondsPerSecond = 1'000'000'000;
// How often a reader tries a record that keeps being replaced under it before passing it by.
constexpr int kReadAttempts = 8;

std::size_t slot_count(std::size_t slots) { return std::bit_ceil(std::max(slots, TalkerTable::kWays)); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }

void bump(std::atomic<std::uint64_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// A seqlock without fences (which ThreadSanitizer cannot follow): the writer makes the sequence
// odd, then stores each field with release, so a reader that sees a new field sees the odd
// sequence too; the reader loads each field with acquire, so its second look at the sequence
// comes after them. On x86 every one of these is a plain move.
template <class Record>
std::uint64_t begin_write(Record& r) {
  const std::uint64_t sequence = r.sequence.load(std::memory_order_relaxed);
  r.sequence.store(sequence + 1, std::memory_order_relaxed);
  return sequence;
}

template <class Counter>
void store(Counter& field, typename Counter::value_type value) {
  field.store(value, std::memory_order_release);
}

template <class Counter>
typename Counter::value_type load(const Counter& field) {
  return field.load(std::memory_order_acquire);
}

std::uint64_t half(const std::array<std::uint8_t, 16>& ip, std::size_t offset) {
  std::uint64_t value = 0;
  std::memcpy(&value, ip.data() + offset, 8);
  return value;
}

}  // namespace

TalkerTable::TalkerTable(std::size_t slots, std::uint64_t seed)
    : records_(std::make_unique<Record[]>(slot_count(slots))),
      ways_(std::make_unique<Way[]>(slot_count(slots))),
      set_mask_(slot_count(slots) / kWays - 1),
      hash_(seed) {}

void TalkerTable::record(const std::array<std::uint8_t, 16>& ip, leapdb::UtcTime now, bool kod, bool rate_limited) {
  const std::uint64_t h = hash_(ip);
  const auto tag = static_cast<std::uint32_t>(h >> 32) | 1u;
  const std::size_t first = (h & set_mask_) * kWays;
  Way* set = &ways_[first];
  const std::int64_t now_ns = now.time_since_epoch().count();
  const auto seconds = static_cast<std::uint32_t>(floor_div(now_ns, kNanosecondsPerSecond));
  const auto period = static_cast<std::uint32_t>(floor_div(now_ns, kHalfLife.count()));
  const std::uint64_t high = half(ip, 0), low = half(ip, 8);
  // The weight a way would have now; a clock that went back decays nothing.
  const auto weight_now = [period](const Way& way) {
    const std::uint32_t periods = period - way.period;
    return periods >= 32 ? (periods > 0x8000'0000u ? way.weight : 0u) : way.weight >> periods;
  };

  std::size_t victim = 0;
  std::uint32_t victim_weight = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t victim_age = 0;
  for (std::size_t w = 0; w < kWays; ++w) {
    Way& way = set[w];
    // Ways fill in order and are never emptied: past the first empty one there is nothing.
    if (way.tag == 0) {
      victim = w;
      break;
    }
    Record& r = records_[first + w];
    if (way.tag == tag && r.ip_high.load(std::memory_order_relaxed) == high &&
        r.ip_low.load(std::memory_order_relaxed) == low) {
      way.weight = weight_now(way);
      if (way.weight != std::numeric_limits<std::uint32_t>::max()) ++way.weight;
      way.period = period;
      way.last_seen = seconds;
      const std::uint64_t sequence = begin_write(r);
      bump(r.requests);
      if (kod) bump(r.kod);
      if (rate_limited) bump(r.rate_limited);
      store(r.last_seen_ns, now_ns);
      r.sequence.store(sequence + 2, std::memory_order_release);
      return;
    }
    const std::uint32_t weight = weight_now(way);
    const std::uint32_t age = seconds - way.last_seen;
    if (weight < victim_weight || (weight == victim_weight && age > victim_age)) {
      victim = w;
      victim_weight = weight;
      victim_age = age;
    }
  }

  Record& r = records_[first + victim];
  const std::uint64_t sequence = begin_write(r);
  store(r.ip_high, high);
  store(r.ip_low, low);
  store(r.requests, 1);
  store(r.kod, kod ? 1 : 0);
  store(r.rate_limited, rate_limited ? 1 : 0);
  store(r.last_seen_ns, now_ns);
  r.sequence.store(sequence + 2, std::memory_order_release);
  set[victim] = Way{tag, 1, period, seconds};
}

std::vector<Talker> TalkerTable::read() const {
  std::vector<Talker> out;
  for (std::size_t i = 0; i < slots(); ++i) {
    const Record& r = records_[i];
    for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
      const std::uint64_t before = r.sequence.load(std::memory_order_acquire);
      if ((before & 1) != 0) continue;
      const std::uint64_t high = load(r.ip_high);
      const std::uint64_t low = load(r.ip_low);
      Talker talker;
      talker.requests = load(r.requests);
      talker.kod = load(r.kod);
      talker.rate_limited = load(r.rate_limited);
      talker.last_seen = leapdb::UtcTime{leapdb::Nanoseconds{load(r.last_seen_ns)}};
      if (r.sequence.load(std::memory_order_relaxed) != before) continue;
      if (talker.requests == 0) break;
      std::memcpy(talker.ip.data(), &high, 8);
      std::memcpy(talker.ip.data() + 8, &low, 8);
      out.push_back(talker);
      break;
    }
  }
  return out;
}

std::vector<Talker> merge_talkers(std::vector<Talker> rows, std::size_t top) {
  std::ranges::sort(rows, {}, &Talker::ip);
  std::vector<Talker> merged;
  for (const Talker& row : rows) {
    if (!merged.empty() && merged.back().ip == row.ip) {
      Talker& sum = merged.back();
      sum.requests += row.requests;
      sum.kod += row.kod;
      sum.rate_limited += row.rate_limited;
      sum.last_seen = std::max(sum.last_seen, row.last_seen);
    } else {
      merged.push_back(row);
    }
  }
  const auto heavier = [](const Talker& a, const Talker& b) {
    return std::tie(b.requests, b.last_seen, a.ip) < std::tie(a.requests, a.last_seen, b.ip);
  };
  const auto keep = static_cast<std::ptrdiff_t>(std::min(top, merged.size()));
  std::ranges::partial_sort(merged, merged.begin() + keep, heavier);
  merged.resize(static_cast<std::size_t>(keep));
  return merged;
}

}  // namespace counting
