#pragma once
// Pure. Which of several clocks tell the truth and what they say together: Marzullo's
// intersection of [offset - λ, offset + λ] (RFC 5905 §11.2.1), each interval counted with its
// voices (a source standing for several servers that already agree counts as that many), and
// the truechimers' offsets combined by weight. The upstream servers of one source are chosen
// among with it, and so are the sources.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "leapdb/time.hpp"

namespace reference {

struct Candidate {
  leapdb::Nanoseconds offset{0};
  leapdb::Nanoseconds distance{0};  // λ
  std::size_t voices = 1;
  // What the candidate counts for in a combination: the closer to the truth it may be, the more.
  double weight() const { return 1.0 / static_cast<double>(std::max<std::int64_t>(distance.count(), 1)); }
  bool overlaps(const Candidate& other) const {
    return offset - distance <= other.offset + other.distance && other.offset - other.distance <= offset + distance;
  }
};

struct Selection {
  bool ok = false;
  std::vector<std::size_t> truechimers;  // indices into the candidates, by distance, best first
  std::vector<std::size_t> falsetickers;
  leapdb::Nanoseconds combined{0};      // the truechimers' offsets weighted by 1/λ
  leapdb::Nanoseconds low{0}, high{0};  // the intersection
  std::string why;                      // when not ok
  // The intersection as an interval of its own, to judge others against.
  Candidate intersection() const { return {(low + high) / 2, (high - low) / 2, 1}; }
};

// More than half the voices, and at least `minsources`, must share one intersection. `noun`
// names what the candidates are in `why` ("server", "source").
Selection select(std::span<const Candidate> candidates, std::size_t minsources, std::string_view noun = "server");

// The candidates' offsets weighted by 1/λ; none given: zero.
leapdb::Nanoseconds combine(std::span<const Candidate> candidates, std::span<const std::size_t> which);

}  // namespace reference
