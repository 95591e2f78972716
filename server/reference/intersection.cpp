#include "server/reference/intersection.hpp"

#include <cmath>
#include <utility>

namespace reference {

Selection select(std::span<const Candidate> candidates, std::size_t minsources, std::string_view noun) {
  Selection out;
  std::size_t voices = 0;
  for (const Candidate& c : candidates) voices += c.voices;
  const std::string nouns = std::string{noun} + "(s)";
  if (voices < minsources || voices == 0) {
    out.why = std::to_string(voices) + " usable " + nouns + ", minsources is " + std::to_string(minsources);
    return out;
  }
  // Endpoints as (value, +voices opening / -voices closing); openings first at equal values, so
  // touching intervals intersect.
  std::vector<std::pair<leapdb::Nanoseconds, std::int64_t>> ends;
  for (const Candidate& c : candidates) {
    const auto weight = static_cast<std::int64_t>(c.voices);
    ends.emplace_back(c.offset - c.distance, weight);
    ends.emplace_back(c.offset + c.distance, -weight);
  }
  std::ranges::sort(
      ends, [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
  std::int64_t depth = 0, best = 0;
  for (std::size_t i = 0; i < ends.size(); ++i) {
    depth += ends[i].second;
    if (depth > best) {
      best = depth;
      out.low = ends[i].first;
      out.high = ends[i + 1].first;  // a closing always follows the deepest opening
    }
  }
  const auto count = static_cast<std::size_t>(best);
  if (count < minsources || 2 * count <= voices) {
    out.why = "no majority agrees: the largest group of " + std::string{noun} + "s that agree has " +
              std::to_string(count) + " of " + std::to_string(voices) + " (minsources " + std::to_string(minsources) +
              ")";
    return out;
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const bool contains = c.offset - c.distance <= out.low && out.high <= c.offset + c.distance;
    (contains ? out.truechimers : out.falsetickers).push_back(i);
  }
  std::ranges::stable_sort(
      out.truechimers, [&](std::size_t a, std::size_t b) { return candidates[a].distance < candidates[b].distance; });
  out.combined = combine(candidates, out.truechimers);
  out.ok = true;
  return out;
}

leapdb::Nanoseconds combine(std::span<const Candidate> candidates, std::span<const std::size_t> which) {
  if (which.empty()) return leapdb::Nanoseconds{0};
  // Relative to the first, so doubles keep nanoseconds whatever the offsets' size.
  const leapdb::Nanoseconds origin = candidates[which.front()].offset;
  double weights = 0, sum = 0;
  for (const std::size_t i : which) {
    const double w = candidates[i].weight();
    weights += w;
    sum += w * static_cast<double>((candidates[i].offset - origin).count());
  }
  return origin + leapdb::Nanoseconds{std::llround(sum / weights)};
}

}  // namespace reference
