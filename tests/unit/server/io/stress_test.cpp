// Threads hammering the lock-free parts at once, for the ThreadSanitizer build: the RCU cell,
// the event ring, the client history with purges, and real worker threads answering loopback
// clients while the control side publishes a storm of snapshots (new keys, renumbered
// timescales) and reads their counters and talker tables.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "server/io/event_ring.hpp"
#include "server/io/rcu.hpp"
#include "server/io/udp_socket.hpp"
#include "server/io/worker.hpp"
#include "server/ntp/client_history.hpp"
#include "server/ntp/packet.hpp"
#include "server/ntp/snapshot.hpp"

namespace {

// A value whose parts must always agree: a torn or freed read shows as a mismatch.
struct Versioned {
  std::uint64_t version = 0;
  std::vector<std::uint64_t> copies = std::vector<std::uint64_t>(16, 0);
};

std::unique_ptr<const Versioned> versioned(std::uint64_t version) {
  auto v = std::make_unique<Versioned>();
  v->version = version;
  std::fill(v->copies.begin(), v->copies.end(), version);
  return v;
}

ntp::ClientAddress client(std::uint32_t n) {
  ntp::ClientAddress address;
  address.ip[10] = 0xff;
  address.ip[11] = 0xff;
  std::memcpy(&address.ip[12], &n, 4);
  address.port = 123;
  return address;
}

}  // namespace

TEST_CASE("stress: RCU readers always see a whole, live, never older value while the writer publishes") {
  constexpr std::size_t kReaders = 4;
  constexpr std::uint64_t kPublishes = 20000;
  io::RcuCell<Versioned> cell{kReaders, versioned(0)};
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> bad{0}, reads{0};
  std::array<std::atomic<std::uint64_t>, kReaders> reads_by{};
  std::vector<std::jthread> readers;
  for (std::size_t r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      std::uint64_t last = 0;
      while (!done.load()) {
        const auto guard = cell.read(r);
        for (const std::uint64_t copy : guard->copies) bad += copy != guard->version;
        bad += guard->version < last;
        last = guard->version;
        ++reads;
        ++reads_by[r];
      }
    });
  }
  // On a loaded machine the readers may start late: publishing goes on until each has read
  // while the writer was at work, so the two always overlap.
  auto all_reading = [&] {
    return std::ranges::all_of(reads_by, [](const auto& n) { return n.load() >= 100; });
  };
  for (std::uint64_t v = 1; v <= kPublishes || !all_reading(); ++v) cell.publish(versioned(v));
  done = true;
  readers.clear();
  CHECK(bad.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(cell.reclaim() == 0);  // every reader is idle: all retired values freed
}

TEST_CASE("stress: the event ring hands every event over in order, or counts it dropped") {
  io::EventRing<std::uint64_t, 64> ring;
  constexpr std::uint64_t kEvents = 200000;
  std::atomic<bool> produced{false};
  std::uint64_t pushed = 0;
  std::jthread producer{[&] {
    for (std::uint64_t i = 0; i < kEvents; ++i) pushed += ring.push(i) ? 1u : 0u;
    produced = true;
  }};
  std::uint64_t taken = 0, previous = 0, out_of_order = 0;
  bool first = true;
  auto take = [&](std::uint64_t event) {
    out_of_order += !first && event <= previous;
    first = false;
    previous = event;
    ++taken;
  };
  while (!produced.load()) ring.drain(take);
  producer.join();
  ring.drain(take);
  CHECK(out_of_order == 0);
  CHECK(taken == pushed);
  CHECK(taken + ring.overflowed() == kEvents);
}

TEST_CASE("stress: the client history under writers, readers and purges of old generations") {
  ntp::ClientHistory history{4096, 77};
  std::atomic<bool> done{false};
  std::atomic<std::uint8_t> generation{0};
  std::atomic<std::uint64_t> foreign{0};
  const leapdb::TaiTime now{std::chrono::seconds{2'000'000'000}};
  std::vector<std::jthread> workers;
  for (std::uint32_t w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      std::uint64_t step = 0;
      while (!done.load()) {
        const std::uint8_t g = generation.load();
        // Within a generation, timescale index g % 3 is what every client uses.
        const auto timescale = static_cast<std::uint8_t>(g % 3);
        for (std::uint32_t c = 0; c < 64; ++c) {
          const auto place = history.place(client(c * 4 + w % 2), g);
          const ntp::ClientHistory::Seen seen = history.last(place, now + std::chrono::seconds{step});
          foreign += seen.known && seen.timescale != timescale;
          history.record(place, timescale, now + std::chrono::seconds{step});
        }
        ++step;
      }
    });
  }
  for (int round = 0; round < 200; ++round) {
    generation = static_cast<std::uint8_t>((generation.load() + 1) % ntp::ClientHistory::kGenerations);
    std::this_thread::sleep_for(std::chrono::microseconds{200});
    history.purge(generation.load());
  }
  done = true;
  workers.clear();
  // A worker that read the generation just before it changed records under the old one: it
  // can never make a client of the new generation look stuck elsewhere.
  CHECK(foreign.load() == 0);
}

TEST_CASE("stress: workers answer loopback clients through a storm of snapshots and counter reads") {
  config::SocketAddress address{config::SocketAddress::Family::ipv4, {127, 0, 0, 1}, 0};
  // Port 0 would give each SO_REUSEPORT socket its own port: find a free one and bind both to it.
  std::uint16_t port = 0;
  {
    const int probe = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
    socklen_t length = sizeof any;
    ::getsockname(probe, reinterpret_cast<sockaddr*>(&any), &length);
    port = ntohs(any.sin_port);
    ::close(probe);
  }
  address.port = port;
  constexpr std::size_t kWorkers = 2;
  io::RcuCell<ntp::Snapshot> state{kWorkers, std::make_unique<const ntp::Snapshot>(ntp::true_utc_snapshot())};
  ntp::ClientHistory history{4096, 5};
  std::vector<std::unique_ptr<io::Worker>> workers;
  for (std::size_t w = 0; w < kWorkers; ++w) {
    std::string error;
    io::BoundSocket socket = io::open_listener_socket(address, error);
    REQUIRE_MESSAGE(socket.fd, error);
    workers.push_back(std::make_unique<io::Worker>(std::move(socket), 0, state, w, history, 1024, 9 + w));
  }
  std::vector<std::jthread> threads;
  for (const auto& worker : workers) threads.emplace_back([&worker] { worker->run(); });

  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> answered{0};
  std::jthread client{[&] {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    timeval timeout{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::array<std::byte, ntp::kHeaderLength> request{};
    ntp::Header header;
    std::array<std::byte, 256> reply{};
    while (!done.load()) {
      ntp::encode_header(header, request);
      ::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&server), sizeof server);
      if (::recv(fd, reply.data(), reply.size(), 0) >= 48) ++answered;
    }
    ::close(fd);
  }};

  std::uint64_t read_requests = 0;
  std::uint64_t talker_requests = 0;  // the loopback client's, as the workers' talker tables show it
  // 300 snapshots at least, and on until the client has been answered through many of them.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{20};
  for (int n = 0; n < 300 || (answered.load() < 200 && std::chrono::steady_clock::now() < give_up); ++n) {
    auto next = std::make_unique<ntp::Snapshot>(ntp::true_utc_snapshot());
    next->history_generation = static_cast<std::uint8_t>(n % ntp::ClientHistory::kGenerations);
    if (n % 3 == 0) {
      next->keys = std::make_shared<const ntp::KeyRing>(std::vector<ntp::SymmetricKey>{
          {1, ntp::MacAlgorithm::aes128_cmac, std::vector<std::byte>(16, std::byte{static_cast<unsigned char>(n)}), 1}});
    }
    next->policy.rate_limit = {n % 2 == 0, -4, 255, 0};
    state.publish(std::move(next));
    for (const auto& worker : workers) {
      read_requests += worker->counters().requests.load();
      for (const auto& talker : worker->talkers().read()) talker_requests = std::max(talker_requests, talker.requests);
    }
    if (state.reclaim() == 0) history.purge(static_cast<std::uint8_t>(n % ntp::ClientHistory::kGenerations));
    std::this_thread::sleep_for(std::chrono::microseconds{300});
  }
  done = true;
  client.join();
  for (const auto& worker : workers) worker->request_stop();
  threads.clear();
  std::uint64_t requests = 0, replies = 0;
  for (const auto& worker : workers) {
    requests += worker->counters().requests.load();
    replies += worker->counters().replies.load();
  }
  CHECK(answered.load() > 100);
  CHECK(replies >= answered.load());
  CHECK(requests >= replies);
  CHECK(read_requests > 0);
  CHECK(talker_requests > 0);
  CHECK(talker_requests <= requests);
}
