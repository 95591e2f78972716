#include "server/reference/sock.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>

#include "leapdb/parse.hpp"
#include "tests/unit/leapdb/files.hpp"

using namespace std::chrono;
using leapdb::UtcTime;
using reference::Notice;
using reference::SockDecoded;
using reference::SockSample;

namespace {

const leapdb::LeapTable& table() { return test_files::leap_table(); }

const UtcTime kStart = UtcTime{sys_days{year{2026} / March / 1}} + hours{12};

// What gpsd's chrony_send puts in a datagram.
SockSample sample_at(UtcTime system, double offset, int leap = 0, int pulse = 0) {
  SockSample s{};
  const auto since = system.time_since_epoch();
  s.tv.tv_sec = static_cast<time_t>(floor<seconds>(since).count());
  s.tv.tv_usec = static_cast<suseconds_t>(duration_cast<microseconds>(since - floor<seconds>(since)).count());
  s.offset = offset;
  s.pulse = pulse;
  s.leap = leap;
  s.magic = reference::kSockMagic;
  return s;
}

std::vector<std::byte> bytes_of(const SockSample& s) {
  std::vector<std::byte> out(sizeof s);
  std::memcpy(out.data(), &s, sizeof s);
  return out;
}

SockDecoded decode(const std::vector<std::byte>& datagram) { return reference::decode_sock_sample(datagram, datagram.size()); }

struct Queue {
  std::deque<std::vector<std::byte>> pending;
  std::string failure;
};

class FakeSocket final : public reference::DatagramSocket {
 public:
  explicit FakeSocket(Queue& queue) : queue_(queue) {}
  std::optional<std::size_t> receive(std::span<std::byte> buffer, std::string& error) override {
    if (!queue_.failure.empty()) {
      error = queue_.failure;
      return std::nullopt;
    }
    if (queue_.pending.empty()) return std::nullopt;
    const std::vector<std::byte> next = std::move(queue_.pending.front());
    queue_.pending.pop_front();
    std::memcpy(buffer.data(), next.data(), std::min(buffer.size(), next.size()));
    return next.size();
  }

 private:
  Queue& queue_;
};

reference::Tick tick(UtcTime at) { return reference::Tick{table(), at, seconds{100}, reference::KernelClockStatus{}}; }

std::vector<std::string> events(std::vector<Notice> notices) {
  std::vector<std::string> out;
  for (const Notice& n : notices) out.push_back(n.event);
  return out;
}

// A fresh directory under TMPDIR, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "smeard-sock-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

bool send_to(const std::string& path, const std::vector<std::byte>& datagram) {
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const ssize_t sent = ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&address),
                                sizeof address);
  ::close(fd);
  return sent == static_cast<ssize_t>(datagram.size());
}

}  // namespace

TEST_CASE("SOCK: a good datagram") {
  const UtcTime system = kStart + microseconds{250'001};
  const SockDecoded got = decode(bytes_of(sample_at(system, 0.125)));
  REQUIRE(got.status == SockDecoded::Status::sample);
  CHECK(got.sample.received == system);
  CHECK(std::get<UtcTime>(got.sample.reference) == system + milliseconds{125});
  CHECK(got.sample.leap == reference::LeapWarning::none);
  CHECK(got.sample.precision == -20);
  CHECK(std::get<UtcTime>(decode(bytes_of(sample_at(system, -0.000'000'5))).sample.reference) ==
        system - nanoseconds{500});
}

TEST_CASE("SOCK: wrong size and bad magic are malformed") {
  std::vector<std::byte> datagram = bytes_of(sample_at(kStart, 0));
  CHECK(reference::decode_sock_sample(datagram, 41).status == SockDecoded::Status::malformed);
  CHECK(reference::decode_sock_sample(datagram, 41).why == "a 41-byte datagram (a sock_sample is 40 bytes)");
  datagram.pop_back();
  CHECK(decode(datagram).status == SockDecoded::Status::malformed);
  CHECK(decode({}).why == "a 0-byte datagram (a sock_sample is 40 bytes)");

  SockSample s = sample_at(kStart, 0);
  s.magic = 0x12345678;
  const SockDecoded bad = decode(bytes_of(s));
  CHECK(bad.status == SockDecoded::Status::malformed);
  CHECK(bad.why == "a datagram with magic 0x12345678 (a sock_sample's is 0x534f434b)");
}

TEST_CASE("SOCK: a pulse sample has no absolute time") {
  const SockDecoded got = decode(bytes_of(sample_at(kStart, 0.000'012, 0, 1)));
  CHECK(got.status == SockDecoded::Status::pulse);
  CHECK(got.why.find("a pulse sample") == 0);
}

TEST_CASE("SOCK: leap values and fields out of range") {
  CHECK(decode(bytes_of(sample_at(kStart, 0, 1))).sample.leap == reference::LeapWarning::insert);
  CHECK(decode(bytes_of(sample_at(kStart, 0, 2))).sample.leap == reference::LeapWarning::remove);
  CHECK(decode(bytes_of(sample_at(kStart, 0, 3))).status == SockDecoded::Status::refused);
  CHECK(decode(bytes_of(sample_at(kStart, 0, 9))).why == "leap 9 is none of 0 (none), 1 (insert), 2 (delete)");
  CHECK(decode(bytes_of(sample_at(kStart, std::numeric_limits<double>::quiet_NaN()))).status ==
        SockDecoded::Status::refused);
  CHECK(decode(bytes_of(sample_at(kStart, 2e9))).status == SockDecoded::Status::refused);
  SockSample s = sample_at(kStart, 0);
  s.tv.tv_usec = 1'000'000;
  CHECK(decode(bytes_of(s)).why == "a sample whose timeval is out of range");
}

TEST_CASE("SOCK driver: drains everything pending at each poll, and no more than a bound") {
  Queue queue;
  reference::SockDriver driver{std::make_unique<FakeSocket>(queue), "/run/x.sock"};
  for (int i = 0; i < 5; ++i) queue.pending.push_back(bytes_of(sample_at(kStart + milliseconds{100 * i}, 0.5)));
  reference::RefclockBatch batch;
  driver.read(batch);
  CHECK(batch.samples.size() == 5);
  CHECK(queue.pending.empty());
  CHECK(batch.refusals.empty());
  CHECK_FALSE(batch.failure.has_value());

  for (int i = 0; i < 300; ++i) queue.pending.push_back(bytes_of(sample_at(kStart, 0.5)));
  reference::RefclockBatch flood;
  driver.read(flood);
  CHECK(flood.samples.size() == reference::SockDriver::kMaxPerPoll);
  CHECK(queue.pending.size() == 300 - reference::SockDriver::kMaxPerPoll);
}

TEST_CASE("SOCK driver: malformed datagrams are counted and logged once") {
  Queue queue;
  reference::SockDriver driver{std::make_unique<FakeSocket>(queue), "/run/x.sock"};
  SockSample wrong = sample_at(kStart, 0);
  wrong.magic = 1;
  queue.pending.push_back(bytes_of(wrong));
  queue.pending.push_back(std::vector<std::byte>(12));
  queue.pending.push_back(bytes_of(sample_at(kStart, 0.25)));
  reference::RefclockBatch first;
  driver.read(first);
  CHECK(first.samples.size() == 1);
  CHECK(first.refusals.size() == 2);
  CHECK(events(first.notices) == std::vector<std::string>{"sock_malformed_datagram"});
  CHECK(first.notices[0].fields[1].second == "a datagram with magic 0x00000001 (a sock_sample's is 0x534f434b)");

  queue.pending.push_back(std::vector<std::byte>(64));
  reference::RefclockBatch second;
  driver.read(second);
  CHECK(second.notices.empty());
  CHECK(second.refusals == std::vector<std::string>{"a 64-byte datagram (a sock_sample is 40 bytes)"});
  CHECK(driver.malformed() == 3);
}

TEST_CASE("SOCK driver: a failing socket says so") {
  Queue queue;
  queue.failure = "recv: Bad file descriptor";
  reference::SockDriver driver{std::make_unique<FakeSocket>(queue), "/run/x.sock"};
  reference::RefclockBatch batch;
  driver.read(batch);
  CHECK(batch.failure == "/run/x.sock: recv: Bad file descriptor");
}

TEST_CASE("SOCK source: samples at 1 Hz, then holdover when they stop") {
  Queue queue;
  auto source = reference::make_sock_source(std::make_unique<FakeSocket>(queue), {"/run/chrony.ttyS0.sock", 0x534f434b});
  reference::Estimate e;
  for (int i = 0; i < 5; ++i) {
    const UtcTime system = kStart + seconds{i};
    queue.pending.push_back(bytes_of(sample_at(system, -0.0375, i == 4 ? 1 : 0)));
    e = source->poll(tick(system + milliseconds{200}));
  }
  const UtcTime last = kStart + seconds{4};
  CHECK(e.tracking);
  CHECK(e.line.of(last) == -microseconds{37'500});
  CHECK(e.leap == reference::LeapWarning::insert);
  CHECK(e.reference_id == 0x534f434b);
  CHECK(e.stratum == 0);
  const auto row = source->report()[0];
  CHECK(row.name == "SOCK(/run/chrony.ttyS0.sock)");
  CHECK(row.state == reference::SourceState::selected);
  CHECK(row.reach == 0b11111);
  CHECK(events(source->take_notices()) == std::vector<std::string>{"refclock_reachable"});

  for (int k = 1; k <= 4; ++k) e = source->poll(tick(last + milliseconds{200} + seconds{k}));
  CHECK_FALSE(e.tracking);
  CHECK(*e.last_update == last);
  CHECK(e.line.of(last) == -microseconds{37'500});
  CHECK(source->report()[0].state == reference::SourceState::unreachable);
  CHECK(events(source->take_notices()) == std::vector<std::string>{"refclock_unreachable"});
}

TEST_CASE("SOCK source: pulses only refuse the source, with one notice from the driver and one from the source") {
  Queue queue;
  auto source = reference::make_sock_source(std::make_unique<FakeSocket>(queue), {"/run/x.sock", 0});
  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    queue.pending.push_back(bytes_of(sample_at(kStart + seconds{i}, 0.000'002, 0, 1)));
    CHECK_FALSE(source->poll(tick(kStart + seconds{i} + milliseconds{200})).tracking);
    for (const std::string& event : events(source->take_notices())) seen.push_back(event);
  }
  CHECK(seen == std::vector<std::string>{"sock_pulse_refused", "refclock_refused"});
  const auto row = source->report()[0];
  CHECK(row.state == reference::SourceState::refused);
  CHECK(row.why.find("a pulse sample") == 0);
  CHECK(row.reach == 0);
}

TEST_CASE("SOCK socket: binds, replaces a stale socket, receives, and removes its file") {
  TempDir dir;
  const std::string path = (dir.path / "chrony.ttyS0.sock").string();

  // A socket file left behind by a process that is gone.
  {
    const int stale = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    REQUIRE(::bind(stale, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    ::close(stale);
  }
  std::string error;
  auto source = reference::make_sock_source({path, 0}, error);
  REQUIRE_MESSAGE(source != nullptr, error);

  const UtcTime system = kStart + milliseconds{10};
  REQUIRE(send_to(path, bytes_of(sample_at(system, 0.002))));
  REQUIRE(send_to(path, bytes_of(sample_at(system + seconds{1}, 0.002))));
  REQUIRE(send_to(path, std::vector<std::byte>(100)));
  const auto e = source->poll(tick(system + seconds{1} + milliseconds{5}));
  CHECK(e.tracking);
  CHECK(e.line.of(system) == milliseconds{2});
  CHECK(events(source->take_notices()) == std::vector<std::string>{"sock_malformed_datagram", "refclock_reachable"});
  // Nothing more pending: a poll returns at once.
  CHECK(source->poll(tick(system + seconds{2})).tracking);

  source.reset();
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("SOCK socket: what it will not do") {
  TempDir dir;
  std::string error;

  SUBCASE("bind in a directory that is not there") {
    CHECK(reference::make_sock_source({"/nonexistent/dir/x.sock", 0}, error) == nullptr);
    CHECK(error == "/nonexistent/dir/x.sock: cannot bind: No such file or directory");
  }
  SUBCASE("remove a file that is not a socket") {
    const std::string path = (dir.path / "data").string();
    std::ofstream{path} << "keep me";
    CHECK(reference::make_sock_source({path, 0}, error) == nullptr);
    CHECK(error == path + ": exists and is not a socket (not removing it)");
    CHECK(std::filesystem::exists(path));
  }
  SUBCASE("remove a socket another source bound since") {
    const std::string path = (dir.path / "x.sock").string();
    auto first = reference::make_sock_source({path, 0}, error);
    REQUIRE(first != nullptr);
    auto second = reference::make_sock_source({path, 0}, error);
    REQUIRE(second != nullptr);
    first.reset();
    CHECK(std::filesystem::exists(path));
    REQUIRE(send_to(path, bytes_of(sample_at(kStart, 0))));
    CHECK(second->poll(tick(kStart + milliseconds{1})).tracking);
  }
}
