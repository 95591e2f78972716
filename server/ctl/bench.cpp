#include "server/ctl/bench.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_set>

#include "server/ctl/arguments.hpp"
#include "server/ctl/target.hpp"
#include "server/io/udp_socket.hpp"
#include "server/ntp/client.hpp"
#include "server/nts/aead.hpp"
#include "server/nts/fields.hpp"
#include "server/reference/clocks.hpp"

namespace ctl {

void LatencyHistogram::record(std::int64_t nanoseconds) {
  const std::int64_t clamped = std::max<std::int64_t>(nanoseconds, 0);
  const auto bucket = static_cast<std::size_t>(std::min<std::int64_t>(clamped / kBucketNs, kBuckets));
  ++counts_[bucket];
  ++total_;
  max_ = std::max(max_, clamped);
}

std::int64_t LatencyHistogram::quantile(double q) const {
  if (total_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < kBuckets; ++bucket) {
    seen += counts_[bucket];
    if (seen >= std::max<std::uint64_t>(rank, 1)) return static_cast<std::int64_t>(bucket + 1) * kBucketNs;
  }
  return max_;
}

ntp::Timestamp request_cookie(std::uint32_t sequence, std::uint16_t slot) {
  return ntp::Timestamp{sequence | 0x8000'0000u, (sequence << 16) | slot};
}

std::uint16_t cookie_slot(ntp::Timestamp cookie) { return static_cast<std::uint16_t>(cookie.fraction & 0xffffu); }

std::array<std::uint8_t, 4> loopback_source(std::uint32_t index) {
  const std::uint32_t block = index / 254;
  return {127, static_cast<std::uint8_t>(1 + block / 256), static_cast<std::uint8_t>(block % 256),
          static_cast<std::uint8_t>(index % 254 + 1)};
}

std::optional<BenchNts> parse_bench_nts(std::string_view text) {
  auto hex = [](std::string_view digits) -> std::optional<std::vector<std::byte>> {
    if (digits.empty() || digits.size() % 2 != 0) return std::nullopt;
    std::vector<std::byte> out;
    for (std::size_t i = 0; i < digits.size(); i += 2) {
      unsigned value = 0;
      const auto [end, error] = std::from_chars(digits.data() + i, digits.data() + i + 2, value, 16);
      if (error != std::errc{} || end != digits.data() + i + 2) return std::nullopt;
      out.push_back(static_cast<std::byte>(value));
    }
    return out;
  };
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto c2s = hex(text.substr(0, colon));
  auto cookie = hex(text.substr(colon + 1));
  if (!c2s || !cookie || (c2s->size() != 32 && c2s->size() != 64) || cookie->size() % 4 != 0 || cookie->size() > 1024) {
    return std::nullopt;
  }
  return BenchNts{std::move(*c2s), std::move(*cookie)};
}

namespace {

constexpr unsigned kBatch = 64;
constexpr std::size_t kMaxRequestLength = 1200;

// A request as chronyd sends one, its unique identifier and nonce counting up from `counter`.
// Returns its length.
std::size_t build_nts_request(const BenchNts& nts, ntp::Timestamp transmit, std::uint64_t counter,
                              std::span<std::byte, kMaxRequestLength> out) {
  const auto header = ntp::build_client_request(transmit);
  std::copy(header.begin(), header.end(), out.begin());
  std::array<std::byte, 32> unique_id{};
  for (std::size_t i = 0; i < 8; ++i) unique_id[i] = static_cast<std::byte>(counter >> (56 - 8 * i));
  const std::span<const std::byte> nonce = std::span{unique_id}.first(16);
  const nts::Aead aead = nts.c2s.size() == 64 ? nts::Aead::aes_siv_cmac_512 : nts::Aead::aes_siv_cmac_256;
  return nts::write_request(out, nts::ClientRequest{unique_id, nts.cookie, 0, aead, nts.c2s, nonce});
}
constexpr std::uint32_t kMaxSources = 254u * 256u * 200u;
constexpr std::size_t kMaxExpired = 1 << 20;

std::int64_t nanoseconds_now() { return reference::realtime_now().time_since_epoch().count(); }

struct Slot {
  ntp::Timestamp cookie;
  std::int64_t sent_ns = 0;  // paced: when it was due, so a late send counts against the round trip
  bool busy = false;
};

std::uint64_t key_of(ntp::Timestamp cookie) { return (std::uint64_t{cookie.seconds} << 32) | cookie.fraction; }

// One socket with its own window of requests in flight.
struct Flow {
  io::UniqueFd fd;
  std::vector<Slot> slots;
  std::vector<std::uint16_t> idle;  // slots free to send on
  std::unordered_set<std::uint64_t> expired;  // requests given up on: a reply to one is late
  std::uint32_t sequence = 0;
};

struct Totals {
  std::uint64_t sent = 0;
  std::uint64_t replies = 0;
  std::uint64_t replies_in_time = 0;  // before the run's end, for the rate
  std::uint64_t lost = 0;
  std::uint64_t invalid = 0;
  std::uint64_t late = 0;  // replies to requests already counted lost
  std::uint64_t kiss_of_death = 0;
  std::uint64_t send_errors = 0;
};

class Bench {
 public:
  Bench(const BenchOptions& options, const sockaddr_storage& server, socklen_t server_length)
      : options_(options), server_(server), server_length_(server_length) {}

  std::string open() {
    for (unsigned s = 0; s < options_.sockets; ++s) {
      Flow flow;
      flow.fd = io::UniqueFd{::socket(server_.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
      if (!flow.fd) return std::string{"socket: "} + std::strerror(errno);
      const int on = 1;
      ::setsockopt(flow.fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
      const int buffer = 4 << 20;
      ::setsockopt(flow.fd.get(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
      ::setsockopt(flow.fd.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
      if (options_.sources == 0 &&
          ::connect(flow.fd.get(), reinterpret_cast<const sockaddr*>(&server_), server_length_) != 0) {
        return std::string{"connect: "} + std::strerror(errno);
      }
      flow.slots.resize(options_.window);
      for (unsigned i = options_.window; i > 0; --i) flow.idle.push_back(static_cast<std::uint16_t>(i - 1));
      flows_.push_back(std::move(flow));
    }
    return {};
  }

  void run() {
    start_ns_ = nanoseconds_now();
    const std::int64_t end_ns = start_ns_ + static_cast<std::int64_t>(options_.seconds * 1e9);
    const std::int64_t timeout_ns = static_cast<std::int64_t>(options_.timeout * 1e9);
    std::int64_t next_expiry_check = start_ns_;
    for (;;) {
      const std::int64_t now = nanoseconds_now();
      const bool sending = now < end_ns;
      if (!sending && in_flight() == 0) break;
      if (!sending && now >= end_ns + timeout_ns) break;
      bool progressed = false;
      // A paced run sends what is due from the first flow with room: start with another
      // flow each time round, so every socket carries its share.
      first_flow_ = first_flow_ + 1 < flows_.size() ? first_flow_ + 1 : 0;
      for (std::size_t i = 0; i < flows_.size(); ++i) {
        Flow& flow = flows_[(first_flow_ + i) % flows_.size()];
        progressed |= receive(flow, now < end_ns);
        if (sending) progressed |= send(flow, now);
      }
      if (now >= next_expiry_check) {
        expire(now - timeout_ns);
        next_expiry_check = now + 10'000'000;
      }
      // Never spin: a busy loop here starves the softirq work that delivers loopback packets
      // on this core, and the round trips measured would be the scheduler's, not the server's.
      // Wait for a reply, or until the pace lets the next request go if a slot is free for it.
      if (!progressed) {
        const bool room = in_flight() < options_.sockets * std::size_t{options_.window};
        wait_for_replies(sending && room && options_.rate > 0 && !send_failed_ ? next_send_ns() - now : 1'000'000);
      }
    }
    for (Flow& flow : flows_) {
      for (Slot& slot : flow.slots) {
        if (slot.busy) ++totals_.lost;
      }
    }
  }

  const Totals& totals() const { return totals_; }
  const LatencyHistogram& rtt() const { return rtt_; }

 private:
  std::size_t in_flight() const {
    std::size_t n = 0;
    for (const Flow& flow : flows_) n += flow.slots.size() - flow.idle.size();
    return n;
  }

  // How many requests this flow may send now: all idle slots in a closed loop, or its share
  // of what the rate allows so far.
  std::size_t allowance(const Flow& flow, std::int64_t now) const {
    if (options_.rate == 0) return flow.idle.size();
    const auto due = static_cast<std::uint64_t>(static_cast<double>(now - start_ns_) * options_.rate / 1e9) + 1;
    return due > totals_.sent ? std::min<std::uint64_t>(due - totals_.sent, flow.idle.size()) : 0;
  }

  bool send(Flow& flow, std::int64_t now) {
    const std::size_t count = std::min<std::size_t>(allowance(flow, now), kBatch);
    if (count == 0) return false;
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint16_t slot = flow.idle[flow.idle.size() - 1 - i];
      const ntp::Timestamp cookie = request_cookie(++flow.sequence, slot);
      std::size_t length = ntp::kHeaderLength;
      if (options_.nts) {
        length = build_nts_request(*options_.nts, cookie, nonce_base_ + totals_.sent + i, requests_[i]);
      } else {
        const auto header = ntp::build_client_request(cookie);
        std::copy(header.begin(), header.end(), requests_[i].begin());
      }
      flow.slots[slot].cookie = cookie;
      iov_[i] = iovec{requests_[i].data(), length};
      msghdr& h = headers_[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
      if (options_.sources != 0) {
        h.msg_name = &server_;
        h.msg_namelen = server_length_;
        // The kernel takes the source address from IP_PKTINFO: one socket speaks for many clients.
        h.msg_control = control_[i].data();
        h.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        in_pktinfo info{};
        const auto source = loopback_source(next_source_);
        next_source_ = next_source_ + 1 == options_.sources ? 0 : next_source_ + 1;
        std::memcpy(&info.ipi_spec_dst, source.data(), 4);
        std::memcpy(CMSG_DATA(c), &info, sizeof info);
      }
    }
    const std::int64_t sent_ns = nanoseconds_now();
    const int n = ::sendmmsg(flow.fd.get(), headers_.data(), static_cast<unsigned>(count), 0);
    send_failed_ = n <= 0;
    if (n <= 0) {
      ++totals_.send_errors;
      return false;
    }
    for (int i = 0; i < n; ++i) {
      const std::uint16_t slot = flow.idle.back();
      flow.idle.pop_back();
      // Paced, a request sent late (the generator was descheduled, or the window was full)
      // is timed from when it was due: otherwise the stall would vanish from the round trips.
      flow.slots[slot].sent_ns =
          options_.rate > 0 ? std::min(sent_ns, due_ns(totals_.sent + static_cast<std::uint64_t>(i))) : sent_ns;
      flow.slots[slot].busy = true;
    }
    totals_.sent += static_cast<std::uint64_t>(n);
    return true;
  }

  bool receive(Flow& flow, bool in_time) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov_[i] = iovec{replies_[i].data(), replies_[i].size()};
      msghdr& h = headers_[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = control_[i].data();
      h.msg_controllen = control_[i].size();
    }
    const int n = ::recvmmsg(flow.fd.get(), headers_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return false;
    const std::int64_t fallback_ns = nanoseconds_now();
    for (int i = 0; i < n; ++i) {
      const auto index = static_cast<std::size_t>(i);
      const std::span<const std::byte> bytes{replies_[index].data(), headers_[index].msg_len};
      const std::optional<leapdb::UtcTime> kernel = reference::kernel_receive_time(headers_[index].msg_hdr);
      const std::int64_t received_ns = kernel ? kernel->time_since_epoch().count() : fallback_ns;
      if (bytes.size() < ntp::kHeaderLength) {
        ++totals_.invalid;
        continue;
      }
      const ntp::Header header = ntp::decode_header(bytes.first<ntp::kHeaderLength>());
      const std::uint16_t slot_index = cookie_slot(header.origin_time);
      if (slot_index >= flow.slots.size()) {
        ++totals_.invalid;
        continue;
      }
      Slot& slot = flow.slots[slot_index];
      if (flow.expired.erase(key_of(header.origin_time)) != 0) {
        ++totals_.late;  // counted lost already; still a proper reply
        continue;
      }
      if (!slot.busy) {
        ++totals_.invalid;  // a duplicate, or a stray
        continue;
      }
      const ntp::ReplyCheck check = ntp::check_reply(bytes, slot.cookie);
      if (check.problem == ntp::ReplyProblem::kiss_of_death) ++totals_.kiss_of_death;
      if (check.problem != ntp::ReplyProblem::none) {
        ++totals_.invalid;
        if (check.problem != ntp::ReplyProblem::kiss_of_death) continue;
      } else {
        ++totals_.replies;
        if (in_time) ++totals_.replies_in_time;
        rtt_.record(received_ns - slot.sent_ns);
      }
      slot.busy = false;
      flow.idle.push_back(slot_index);
    }
    return true;
  }

  void expire(std::int64_t sent_before) {
    for (Flow& flow : flows_) {
      for (std::size_t i = 0; i < flow.slots.size(); ++i) {
        Slot& slot = flow.slots[i];
        if (slot.busy && slot.sent_ns < sent_before) {
          slot.busy = false;
          // Bounded: a server that never answers must not grow this without end.
          if (flow.expired.size() >= kMaxExpired) flow.expired.clear();
          flow.expired.insert(key_of(slot.cookie));
          flow.idle.push_back(static_cast<std::uint16_t>(i));
          ++totals_.lost;
        }
      }
    }
  }

  // When the n-th request (from 0) is due at the configured pace.
  std::int64_t due_ns(std::uint64_t n) const {
    return start_ns_ + static_cast<std::int64_t>(static_cast<double>(n) * 1e9 / options_.rate);
  }
  std::int64_t next_send_ns() const { return due_ns(totals_.sent); }

  void wait_for_replies(std::int64_t at_most_ns) {
    fds_.clear();
    for (const Flow& flow : flows_) fds_.push_back(pollfd{flow.fd.get(), POLLIN, 0});
    const std::int64_t wait = std::clamp<std::int64_t>(at_most_ns, 0, 1'000'000);
    const timespec timeout{0, static_cast<long>(wait)};
    ::ppoll(fds_.data(), fds_.size(), &timeout, nullptr);
  }

  const BenchOptions& options_;
  sockaddr_storage server_;
  socklen_t server_length_;
  std::vector<Flow> flows_;
  std::vector<pollfd> fds_;
  Totals totals_;
  LatencyHistogram rtt_;
  std::int64_t start_ns_ = 0;
  std::uint32_t next_source_ = 0;
  bool send_failed_ = false;
  std::size_t first_flow_ = 0;
  std::array<std::array<std::byte, kMaxRequestLength>, kBatch> requests_{};
  // NTS identifiers and nonces count up from here: no two runs share them.
  std::uint64_t nonce_base_ = static_cast<std::uint64_t>(nanoseconds_now()) << 8;
  std::array<std::array<std::byte, 2048>, kBatch> replies_{};
  std::array<std::array<std::byte, 128>, kBatch> control_{};
  std::array<iovec, kBatch> iov_{};
  std::array<mmsghdr, kBatch> headers_{};
};

int usage_error(const std::string& message) {
  std::cerr << "smearctl bench: " << message
            << "\nusage: smearctl bench HOST:PORT --seconds N [--sockets S] [--window W] [--rate R]"
               " [--sources K] [--timeout SECONDS] [--nts C2S:COOKIE] [--json]\n";
  return 2;
}

double microseconds(std::int64_t ns) { return static_cast<double>(ns) / 1e3; }

}  // namespace

int bench_command(const std::vector<std::string_view>& args) {
  BenchOptions options;
  bool have_seconds = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const bool has_value = i + 1 < args.size();
    if (arg == "--json") {
      options.json = true;
    } else if (arg == "--seconds" && has_value) {
      if (!parse_number(args[++i], options.seconds) || !(options.seconds > 0 && options.seconds <= 86400)) {
        return usage_error("--seconds takes a number of seconds between 0 and 86400");
      }
      have_seconds = true;
    } else if (arg == "--sockets" && has_value) {
      if (!parse_number(args[++i], options.sockets) || options.sockets == 0 || options.sockets > 1024) {
        return usage_error("--sockets takes 1 to 1024");
      }
    } else if (arg == "--window" && has_value) {
      if (!parse_number(args[++i], options.window) || options.window == 0 || options.window > 65535) {
        return usage_error("--window takes 1 to 65535 requests in flight per socket");
      }
    } else if (arg == "--rate" && has_value) {
      if (!parse_number(args[++i], options.rate) || !(options.rate > 0 && options.rate < 1e9)) {
        return usage_error("--rate takes requests per second, more than 0");
      }
    } else if (arg == "--sources" && has_value) {
      if (!parse_number(args[++i], options.sources) || options.sources == 0 || options.sources > kMaxSources) {
        return usage_error("--sources takes 1 to " + std::to_string(kMaxSources));
      }
    } else if (arg == "--timeout" && has_value) {
      if (!parse_number(args[++i], options.timeout) || !(options.timeout > 0 && options.timeout <= 60)) {
        return usage_error("--timeout takes 0 to 60 seconds");
      }
    } else if (arg == "--nts" && has_value) {
      options.nts = parse_bench_nts(args[++i]);
      if (!options.nts) {
        return usage_error("--nts takes C2S:COOKIE in hex: a 32- or 64-byte key and a cookie from NTS-KE");
      }
    } else if (!arg.starts_with("--") && options.target.empty()) {
      options.target = arg;
    } else {
      return usage_error("unexpected argument '" + std::string{arg} + "'");
    }
  }
  if (options.target.empty()) return usage_error("bench needs HOST:PORT");
  if (!have_seconds) return usage_error("bench needs --seconds N");
  const std::optional<Target> target = parse_target(options.target);
  if (!target) return usage_error("'" + std::string{options.target} + "' is not HOST, HOST:PORT or [IPv6]:PORT");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* resolved = nullptr;
  if (const int rc = ::getaddrinfo(target->host.c_str(), target->port.c_str(), &hints, &resolved); rc != 0) {
    std::cerr << "smearctl bench: cannot resolve " << target->host << ": " << ::gai_strerror(rc) << "\n";
    return 1;
  }
  sockaddr_storage server{};
  std::memcpy(&server, resolved->ai_addr, resolved->ai_addrlen);
  const socklen_t server_length = resolved->ai_addrlen;
  ::freeaddrinfo(resolved);
  if (options.sources != 0) {
    sockaddr_in v4{};
    std::memcpy(&v4, &server, sizeof v4);
    if (server.ss_family != AF_INET || (ntohl(v4.sin_addr.s_addr) >> 24) != 127) {
      return usage_error("--sources needs an IPv4 loopback target (127.x.y.z): the sources are loopback addresses");
    }
  }

  // Paced requests leave within microseconds of their time, not the default 50 us slack.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  // Large (an 8 MB histogram): on the heap.
  auto bench = std::make_unique<Bench>(options, server, server_length);
  if (const std::string error = bench->open(); !error.empty()) {
    std::cerr << "smearctl bench: " << error << "\n";
    return 1;
  }
  bench->run();
  const Totals& t = bench->totals();
  const LatencyHistogram& rtt = bench->rtt();
  const double per_second = static_cast<double>(t.replies_in_time) / options.seconds;
  const double loss = t.sent == 0 ? 0 : static_cast<double>(t.lost) / static_cast<double>(t.sent);
  if (options.json) {
    nlohmann::ordered_json json;
    json["target"] = target->to_string();
    json["seconds"] = options.seconds;
    json["sockets"] = options.sockets;
    json["window"] = options.window;
    json["rate"] = options.rate;
    json["sources"] = options.sources;
    json["sent"] = t.sent;
    json["replies"] = t.replies;
    json["replies_per_second"] = std::round(per_second);
    json["lost"] = t.lost;
    json["loss_ratio"] = loss;
    json["invalid"] = t.invalid;
    json["late"] = t.late;
    json["kiss_of_death"] = t.kiss_of_death;
    json["send_errors"] = t.send_errors;
    json["rtt_p50_us"] = microseconds(rtt.quantile(0.5));
    json["rtt_p99_us"] = microseconds(rtt.quantile(0.99));
    json["rtt_max_us"] = microseconds(rtt.max());
    std::cout << json.dump(2) << "\n";
  } else {
    char line[256];
    std::snprintf(line, sizeof line, "%.0f replies/s", per_second);
    std::cout << "target        " << target->to_string() << ", " << options.seconds << " s, " << options.sockets
              << " sockets x " << options.window << " in flight"
              << (options.rate > 0 ? ", paced at " + std::to_string(static_cast<long>(options.rate)) + "/s" : "")
              << (options.sources > 0 ? ", " + std::to_string(options.sources) + " source addresses" : "") << "\n"
              << "replies       " << t.replies << " of " << t.sent << " (" << line << ")\n";
    std::snprintf(line, sizeof line,
                  "%" PRIu64 " (%.4f%%, %" PRIu64 " of them answered late), invalid %" PRIu64 " (kiss-o'-death %" PRIu64
                  ")",
                  t.lost, loss * 100, t.late, t.invalid, t.kiss_of_death);
    std::cout << "lost          " << line << "\n";
    std::snprintf(line, sizeof line, "p50 %.1f us, p99 %.1f us, max %.1f us", microseconds(rtt.quantile(0.5)),
                  microseconds(rtt.quantile(0.99)), microseconds(rtt.max()));
    std::cout << "round trip    " << line << "\n";
  }
  if (t.replies == 0) {
    std::cerr << "smearctl bench: no valid reply from " << target->to_string() << "\n";
    return 1;
  }
  if (t.invalid > 0) {
    std::cerr << "smearctl bench: " << t.invalid << " invalid replies from " << target->to_string()
              << " (wrong mode or origin, duplicates, kiss-o'-death)\n";
    return 1;
  }
  return 0;
}

}  // namespace ctl
