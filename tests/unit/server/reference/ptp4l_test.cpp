#include "server/reference/ptp4l.hpp"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

using namespace std::chrono;
using leapdb::Nanoseconds;
using reference::ptp4l::Answers;
using reference::ptp4l::ClockIdentity;
using reference::ptp4l::ManagementId;
using reference::ptp4l::Observed;
using reference::ptp4l::PortState;
using reference::ptp4l::Rejected;
using reference::ptp4l::Reply;
using reference::ptp4l::Verdict;

namespace {

using Bytes = std::vector<std::byte>;

// Recorded from ptp4l 3.1.1; how, in the README beside them.
// From the build, not __FILE__: a compiler cache may make that relative to somewhere else.
const std::filesystem::path kFixtures = SMEARD_PTP4L_FIXTURES;

// Hex digits, anything else ignored.
Bytes hex(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) digits += c;
  }
  Bytes out;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes fixture(const std::string& name) {
  std::ifstream in{kFixtures / (name + ".hex")};
  REQUIRE_MESSAGE(in, "missing fixture " << name);
  std::stringstream text;
  text << in.rdbuf();
  return hex(text.str());
}

std::variant<Reply, Rejected> decode(const Bytes& datagram) { return reference::ptp4l::decode_reply(datagram); }

Reply reply(const std::string& name) {
  std::variant<Reply, Rejected> got = decode(fixture(name));
  REQUIRE_MESSAGE(std::holds_alternative<Reply>(got), name << ": " << std::get<Rejected>(got).why);
  return std::get<Reply>(got);
}

std::string rejected(const Bytes& datagram) {
  const std::variant<Reply, Rejected> got = decode(datagram);
  return std::holds_alternative<Rejected>(got) ? std::get<Rejected>(got).why : "(accepted)";
}

template <typename T>
T body(const std::string& name) {
  const Reply r = reply(name);
  REQUIRE(std::holds_alternative<T>(r.body));
  return std::get<T>(r.body);
}

void put16(Bytes& b, std::size_t at, unsigned value) {
  b[at] = static_cast<std::byte>(value >> 8);
  b[at + 1] = static_cast<std::byte>(value & 0xff);
}

constexpr ClockIdentity kSlave{0xb2, 0xa4, 0x81, 0xff, 0xfe, 0xd6, 0x73, 0x79};
constexpr ClockIdentity kMaster{0xc6, 0x47, 0xf2, 0xff, 0xfe, 0x59, 0x29, 0xe0};

// The answers a round brings in the recorded state `state` ("uncalibrated", "master6", ...).
Answers answers(const std::string& state) {
  const std::string port = state == "slave" ? "slave" : state;
  const std::string rest = state == "slave" ? "uncalibrated" : state;
  Answers a;
  a.ports.push_back(body<reference::ptp4l::PortDataSet>(port + ".port_data_set"));
  a.time_status = body<reference::ptp4l::TimeStatus>(rest + ".time_status_np");
  a.default_data_set = body<reference::ptp4l::DefaultDataSet>(rest + ".default_data_set");
  a.parent_data_set = body<reference::ptp4l::ParentDataSet>(rest + ".parent_data_set");
  return a;
}

Verdict judge(const Answers& a, Nanoseconds silent_for = seconds{1}) {
  return reference::ptp4l::judge(Observed{a, silent_for, ""}, "/var/run/ptp4l");
}

Answers with_port(Answers a, PortState state, std::uint16_t number = 1) {
  a.ports = {reference::ptp4l::PortDataSet{{kSlave, number}, state, 1, 3}};
  return a;
}

}  // namespace

// --- The codec ---

TEST_CASE("ptp4l: a GET, byte for byte") {
  const reference::ptp4l::PortIdentity source{{1, 2, 3, 4, 5, 6, 7, 8}, 0x0a0b};
  const auto get = reference::ptp4l::encode_get(ManagementId::time_status_np, 0x1234, source, 24);
  const Bytes expected =
      hex("0d 02 0036 18 00 0000"      // management, version 2, 54 bytes, domain 24, reserved, flags
          "0000000000000000 00000000"  // correctionField, reserved
          "0102030405060708 0a0b"      // sourcePortIdentity
          "1234 04 7f"                 // sequenceId, controlField, logMessageInterval
          "ffffffffffffffff ffff"      // targetPortIdentity: every clock, every port
          "00 00 00 00"                // startingBoundaryHops, boundaryHops, GET, reserved
          "0001 0002 c000");           // a MANAGEMENT TLV holding only its managementId: TIME_STATUS_NP
  CHECK(Bytes(get.begin(), get.end()) == expected);
  // A GET is no reply.
  CHECK(rejected(Bytes(get.begin(), get.end())) == "a management GET, not a RESPONSE");
}

TEST_CASE("ptp4l: PORT_DATA_SET replies as recorded") {
  const Reply r = reply("uncalibrated.port_data_set");
  CHECK(r.sequence_id == 0);
  CHECK(r.domain == 0);
  CHECK(r.source == reference::ptp4l::PortIdentity{kSlave, 1});
  CHECK(r.target == reference::ptp4l::PortIdentity{});  // the recorder's own, echoed
  const auto port = std::get<reference::ptp4l::PortDataSet>(r.body);
  CHECK(port.port == reference::ptp4l::PortIdentity{kSlave, 1});
  CHECK(port.state == PortState::uncalibrated);
  CHECK(port.log_announce_interval == 1);
  CHECK(port.announce_receipt_timeout == 3);
  CHECK(body<reference::ptp4l::PortDataSet>("slave.port_data_set").state == PortState::slave);
  CHECK(body<reference::ptp4l::PortDataSet>("listening.port_data_set").state == PortState::listening);
  // ptp4l says MASTER for its GRAND_MASTER ports.
  CHECK(body<reference::ptp4l::PortDataSet>("master6.port_data_set").state == PortState::master);
}

TEST_CASE("ptp4l: TIME_STATUS_NP replies as recorded") {
  const auto slave = body<reference::ptp4l::TimeStatus>("uncalibrated.time_status_np");
  CHECK(slave.master_offset == nanoseconds{-1324});
  CHECK(slave.ingress_time == nanoseconds{0x18eecfeb758a9dd7});
  CHECK(slave.gm_present);
  CHECK(slave.gm_identity == kMaster);
  CHECK(reference::ptp4l::to_string(slave.gm_identity) == "c647f2.fffe.5929e0");

  // The grandmaster itself: no other grandmaster, its own identity.
  const auto master = body<reference::ptp4l::TimeStatus>("master248.time_status_np");
  CHECK_FALSE(master.gm_present);
  CHECK(master.gm_identity == kMaster);
  CHECK(master.master_offset == nanoseconds{0});

  // A slave-only ptp4l that lost its master keeps naming it, and the last offset.
  const auto lost = body<reference::ptp4l::TimeStatus>("listening.time_status_np");
  CHECK(lost.gm_present);
  CHECK(lost.gm_identity == kMaster);
  CHECK(lost.ingress_time == nanoseconds{0});
}

TEST_CASE("ptp4l: DEFAULT_DATA_SET and PARENT_DATA_SET replies as recorded") {
  const Reply r = reply("uncalibrated.default_data_set");
  CHECK(r.source == reference::ptp4l::PortIdentity{kSlave, 0});  // clock data come from port 0
  const auto slave = std::get<reference::ptp4l::DefaultDataSet>(r.body);
  CHECK(slave.clock == kSlave);
  CHECK(slave.clock_class == 255);  // slaveOnly
  CHECK(slave.slave_only);
  CHECK(slave.number_ports == 1);
  CHECK(slave.domain == 0);
  CHECK(body<reference::ptp4l::DefaultDataSet>("master248.default_data_set").clock_class == 248);
  const auto locked = body<reference::ptp4l::DefaultDataSet>("master6.default_data_set");
  CHECK(locked.clock_class == 6);
  CHECK(locked.clock_accuracy == 0x21);
  CHECK_FALSE(locked.slave_only);

  const auto parent = body<reference::ptp4l::ParentDataSet>("uncalibrated.parent_data_set");
  CHECK(parent.parent == reference::ptp4l::PortIdentity{kMaster, 1});
  CHECK(parent.grandmaster == kMaster);
  CHECK(parent.grandmaster_class == 6);
}

TEST_CASE("ptp4l: MANAGEMENT_ERROR_STATUS as recorded") {
  const auto error = body<reference::ptp4l::ManagementError>("no_such_id");
  CHECK(static_cast<unsigned>(error.id) == 0x1234);
  CHECK(error.error == 2);
  CHECK(reference::ptp4l::error_name(error.error) == "NO_SUCH_ID");
  CHECK(reference::ptp4l::error_name(6) == "NOT_SUPPORTED");
  CHECK(reference::ptp4l::error_name(0x1234) == "error 0x1234");
  CHECK(reference::ptp4l::to_string(error.id) == "0x1234");
}

TEST_CASE("ptp4l: names") {
  CHECK(reference::ptp4l::to_string(PortState::pre_master) == "PRE_MASTER");
  CHECK(reference::ptp4l::to_string(PortState::grand_master) == "GRAND_MASTER");
  CHECK(reference::ptp4l::to_string(static_cast<PortState>(0)) == "state 0");
  CHECK(reference::ptp4l::to_string(ManagementId::time_status_np) == "TIME_STATUS_NP");
}

TEST_CASE("ptp4l: every truncation and every extension of a reply is rejected") {
  for (const char* name : {"uncalibrated.port_data_set", "uncalibrated.time_status_np", "master6.default_data_set",
                           "master6.parent_data_set", "no_such_id"}) {
    const Bytes whole = fixture(name);
    for (std::size_t n = 0; n < whole.size(); ++n) {
      CHECK_MESSAGE(rejected(Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(n))) != "(accepted)",
                    name << " cut to " << n);
    }
    Bytes longer = whole;
    longer.resize(whole.size() + 2);
    CHECK(rejected(longer).find("whose header says") != std::string::npos);
  }
  CHECK(rejected({}) == "a 0-byte datagram, shorter than a management message");
  Bytes cut = fixture("uncalibrated.port_data_set");
  cut.resize(60);
  CHECK(rejected(cut) == "a 60-byte datagram whose header says 80 bytes");
}

TEST_CASE("ptp4l: malformed replies are rejected with a reason") {
  const Bytes good = fixture("uncalibrated.port_data_set");
  auto edited = [&](auto edit) {
    Bytes b = good;
    edit(b);
    return rejected(b);
  };
  CHECK(edited([](Bytes& b) { b[0] = std::byte{0x0b}; }) == "a PTP message of type 11, not management");
  CHECK(edited([](Bytes& b) { b[1] = std::byte{0x01}; }) == "a message of PTP version 1, not 2");
  CHECK(edited([](Bytes& b) { b[1] = std::byte{0x12}; }) == "(accepted)");  // 1588-2019's minor version 1
  CHECK(edited([](Bytes& b) { b[46] = std::byte{0x04}; }) == "a management ACKNOWLEDGE, not a RESPONSE");
  CHECK(edited([](Bytes& b) { put16(b, 50, 0x40); }) == "a TLV longer than the message");
  CHECK(edited([](Bytes& b) { put16(b, 48, 0x0003); }) ==
        "a management message whose TLV is of type 0x0003, not MANAGEMENT");
  CHECK(edited([](Bytes& b) { put16(b, 52, 0x2001); }) == "a reply for 0x2001, which smeard does not ask for");
  CHECK(edited([](Bytes& b) { put16(b, 52, 0xc000); }) == "a 26-byte TIME_STATUS_NP (it is 50 bytes)");
  // A shorter TLV with the rest as a second one: the data set no longer fits.
  CHECK(edited([](Bytes& b) {
          put16(b, 50, 0x18);
          put16(b, 76, 0x0008);
          put16(b, 78, 0);
        }) == "a 22-byte PORT_DATA_SET (it is 26 bytes)");
  // Only the header: no TLV at all.
  Bytes bare(good.begin(), good.begin() + 48);
  put16(bare, 2, 48);
  CHECK(rejected(bare) == "a management message without a TLV");
  // An error status too short to hold its fields.
  Bytes error = fixture("no_such_id");
  put16(error, 50, 4);
  error.resize(56);
  put16(error, 2, 56);
  CHECK(rejected(error) == "a MANAGEMENT_ERROR_STATUS TLV cut short");
  // A second TLV after the first is allowed, if it fits.
  Bytes two = good;
  for (const int c : {0x00, 0x08, 0x00, 0x00}) two.push_back(static_cast<std::byte>(c));
  put16(two, 2, static_cast<unsigned>(two.size()));
  CHECK(rejected(two) == "(accepted)");
  two.resize(two.size() - 1);
  put16(two, 2, static_cast<unsigned>(two.size()));
  CHECK(rejected(two) == "a TLV cut off in its header");
}

TEST_CASE("ptp4l: random damage never reads out of range") {
  // Under AddressSanitizer a read past a datagram fails the test outright.
  std::mt19937 random{20240601};
  const std::vector<Bytes> seeds{fixture("uncalibrated.port_data_set"), fixture("uncalibrated.time_status_np"),
                                 fixture("master6.default_data_set"), fixture("listening.parent_data_set"),
                                 fixture("no_such_id")};
  std::size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes b = seeds[random() % seeds.size()];
    const unsigned edits = 1 + random() % 4;
    for (unsigned e = 0; e < edits; ++e) b[random() % b.size()] = static_cast<std::byte>(random());
    if (random() % 4 == 0) b.resize(random() % (b.size() + 8));
    if (std::holds_alternative<Reply>(decode(b))) ++accepted;
  }
  CHECK(accepted > 0);  // damage in the data fields still decodes
  for (int i = 0; i < 5000; ++i) {
    Bytes b(random() % 160);
    for (std::byte& x : b) x = static_cast<std::byte>(random());
    (void)decode(b);
  }
}

// --- The judge ---

TEST_CASE("ptp4l judge: the recorded states") {
  const Verdict uncalibrated = judge(answers("uncalibrated"));
  CHECK_FALSE(uncalibrated.synchronized);
  CHECK(uncalibrated.why == "ptp4l port 1 is UNCALIBRATED: not yet locked to a master");
  CHECK(uncalibrated.port_state == "UNCALIBRATED");
  CHECK(uncalibrated.master_offset == nanoseconds{-1324});
  CHECK(uncalibrated.grandmaster == kMaster);
  CHECK(uncalibrated.clock_class == 6);

  const Verdict slave = judge(answers("slave"));
  CHECK(slave.synchronized);
  CHECK(slave.why.empty());
  CHECK(slave.port_state == "SLAVE");
  CHECK(slave.master_offset == nanoseconds{-1324});
  CHECK(slave.grandmaster == kMaster);
  CHECK(slave.clock_class == 6);  // the grandmaster's

  const Verdict listening = judge(answers("listening"));
  CHECK_FALSE(listening.synchronized);
  CHECK(listening.why == "ptp4l port 1 is LISTENING: no master announces itself");

  const Verdict untraceable = judge(answers("master248"));
  CHECK_FALSE(untraceable.synchronized);
  CHECK(untraceable.why ==
        "ptp4l is the grandmaster but its clockClass 248 says it is not locked to a primary reference");
  CHECK(untraceable.port_state == "MASTER");
  CHECK(untraceable.clock_class == 248);

  const Verdict grandmaster = judge(answers("master6"));
  CHECK(grandmaster.synchronized);
  CHECK(grandmaster.port_state == "MASTER");
  CHECK(grandmaster.grandmaster == kMaster);
  CHECK(grandmaster.clock_class == 6);
}

TEST_CASE("ptp4l judge: every port state") {
  const Answers following = answers("slave");
  const std::map<PortState, std::string> why{
      {PortState::initializing, "ptp4l port 1 is INITIALIZING: it has only just started"},
      {PortState::faulty, "ptp4l port 1 is FAULTY: a fault (a link down, a lost timestamp) stopped it"},
      {PortState::disabled, "ptp4l port 1 is DISABLED: management switched it off"},
      {PortState::listening, "ptp4l port 1 is LISTENING: no master announces itself"},
      {PortState::pre_master, "ptp4l port 1 is PRE_MASTER: it is about to serve as a master, following none"},
      {PortState::passive, "ptp4l port 1 is PASSIVE: a better master serves this network, and the port follows none"},
      {PortState::uncalibrated, "ptp4l port 1 is UNCALIBRATED: not yet locked to a master"},
      {PortState::slave, ""},
      // A master port of a clock whose grandmaster is another: a boundary clock lost upstream.
      {PortState::master,
       "ptp4l port 1 is MASTER, following no master, yet another clock (c647f2.fffe.5929e0) is the grandmaster"},
      {PortState::grand_master,
       "ptp4l port 1 is GRAND_MASTER, following no master, yet another clock (c647f2.fffe.5929e0) is the grandmaster"},
  };
  for (const auto& [state, expected] : why) {
    const std::string name = reference::ptp4l::to_string(state);  // clang 14: no structured bindings in lambdas
    CAPTURE(name);
    const Verdict v = judge(with_port(following, state));
    CHECK(v.synchronized == (state == PortState::slave));
    CHECK(v.why == expected);
    CHECK(v.port_state == reference::ptp4l::to_string(state));
  }
  CHECK(judge(with_port(following, static_cast<PortState>(42))).why ==
        "ptp4l port 1 is in state 42, which is no PTP port state");
  CHECK(judge(with_port(following, PortState::listening, 3)).why.starts_with("ptp4l port 3 is LISTENING"));
}

TEST_CASE("ptp4l judge: a SLAVE port needs a grandmaster and an offset within 1 ms") {
  Answers a = answers("slave");
  a.time_status->master_offset = microseconds{1000};
  CHECK(judge(a).synchronized);
  a.time_status->master_offset = -microseconds{1000};
  CHECK(judge(a).synchronized);
  a.time_status->master_offset = microseconds{3200};
  Verdict v = judge(a);
  CHECK_FALSE(v.synchronized);
  CHECK(v.why == "ptp4l's master offset is 3.2 ms, more than 1 ms");
  CHECK(v.master_offset == microseconds{3200});
  a.time_status->master_offset = -nanoseconds{1'000'001};
  CHECK(judge(a).why == "ptp4l's master offset is -1 ms, more than 1 ms");
  a.time_status->master_offset = -nanoseconds{1'250'001};
  CHECK(judge(a).why == "ptp4l's master offset is -1.25 ms, more than 1 ms");
  a.time_status->master_offset = seconds{37};
  CHECK(judge(a).why == "ptp4l's master offset is 37 s, more than 1 ms");

  a.time_status->master_offset = nanoseconds{200};
  a.time_status->gm_present = false;
  v = judge(a);
  CHECK_FALSE(v.synchronized);
  CHECK(v.why == "ptp4l reports no grandmaster");
}

TEST_CASE("ptp4l judge: the grandmaster by its clockClass") {
  Answers a = answers("master6");
  for (const unsigned clock_class : {6u, 7u}) {
    a.default_data_set->clock_class = static_cast<std::uint8_t>(clock_class);
    CHECK(judge(a).synchronized);
  }
  for (const unsigned clock_class : {0u, 5u, 13u, 52u, 135u, 140u, 187u, 248u, 255u}) {
    a.default_data_set->clock_class = static_cast<std::uint8_t>(clock_class);
    const Verdict v = judge(a);
    CHECK_FALSE(v.synchronized);
    CHECK(v.why == "ptp4l is the grandmaster but its clockClass " + std::to_string(clock_class) +
                       " says it is not locked to a primary reference");
  }
  a.default_data_set->clock_class = 6;
  CHECK(judge(with_port(a, PortState::grand_master)).synchronized);
  // Its own identity, but no port serving yet (the first announce timeout has not passed).
  CHECK(judge(with_port(a, PortState::listening)).why == "ptp4l port 1 is LISTENING: no master announces itself");
}

TEST_CASE("ptp4l judge: several ports") {
  using reference::ptp4l::PortDataSet;
  Answers a = answers("uncalibrated");
  // A boundary clock: its upstream port decides.
  a.ports = {PortDataSet{{kSlave, 1}, PortState::master, 1, 3},
             PortDataSet{{kSlave, 2}, PortState::uncalibrated, 1, 3}};
  Verdict v = judge(a);
  CHECK(v.why == "ptp4l port 2 is UNCALIBRATED: not yet locked to a master");
  CHECK(v.port_state == "UNCALIBRATED");
  a.ports[1].state = PortState::slave;
  v = judge(a);
  CHECK(v.synchronized);
  CHECK(v.port_state == "SLAVE");
  // Nothing following: the port closest to it speaks.
  a.ports = {PortDataSet{{kSlave, 1}, PortState::faulty, 1, 3}, PortDataSet{{kSlave, 2}, PortState::listening, 1, 3},
             PortDataSet{{kSlave, 3}, PortState::disabled, 1, 3}};
  CHECK(judge(a).why == "ptp4l port 2 is LISTENING: no master announces itself");
}

TEST_CASE("ptp4l judge: silence, and answers missing") {
  using reference::ptp4l::judge;
  CHECK(judge(Observed{std::nullopt, seconds{0}, ""}, "/run/ptp4l").why == "ptp4l at /run/ptp4l has not answered yet");
  CHECK(judge(Observed{std::nullopt, milliseconds{2499}, ""}, "/run/ptp4l").why ==
        "ptp4l at /run/ptp4l has not answered yet");
  CHECK(judge(Observed{std::nullopt, milliseconds{2500}, ""}, "/run/ptp4l").why ==
        "ptp4l at /run/ptp4l does not answer");
  CHECK(judge(Observed{std::nullopt, seconds{5}, "sendto: No such file or directory"}, "/run/ptp4l").why ==
        "ptp4l at /run/ptp4l does not answer (sendto: No such file or directory)");
  // Answers, once good, go stale.
  const Answers good = answers("slave");
  CHECK(::judge(good, milliseconds{2400}).synchronized);
  const Verdict stale = ::judge(good, milliseconds{2500});
  CHECK_FALSE(stale.synchronized);
  CHECK(stale.why == "ptp4l at /var/run/ptp4l does not answer");

  Answers partial = good;
  partial.ports.clear();
  CHECK(::judge(partial).why == "ptp4l did not answer GET PORT_DATA_SET");
  partial.errors.push_back({ManagementId::port_data_set, 6});
  CHECK(::judge(partial).why == "ptp4l refuses GET PORT_DATA_SET: NOT_SUPPORTED");
  partial = good;
  partial.time_status.reset();
  CHECK(::judge(partial).why == "ptp4l did not answer GET TIME_STATUS_NP");
  partial = answers("master6");
  partial.default_data_set.reset();
  CHECK(::judge(partial).why == "ptp4l did not answer GET DEFAULT_DATA_SET");
}

// --- The monitor, with a fake socket ---

namespace {

struct Pending {
  Bytes bytes;
  std::size_t length = 0;  // as the kernel would report it; may exceed bytes.size()
  bool from_ptp4l = true;
  std::string from = "/var/run/ptp4l";
};

struct Wire {
  std::vector<Bytes> sent;
  std::deque<Pending> pending;
  std::string send_failure;
  std::string receive_failure;
};

class FakeChannel final : public reference::ptp4l::Channel {
 public:
  explicit FakeChannel(Wire& wire) : wire_(wire) {}
  bool send(std::span<const std::byte> datagram, std::string& error) override {
    if (!wire_.send_failure.empty()) {
      error = wire_.send_failure;
      return false;
    }
    wire_.sent.emplace_back(datagram.begin(), datagram.end());
    return true;
  }
  std::optional<reference::ptp4l::Datagram> receive(std::span<std::byte> buffer, std::string& error) override {
    if (!wire_.receive_failure.empty()) {
      error = wire_.receive_failure;
      return std::nullopt;
    }
    if (wire_.pending.empty()) return std::nullopt;
    Pending next = std::move(wire_.pending.front());
    wire_.pending.pop_front();
    std::memcpy(buffer.data(), next.bytes.data(), std::min(buffer.size(), next.bytes.size()));
    return reference::ptp4l::Datagram{next.length, next.from_ptp4l, next.from};
  }

 private:
  Wire& wire_;
};

unsigned get16(const Bytes& b, std::size_t at) {
  return (std::to_integer<unsigned>(b[at]) << 8) | std::to_integer<unsigned>(b[at + 1]);
}

// A recorded reply made the answer to `request`, as ptp4l makes one: its sequenceId, and the
// request's sourcePortIdentity as the target.
Bytes answering(Bytes reply, const Bytes& request) {
  std::copy(request.begin() + 30, request.begin() + 32, reply.begin() + 30);
  std::copy(request.begin() + 20, request.begin() + 30, reply.begin() + 34);
  return reply;
}

// What ptp4l in a recorded state answers to each GET sent since the last call.
struct FakePtp4l {
  Wire& wire;
  std::map<unsigned, std::vector<Bytes>> replies;  // by managementId
  std::size_t answered = 0;

  void load(const std::string& state) {
    const std::string rest = state == "slave" ? "uncalibrated" : state;
    replies = {{0x2004, {fixture((state == "slave" ? "slave" : state) + ".port_data_set")}},
               {0xc000, {fixture(rest + ".time_status_np")}},
               {0x2000, {fixture(rest + ".default_data_set")}},
               {0x2002, {fixture(rest + ".parent_data_set")}}};
  }
  void answer_all() {
    for (; answered < wire.sent.size(); ++answered) {
      const Bytes& request = wire.sent[answered];
      for (const Bytes& r : replies[get16(request, 52)]) wire.pending.push_back({answering(r, request), r.size()});
    }
  }
};

std::unique_ptr<reference::ptp4l::Monitor> monitor(Wire& wire, const std::string& path = "/var/run/ptp4l") {
  return std::make_unique<reference::ptp4l::Monitor>(std::make_unique<FakeChannel>(wire), path);
}

}  // namespace

TEST_CASE("ptp4l monitor: each poll takes the last round's replies and sends the next round") {
  Wire wire;
  FakePtp4l ptp4l{wire, {}};
  ptp4l.load("slave");
  auto m = monitor(wire);

  Verdict v = m->poll(seconds{100});
  CHECK(v.why == "ptp4l at /var/run/ptp4l has not answered yet");
  REQUIRE(wire.sent.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(wire.sent[i].size() == reference::ptp4l::kGetSize);
    CHECK(get16(wire.sent[i], 52) == static_cast<unsigned>(reference::ptp4l::kAsked[i]));
    CHECK(get16(wire.sent[i], 30) == i);  // sequenceIds, one per GET
    CHECK(Bytes(wire.sent[i].begin() + 20, wire.sent[i].begin() + 30) ==
          Bytes(wire.sent[0].begin() + 20, wire.sent[0].begin() + 30));  // one source for all
  }

  ptp4l.answer_all();
  v = m->poll(seconds{101});
  CHECK(v.synchronized);
  CHECK(v.port_state == "SLAVE");
  CHECK(v.grandmaster == kMaster);
  CHECK(m->rejected() == 0);
  CHECK(wire.sent.size() == 8);
  CHECK(get16(wire.sent[4], 30) == 4);

  ptp4l.load("listening");
  ptp4l.answer_all();
  v = m->poll(seconds{102});
  CHECK(v.why == "ptp4l port 1 is LISTENING: no master announces itself");

  // ptp4l goes quiet: the last answers stand for two more polls, then "does not answer".
  CHECK(m->poll(seconds{103}).why == "ptp4l port 1 is LISTENING: no master announces itself");
  CHECK(m->poll(seconds{104}).why == "ptp4l port 1 is LISTENING: no master announces itself");
  CHECK(m->poll(seconds{105}).why == "ptp4l at /var/run/ptp4l does not answer");
  ptp4l.answered = wire.sent.size() - 4;  // only the newest round is still in flight

  ptp4l.load("master6");
  ptp4l.answer_all();
  CHECK(m->poll(seconds{106}).synchronized);
}

TEST_CASE("ptp4l monitor: late, foreign and mismatched replies are refused") {
  Wire wire;
  FakePtp4l ptp4l{wire, {}};
  ptp4l.load("slave");
  auto m = monitor(wire);
  m->poll(seconds{1});
  m->poll(seconds{2});  // nothing came: a second round is in flight

  // Replies to the first round arrive now: too late.
  ptp4l.answer_all();  // answers both rounds
  CHECK(m->poll(seconds{3}).synchronized);
  CHECK(m->rejected() == 4);
  CHECK(m->last_rejection() == "a reply to sequenceId 3, which no GET in flight has");

  const Bytes& request = wire.sent.back();  // the newest round's PARENT_DATA_SET
  const Bytes parent = answering(fixture("uncalibrated.parent_data_set"), request);
  wire.pending.push_back({parent, parent.size(), false, "/tmp/not-ptp4l"});
  m->poll(seconds{4});
  CHECK(m->last_rejection() == "a datagram from /tmp/not-ptp4l, not from ptp4l");
  wire.pending.push_back({parent, parent.size(), false, ""});
  m->poll(seconds{5});
  CHECK(m->last_rejection() == "a datagram from an unnamed socket, not from ptp4l");

  Bytes elsewhere = answering(fixture("uncalibrated.parent_data_set"), wire.sent.back());
  elsewhere[43] ^= std::byte{1};
  wire.pending.push_back({elsewhere, elsewhere.size()});
  m->poll(seconds{6});
  CHECK(m->last_rejection() == "a reply addressed to another client");

  // A TIME_STATUS_NP reply carrying the sequenceId of the GET for PORT_DATA_SET.
  const Bytes swapped = answering(fixture("uncalibrated.time_status_np"), wire.sent[wire.sent.size() - 4]);
  wire.pending.push_back({swapped, swapped.size()});
  m->poll(seconds{7});
  CHECK(m->last_rejection() == "a reply about TIME_STATUS_NP to the GET for PORT_DATA_SET");

  wire.pending.push_back({Bytes(600), 2000});
  m->poll(seconds{8});
  CHECK(m->last_rejection() == "a 2000-byte datagram, longer than any reply to the GETs smeard sends");
  wire.pending.push_back({Bytes(12), 12});
  const std::uint64_t before = m->rejected();
  m->poll(seconds{9});
  CHECK(m->rejected() == before + 1);
  CHECK(m->last_rejection() == "a 12-byte datagram, shorter than a management message");
}

TEST_CASE("ptp4l monitor: garbage beside good replies does not spoil them") {
  Wire wire;
  FakePtp4l ptp4l{wire, {}};
  ptp4l.load("master6");
  auto m = monitor(wire);
  m->poll(seconds{1});
  wire.pending.push_back({Bytes(80, std::byte{0xff}), 80});
  ptp4l.answer_all();
  wire.pending.push_back({Bytes(3), 3});
  CHECK(m->poll(seconds{2}).synchronized);
  CHECK(m->rejected() == 2);
}

TEST_CASE("ptp4l monitor: a boundary clock answers once per port") {
  Wire wire;
  FakePtp4l ptp4l{wire, {}};
  ptp4l.load("uncalibrated");
  Bytes second = fixture("slave.port_data_set");
  put16(second, 28, 2);  // sourcePortIdentity and portIdentity: port 2
  put16(second, 62, 2);
  ptp4l.replies[0x2004].push_back(second);
  auto m = monitor(wire);
  m->poll(seconds{1});
  ptp4l.answer_all();
  const Verdict v = m->poll(seconds{2});
  CHECK(v.synchronized);
  CHECK(v.port_state == "SLAVE");
}

TEST_CASE("ptp4l monitor: an error status names what ptp4l refused") {
  Wire wire;
  FakePtp4l ptp4l{wire, {}};
  ptp4l.load("slave");
  Bytes refusal = fixture("no_such_id");
  put16(refusal, 52, 0x0006);  // NOT_SUPPORTED
  put16(refusal, 54, 0xc000);  // TIME_STATUS_NP
  ptp4l.replies[0xc000] = {refusal};
  auto m = monitor(wire);
  m->poll(seconds{1});
  ptp4l.answer_all();
  CHECK(m->poll(seconds{2}).why == "ptp4l refuses GET TIME_STATUS_NP: NOT_SUPPORTED");
}

TEST_CASE("ptp4l monitor: a flood waits for the next poll") {
  Wire wire;
  auto m = monitor(wire);
  m->poll(seconds{1});
  for (std::size_t i = 0; i < 300; ++i) wire.pending.push_back({Bytes(8), 8});
  m->poll(seconds{2});
  CHECK(m->rejected() == reference::ptp4l::Monitor::kMaxPerPoll);
  CHECK(wire.pending.size() == 300 - reference::ptp4l::Monitor::kMaxPerPoll);
}

TEST_CASE("ptp4l monitor: a socket that fails says why, once ptp4l counts as silent") {
  Wire wire;
  wire.send_failure = "sendto: No such file or directory";
  auto m = monitor(wire, "/run/ptp4l");
  CHECK(m->poll(seconds{10}).why == "ptp4l at /run/ptp4l has not answered yet");
  CHECK(wire.sent.empty());
  CHECK(m->poll(seconds{11}).why == "ptp4l at /run/ptp4l has not answered yet");
  CHECK(m->poll(seconds{12}).why == "ptp4l at /run/ptp4l has not answered yet");
  CHECK(m->poll(seconds{13}).why == "ptp4l at /run/ptp4l does not answer (sendto: No such file or directory)");
  wire.send_failure.clear();
  wire.receive_failure = "recvfrom: Bad file descriptor";
  m->poll(seconds{14});
  CHECK(m->poll(seconds{15}).why == "ptp4l at /run/ptp4l does not answer (recvfrom: Bad file descriptor)");
}

// --- The real socket, against a stand-in for ptp4l ---

namespace {

// A fresh directory under TMPDIR, removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "smeard-ptp4l-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// A datagram socket bound at a path, answering GETs from recorded replies, as ptp4l would.
struct StandIn {
  int fd = -1;
  explicit StandIn(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  ~StandIn() { ::close(fd); }
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;

  // Answers what is pending; returns how many GETs there were.
  int answer(const std::string& state) {
    Wire wire;
    FakePtp4l fake{wire, {}};
    fake.load(state);
    int gets = 0;
    for (;;) {
      Bytes request(256);
      sockaddr_un from{};
      socklen_t from_length = sizeof from;
      const ssize_t n =
          ::recvfrom(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n < 0) return gets;
      ++gets;
      request.resize(static_cast<std::size_t>(n));
      for (const Bytes& r : fake.replies[get16(request, 52)]) {
        const Bytes reply = answering(r, request);
        REQUIRE(::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&from), from_length) ==
                static_cast<ssize_t>(reply.size()));
      }
    }
  }
};

}  // namespace

TEST_CASE("ptp4l monitor: open refuses only paths no socket can have") {
  std::string error;
  CHECK(reference::ptp4l::Monitor::open("", error) == nullptr);
  CHECK(error == ": a Unix socket path must be 1 to 107 bytes");
  CHECK(reference::ptp4l::Monitor::open("/" + std::string(107, 'x'), error) == nullptr);
  error.clear();
  auto absent = reference::ptp4l::Monitor::open("/nonexistent/ptp4l", error);
  REQUIRE(absent != nullptr);
  CHECK(error.empty());
  absent->poll(seconds{1});
  CHECK(absent->poll(seconds{4}).why ==
        "ptp4l at /nonexistent/ptp4l does not answer (sendto: No such file or directory)");
}

TEST_CASE("ptp4l monitor: a real round trip, from an abstract socket of its own") {
  TempDir dir;
  const std::string path = (dir.path / "ptp4l").string();
  StandIn ptp4l{path};
  std::string error;
  auto first = reference::ptp4l::Monitor::open(path, error);
  auto second = reference::ptp4l::Monitor::open(path, error);
  REQUIRE(first != nullptr);
  REQUIRE(second != nullptr);
  first->poll(seconds{1});
  second->poll(seconds{1});
  CHECK(ptp4l.answer("slave") == 8);
  const Verdict v = first->poll(seconds{2});
  CHECK(v.synchronized);
  CHECK(v.port_state == "SLAVE");
  CHECK(second->poll(seconds{2}).synchronized);
  CHECK(first->rejected() == 0);
  CHECK(second->rejected() == 0);

  // Through a symlink (linuxptp 4 keeps /var/run/ptp4l -> ptp/ptp4l): replies come from the target.
  const std::string link = (dir.path / "link").string();
  std::filesystem::create_symlink(path, link);
  auto linked = reference::ptp4l::Monitor::open(link, error);
  REQUIRE(linked != nullptr);
  linked->poll(seconds{1});
  ptp4l.answer("master6");
  CHECK(linked->poll(seconds{2}).synchronized);
  CHECK(linked->rejected() == 0);
}
