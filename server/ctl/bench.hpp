#pragma once
// smearctl bench: a load generator that checks every reply. The pure parts (latency
// histogram, request cookies, source addresses) are here so they can be tested alone.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "server/ntp/timestamp.hpp"

namespace ctl {

// Round-trip times in 100 ns buckets up to 100 ms, one overflow bucket above: fixed memory
// whatever the run's length, and percentiles exact to a bucket.
class LatencyHistogram {
 public:
  static constexpr std::int64_t kBucketNs = 100;
  static constexpr std::size_t kBuckets = 1'000'000;

  LatencyHistogram() : counts_(kBuckets + 1, 0) {}  // 8 MB
  void record(std::int64_t nanoseconds);
  std::uint64_t count() const { return total_; }
  // The upper edge of the bucket holding the q-quantile (0 < q <= 1), in nanoseconds; 0 when
  // nothing was recorded; the largest value seen when it falls in the overflow bucket.
  std::int64_t quantile(double q) const;
  std::int64_t max() const { return max_; }

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::int64_t max_ = 0;
};

// A request's transmit timestamp doubles as its identity: the slot it occupies in its
// socket's window and a sequence number, so a reply is matched (and a late or stray one
// refused) by its origin timestamp alone. The top bit is set so it is never zero.
ntp::Timestamp request_cookie(std::uint32_t sequence, std::uint16_t slot);
std::uint16_t cookie_slot(ntp::Timestamp cookie);

// The i-th of the distinct loopback source addresses --sources cycles through, in network
// byte order: 127.1.0.0 upwards, skipping each /24's network and broadcast addresses.
std::array<std::uint8_t, 4> loopback_source(std::uint32_t index);

// What an NTS client agreed at key establishment: requests carry the cookie and are
// authenticated with the client-to-server key (AES-SIV-CMAC-256 or -512, by its length).
struct BenchNts {
  std::vector<std::byte> c2s;
  std::vector<std::byte> cookie;
};

// "C2S:COOKIE" in hex, as chronyd's ntsdumpdir files hold them.
std::optional<BenchNts> parse_bench_nts(std::string_view text);

struct BenchOptions {
  std::string_view target;
  double seconds = 5;
  unsigned sockets = 4;
  unsigned window = 16;    // requests outstanding per socket
  double rate = 0;         // requests per second in all; 0: as fast as replies come back
  std::uint32_t sources = 0;  // distinct loopback source addresses; 0: the sockets' own
  double timeout = 1;      // seconds before an unanswered request counts as lost
  bool json = false;
  std::optional<BenchNts> nts;  // none: plain NTP
};

int bench_command(const std::vector<std::string_view>& args);

}  // namespace ctl
