#include "server/reference/ptp4l.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <type_traits>

namespace reference::ptp4l {
namespace {

// A management message as far as smeard uses it (IEEE 1588-2008 13.3 and 15.4.1).
constexpr std::size_t kHeaderSize = 48;
constexpr std::size_t kTlvOffset = kHeaderSize;
constexpr std::size_t kTlvHeaderSize = 4;
constexpr std::uint8_t kMessageTypeManagement = 0xD;
constexpr std::uint8_t kVersion = 2;
constexpr std::uint8_t kControlManagement = 0x04;  // 1588-2008 table 23; ptp4l ignores it
constexpr std::int8_t kLogIntervalNone = 0x7f;     // management messages have none
constexpr std::uint8_t kActionGet = 0;
constexpr std::uint8_t kActionResponse = 2;
constexpr std::uint16_t kTlvManagement = 0x0001;
constexpr std::uint16_t kTlvManagementErrorStatus = 0x0002;

// The data sets' sizes on the wire (linuxptp's ds.h and tlv.h, packed).
constexpr std::size_t kPortDataSetSize = 26;
constexpr std::size_t kTimeStatusSize = 50;
constexpr std::size_t kDefaultDataSetSize = 20;
constexpr std::size_t kParentDataSetSize = 32;
constexpr std::size_t kErrorStatusMinimum = 8;  // error, id, 4 reserved; then an optional text

using Bytes = std::span<const std::byte>;

// Big-endian reads that never leave `bytes`: out of range reads as zero. Every caller has
// checked the length first; this is the second line.
std::uint64_t read_be(Bytes bytes, std::size_t at, std::size_t width) {
  if (at > bytes.size() || width > bytes.size() - at) return 0;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) value = (value << 8) | std::to_integer<std::uint64_t>(bytes[at + i]);
  return value;
}
std::uint8_t u8(Bytes b, std::size_t at) { return static_cast<std::uint8_t>(read_be(b, at, 1)); }
std::uint16_t u16(Bytes b, std::size_t at) { return static_cast<std::uint16_t>(read_be(b, at, 2)); }
std::uint32_t u32(Bytes b, std::size_t at) { return static_cast<std::uint32_t>(read_be(b, at, 4)); }
std::int64_t i64(Bytes b, std::size_t at) { return static_cast<std::int64_t>(read_be(b, at, 8)); }

ClockIdentity clock_identity(Bytes b, std::size_t at) {
  ClockIdentity id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = u8(b, at + i);
  return id;
}
PortIdentity port_identity(Bytes b, std::size_t at) { return PortIdentity{clock_identity(b, at), u16(b, at + 8)}; }

template <std::size_t N>
void put_be(std::array<std::byte, N>& out, std::size_t at, std::uint64_t value, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) out[at + i] = std::byte((value >> (8 * (width - 1 - i))) & 0xff);
}

PortDataSet port_data_set(Bytes d) {
  return PortDataSet{port_identity(d, 0), static_cast<PortState>(u8(d, 10)), static_cast<std::int8_t>(u8(d, 20)),
                     u8(d, 21)};
}

TimeStatus time_status(Bytes d) {
  // master_offset, ingress_time, cumulativeScaledRateOffset, scaledLastGmPhaseChange,
  // gmTimeBaseIndicator, lastGmPhaseChange (12 bytes), gmPresent, gmIdentity.
  return TimeStatus{leapdb::Nanoseconds{i64(d, 0)}, leapdb::Nanoseconds{i64(d, 8)}, u32(d, 38) != 0,
                    clock_identity(d, 42)};
}

DefaultDataSet default_data_set(Bytes d) {
  DefaultDataSet out;
  out.slave_only = (u8(d, 0) & 0x02) != 0;
  out.number_ports = u16(d, 2);
  out.priority1 = u8(d, 4);
  out.clock_class = u8(d, 5);
  out.clock_accuracy = u8(d, 6);
  out.priority2 = u8(d, 9);
  out.clock = clock_identity(d, 10);
  out.domain = u8(d, 18);
  return out;
}

ParentDataSet parent_data_set(Bytes d) {
  ParentDataSet out;
  out.parent = port_identity(d, 0);
  out.grandmaster_priority1 = u8(d, 18);
  out.grandmaster_class = u8(d, 19);
  out.grandmaster = clock_identity(d, 24);
  return out;
}

std::string hex16(std::uint16_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%04x", value);
  return text;
}

std::string byte_size(std::size_t n) { return std::to_string(n) + "-byte"; }

using Body = decltype(Reply::body);

// The data of a MANAGEMENT TLV (its id already read) as the data set it must be.
std::variant<Body, Rejected> management_body(ManagementId id, Bytes data) {
  std::size_t expected = 0;
  switch (id) {
    case ManagementId::port_data_set: expected = kPortDataSetSize; break;
    case ManagementId::time_status_np: expected = kTimeStatusSize; break;
    case ManagementId::default_data_set: expected = kDefaultDataSetSize; break;
    case ManagementId::parent_data_set: expected = kParentDataSetSize; break;
    default: return Rejected{"a reply for " + to_string(id) + ", which smeard does not ask for"};
  }
  if (data.size() != expected) {
    return Rejected{"a " + byte_size(data.size()) + " " + to_string(id) + " (it is " + std::to_string(expected) +
                    " bytes)"};
  }
  switch (id) {
    case ManagementId::port_data_set: return Body{port_data_set(data)};
    case ManagementId::time_status_np: return Body{time_status(data)};
    case ManagementId::default_data_set: return Body{default_data_set(data)};
    default: return Body{parent_data_set(data)};
  }
}

// The first TLV, which says what the reply is. Those after it (ptp4l adds none to a reply on its
// management socket) are only checked to fit.
std::variant<Body, Rejected> tlv_body(Bytes tlvs) {
  std::size_t at = 0;
  std::optional<Bytes> first;
  std::uint16_t first_type = 0;
  while (at < tlvs.size()) {
    if (tlvs.size() - at < kTlvHeaderSize) return Rejected{"a TLV cut off in its header"};
    const std::uint16_t type = u16(tlvs, at);
    const std::size_t length = u16(tlvs, at + 2);
    if (length > tlvs.size() - at - kTlvHeaderSize) return Rejected{"a TLV longer than the message"};
    if (!first) {
      first = tlvs.subspan(at + kTlvHeaderSize, length);
      first_type = type;
    }
    at += kTlvHeaderSize + length;
  }
  if (!first) return Rejected{"a management message without a TLV"};
  const Bytes value = *first;
  if (first_type == kTlvManagement) {
    if (value.size() < 2) return Rejected{"a MANAGEMENT TLV without a managementId"};
    return management_body(static_cast<ManagementId>(u16(value, 0)), value.subspan(2));
  }
  if (first_type == kTlvManagementErrorStatus) {
    if (value.size() < kErrorStatusMinimum) return Rejected{"a MANAGEMENT_ERROR_STATUS TLV cut short"};
    return Body{ManagementError{static_cast<ManagementId>(u16(value, 2)), u16(value, 0)}};
  }
  return Rejected{"a management message whose TLV is of type " + hex16(first_type) + ", not MANAGEMENT"};
}

std::string_view action_name(std::uint8_t action) {
  static constexpr std::array<std::string_view, 5> kNames{"GET", "SET", "RESPONSE", "COMMAND", "ACKNOWLEDGE"};
  return action < kNames.size() ? kNames[action] : "an unknown action";
}

}  // namespace

std::string to_string(const ClockIdentity& id) {
  char text[24];
  std::snprintf(text, sizeof text, "%02x%02x%02x.%02x%02x.%02x%02x%02x", id[0], id[1], id[2], id[3], id[4], id[5],
                id[6], id[7]);
  return text;
}

std::string to_string(PortState state) {
  switch (state) {
    case PortState::initializing: return "INITIALIZING";
    case PortState::faulty: return "FAULTY";
    case PortState::disabled: return "DISABLED";
    case PortState::listening: return "LISTENING";
    case PortState::pre_master: return "PRE_MASTER";
    case PortState::master: return "MASTER";
    case PortState::passive: return "PASSIVE";
    case PortState::uncalibrated: return "UNCALIBRATED";
    case PortState::slave: return "SLAVE";
    case PortState::grand_master: return "GRAND_MASTER";
  }
  return "state " + std::to_string(static_cast<unsigned>(state));
}

std::string to_string(ManagementId id) {
  switch (id) {
    case ManagementId::default_data_set: return "DEFAULT_DATA_SET";
    case ManagementId::parent_data_set: return "PARENT_DATA_SET";
    case ManagementId::port_data_set: return "PORT_DATA_SET";
    case ManagementId::time_status_np: return "TIME_STATUS_NP";
  }
  return hex16(static_cast<std::uint16_t>(id));
}

std::string error_name(std::uint16_t error) {
  switch (error) {
    case 0x0001: return "RESPONSE_TOO_BIG";
    case 0x0002: return "NO_SUCH_ID";
    case 0x0003: return "WRONG_LENGTH";
    case 0x0004: return "WRONG_VALUE";
    case 0x0005: return "NOT_SETABLE";
    case 0x0006: return "NOT_SUPPORTED";
    case 0xFFFE: return "GENERAL_ERROR";
    default: return "error " + hex16(error);
  }
}

std::array<std::byte, kGetSize> encode_get(ManagementId id, std::uint16_t sequence_id, const PortIdentity& source,
                                           std::uint8_t domain) {
  std::array<std::byte, kGetSize> out{};
  put_be(out, 0, kMessageTypeManagement, 1);  // transportSpecific 0
  put_be(out, 1, kVersion, 1);
  put_be(out, 2, kGetSize, 2);
  put_be(out, 4, domain, 1);
  for (std::size_t i = 0; i < source.clock.size(); ++i) put_be(out, 20 + i, source.clock[i], 1);
  put_be(out, 28, source.port, 2);
  put_be(out, 30, sequence_id, 2);
  put_be(out, 32, kControlManagement, 1);
  put_be(out, 33, static_cast<std::uint8_t>(kLogIntervalNone), 1);
  for (std::size_t i = 34; i < 44; ++i) out[i] = std::byte{0xff};  // targetPortIdentity: every port
  // startingBoundaryHops and boundaryHops 0, reserved 0.
  put_be(out, 46, kActionGet, 1);
  put_be(out, kTlvOffset, kTlvManagement, 2);
  put_be(out, kTlvOffset + 2, 2, 2);  // the TLV holds the managementId alone
  put_be(out, kTlvOffset + 4, static_cast<std::uint16_t>(id), 2);
  return out;
}

std::variant<Reply, Rejected> decode_reply(Bytes datagram) {
  const std::size_t size = datagram.size();
  if (size < kHeaderSize) return Rejected{"a " + byte_size(size) + " datagram, shorter than a management message"};
  const std::uint8_t type = u8(datagram, 0) & 0x0f;
  if (type != kMessageTypeManagement) {
    return Rejected{"a PTP message of type " + std::to_string(type) + ", not management"};
  }
  if ((u8(datagram, 1) & 0x0f) != kVersion) {
    return Rejected{"a message of PTP version " + std::to_string(u8(datagram, 1) & 0x0f) + ", not 2"};
  }
  if (u16(datagram, 2) != size) {
    return Rejected{"a " + byte_size(size) + " datagram whose header says " + std::to_string(u16(datagram, 2)) +
                    " bytes"};
  }
  const std::uint8_t action = u8(datagram, 46) & 0x0f;
  if (action != kActionResponse) {
    return Rejected{"a management " + std::string{action_name(action)} + ", not a RESPONSE"};
  }
  std::variant<Body, Rejected> body = tlv_body(datagram.subspan(kTlvOffset));
  if (Rejected* rejected = std::get_if<Rejected>(&body)) return std::move(*rejected);
  Reply reply;
  reply.domain = u8(datagram, 4);
  reply.source = port_identity(datagram, 20);
  reply.sequence_id = u16(datagram, 30);
  reply.target = port_identity(datagram, 34);
  reply.body = std::get<Body>(std::move(body));
  return reply;
}

// --- The judge ---

namespace {

bool is_master(PortState state) { return state == PortState::master || state == PortState::grand_master; }

// How close a state is to following a master, for choosing the port a verdict speaks of.
int progress(PortState state) {
  switch (state) {
    case PortState::slave: return 9;
    case PortState::uncalibrated: return 8;
    case PortState::master:
    case PortState::grand_master: return 7;
    case PortState::passive: return 6;
    case PortState::pre_master: return 5;
    case PortState::listening: return 4;
    case PortState::initializing: return 3;
    case PortState::disabled: return 2;
    case PortState::faulty: return 1;
  }
  return 0;
}

const PortDataSet& most_advanced(const std::vector<PortDataSet>& ports) {
  return *std::ranges::max_element(ports, {}, [](const PortDataSet& p) { return progress(p.state); });
}

// Why a port in this state does not make the clock trustworthy.
std::string port_why(const PortDataSet& port, const std::optional<TimeStatus>& status) {
  const std::string head = "ptp4l port " + std::to_string(port.port.port) + " is ";
  switch (port.state) {
    case PortState::initializing: return head + "INITIALIZING: it has only just started";
    case PortState::faulty: return head + "FAULTY: a fault (a link down, a lost timestamp) stopped it";
    case PortState::disabled: return head + "DISABLED: management switched it off";
    case PortState::listening: return head + "LISTENING: no master announces itself";
    case PortState::pre_master: return head + "PRE_MASTER: it is about to serve as a master, following none";
    case PortState::passive: return head + "PASSIVE: a better master serves this network, and the port follows none";
    case PortState::uncalibrated: return head + "UNCALIBRATED: not yet locked to a master";
    case PortState::slave: return head + "SLAVE";
    case PortState::master:
    case PortState::grand_master: {
      const std::string other = status ? " (" + to_string(status->gm_identity) + ")" : "";
      return head + to_string(port.state) + ", following no master, yet another clock" + other + " is the grandmaster";
    }
  }
  return "ptp4l port " + std::to_string(port.port.port) + " is in " + to_string(port.state) +
         ", which is no PTP port state";
}

// "3.2 ms", "-0.25 ms", "37 s".
std::string offset_text(leapdb::Nanoseconds offset) {
  const bool seconds = offset >= std::chrono::seconds{1} || offset <= -std::chrono::seconds{1};
  char text[40];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(offset.count()) / (seconds ? 1e9 : 1e6));
  std::string out = text;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out + (seconds ? " s" : " ms");
}

std::string missing(const Answers& answers, ManagementId id) {
  for (const ManagementError& e : answers.errors) {
    if (e.id == id) return "ptp4l refuses GET " + to_string(id) + ": " + error_name(e.error);
  }
  return "ptp4l did not answer GET " + to_string(id);
}

Verdict slave_verdict(Verdict v, const Answers& answers) {
  if (!answers.time_status) {
    v.why = missing(answers, ManagementId::time_status_np);
    return v;
  }
  const leapdb::Nanoseconds offset = answers.time_status->master_offset;
  if (!answers.time_status->gm_present) {
    v.why = "ptp4l reports no grandmaster";
  } else if (offset > kMaxMasterOffset || offset < -kMaxMasterOffset) {
    v.why = "ptp4l's master offset is " + offset_text(offset) + ", more than " + offset_text(kMaxMasterOffset);
  } else {
    v.synchronized = true;
  }
  return v;
}

// A master port and no SLAVE one: synchronized only as the traceable grandmaster.
std::optional<Verdict> grandmaster_verdict(Verdict v, const Answers& answers) {
  if (!answers.default_data_set || !answers.time_status) {
    v.why = missing(answers, answers.default_data_set ? ManagementId::time_status_np : ManagementId::default_data_set);
    return v;
  }
  const DefaultDataSet& own = *answers.default_data_set;
  if (answers.time_status->gm_identity != own.clock) return std::nullopt;  // a boundary clock's downstream port
  v.clock_class = own.clock_class;
  if (own.clock_class == 6 || own.clock_class == 7) {
    v.synchronized = true;
  } else {
    v.why = "ptp4l is the grandmaster but its clockClass " + std::to_string(own.clock_class) +
            " says it is not locked to a primary reference";
  }
  return v;
}

}  // namespace

Verdict judge(const Observed& observed, std::string_view path) {
  Verdict v;
  if (observed.silent_for >= kNoAnswerAfter || !observed.answers) {
    const bool long_silent = observed.silent_for >= kNoAnswerAfter;
    v.why = "ptp4l at " + std::string{path} + (long_silent ? " does not answer" : " has not answered yet");
    if (long_silent && !observed.socket_error.empty()) v.why += " (" + observed.socket_error + ")";
    return v;
  }
  const Answers& answers = *observed.answers;
  if (answers.ports.empty()) {
    v.why = missing(answers, ManagementId::port_data_set);
    return v;
  }
  if (answers.time_status) {
    v.master_offset = answers.time_status->master_offset;
    v.grandmaster = answers.time_status->gm_identity;
  }
  if (answers.parent_data_set) v.clock_class = answers.parent_data_set->grandmaster_class;

  const PortDataSet& best = most_advanced(answers.ports);
  v.port_state = to_string(best.state);
  if (best.state == PortState::slave) return slave_verdict(std::move(v), answers);
  if (is_master(best.state)) {
    if (std::optional<Verdict> gm = grandmaster_verdict(v, answers)) return std::move(*gm);
  }
  // Not the grandmaster: what the most advanced port that follows (or should) lacks.
  std::vector<PortDataSet> followers;
  std::ranges::copy_if(answers.ports, std::back_inserter(followers),
                       [](const PortDataSet& p) { return !is_master(p.state); });
  const PortDataSet& told = followers.empty() ? best : most_advanced(followers);
  v.port_state = to_string(told.state);
  v.why = port_why(told, answers.time_status);
  return v;
}

// --- The I/O shell ---

namespace {

class KernelChannel final : public Channel {
 public:
  KernelChannel(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    to_.sun_family = AF_UNIX;
    std::memcpy(to_.sun_path, path_.data(), path_.size());
    to_length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size() + 1);
  }
  ~KernelChannel() override { ::close(fd_); }
  KernelChannel(const KernelChannel&) = delete;
  KernelChannel& operator=(const KernelChannel&) = delete;

  bool send(Bytes datagram, std::string& error) override {
    for (;;) {
      const ssize_t n = ::sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
                                 reinterpret_cast<const sockaddr*>(&to_), to_length_);
      if (n >= 0) return true;
      if (errno == EINTR) continue;
      error = std::string{"sendto: "} + std::strerror(errno);
      return false;
    }
  }

  std::optional<Datagram> receive(std::span<std::byte> buffer, std::string& error) override {
    sockaddr_un from{};
    socklen_t from_length = sizeof from;
    for (;;) {
      // MSG_TRUNC: the real length, so that an oversized datagram is not taken for its start.
      const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT | MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n >= 0) return datagram(static_cast<std::size_t>(n), from, from_length);
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = std::string{"recvfrom: "} + std::strerror(errno);
      return std::nullopt;
    }
  }

 private:
  Datagram datagram(std::size_t length, const sockaddr_un& from, socklen_t from_length) const {
    Datagram out;
    out.length = length;
    const std::size_t name_length =
        from_length > offsetof(sockaddr_un, sun_path)
            ? std::min<std::size_t>(from_length - offsetof(sockaddr_un, sun_path), sizeof from.sun_path)
            : 0;
    if (name_length > 0 && from.sun_path[0] != '\0') {
      out.from.assign(from.sun_path, ::strnlen(from.sun_path, name_length));
    }
    out.from_ptp4l = !out.from.empty() && is_ptp4l(out.from);
    return out;
  }

  // ptp4l binds the path in its config; ours may lead there through a symlink (linuxptp 4 keeps
  // one at /var/run/ptp4l). Resolved afresh each time: ptp4l may have been restarted elsewhere.
  bool is_ptp4l(const std::string& from) const {
    if (from == path_) return true;
    const std::optional<std::string> real_from = resolved(from);
    return real_from && real_from == resolved(path_);
  }

  static std::optional<std::string> resolved(const std::string& path) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr) return std::nullopt;
    std::string out = real;
    std::free(real);
    return out;
  }

  int fd_;
  std::string path_;
  sockaddr_un to_{};
  socklen_t to_length_ = 0;
};

// Unique per process and instance; in the abstract namespace, so no file and no permissions.
bool bind_abstract(int fd) {
  static std::atomic<unsigned> instances{0};
  const std::string name = "smeard-ptp4l-" + std::to_string(::getpid()) + "-" + std::to_string(instances++);
  sockaddr_un self{};
  self.sun_family = AF_UNIX;
  std::memcpy(self.sun_path + 1, name.data(), name.size());
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&self), length) == 0) return true;
  // Taken (another pid namespace, same network namespace): let the kernel pick a free name.
  return errno == EADDRINUSE && ::bind(fd, reinterpret_cast<const sockaddr*>(&self), sizeof(sa_family_t)) == 0;
}

PortIdentity own_identity() {
  static std::atomic<std::uint16_t> instances{0};
  const auto pid = static_cast<std::uint32_t>(::getpid());
  PortIdentity self;
  for (std::size_t i = 0; i < 4; ++i) self.clock[4 + i] = static_cast<std::uint8_t>(pid >> (24 - 8 * i));
  self.port = instances++;
  return self;
}

}  // namespace

std::unique_ptr<Channel> open_channel(const std::string& path, std::string& error) {
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path) || path.find('\0') != std::string::npos) {
    error = path + ": a Unix socket path must be 1 to " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
    return nullptr;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = path + ": socket: " + std::strerror(errno);
    return nullptr;
  }
  if (!bind_abstract(fd)) {
    error = path + ": cannot bind a socket of our own: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<KernelChannel>(fd, path);
}

std::unique_ptr<Monitor> Monitor::open(const std::string& path, std::string& error, std::uint8_t domain) {
  std::unique_ptr<Channel> channel = open_channel(path, error);
  if (!channel) return nullptr;
  return std::make_unique<Monitor>(std::move(channel), path, domain);
}

Monitor::Monitor(std::unique_ptr<Channel> channel, std::string path, std::uint8_t domain)
    : channel_(std::move(channel)), path_(std::move(path)), domain_(domain), self_(own_identity()) {}

Verdict Monitor::poll(leapdb::Nanoseconds raw_now) {
  if (!first_poll_at_) first_poll_at_ = raw_now;
  take_replies();
  if (collected_any_) {
    answers_ = std::move(collecting_);
    last_reply_at_ = raw_now;
  }
  Observed observed{answers_, raw_now - last_reply_at_.value_or(*first_poll_at_),
                    send_error_.empty() ? receive_error_ : send_error_};
  Verdict verdict = judge(observed, path_);
  const std::pair<bool, std::string> now{verdict.synchronized, verdict.why};
  changed_ = last_verdict_ != now;
  last_verdict_ = now;
  send_round();
  return verdict;
}

void Monitor::take_replies() {
  receive_error_.clear();
  std::array<std::byte, 512> buffer{};  // a reply to our GETs is at most 104 bytes
  for (std::size_t n = 0; n < kMaxPerPoll; ++n) {
    const std::optional<Datagram> got = channel_->receive(buffer, receive_error_);
    if (!got) return;
    if (got->length > buffer.size()) {
      reject("a " + byte_size(got->length) + " datagram, longer than any reply to the GETs smeard sends");
    } else if (!got->from_ptp4l) {
      reject("a datagram from " + (got->from.empty() ? std::string{"an unnamed socket"} : got->from) +
             ", not from ptp4l");
    } else {
      std::variant<Reply, Rejected> decoded = decode_reply(std::span{buffer}.first(got->length));
      if (Rejected* rejected = std::get_if<Rejected>(&decoded)) {
        reject(std::move(rejected->why));
      } else if (accept(std::get<Reply>(decoded))) {
        collected_any_ = true;
      }
    }
  }
}

namespace {

ManagementId id_of(const Reply& reply) {
  return std::visit(
      [](const auto& body) -> ManagementId {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, PortDataSet>) return ManagementId::port_data_set;
        if constexpr (std::is_same_v<T, TimeStatus>) return ManagementId::time_status_np;
        if constexpr (std::is_same_v<T, DefaultDataSet>) return ManagementId::default_data_set;
        if constexpr (std::is_same_v<T, ParentDataSet>) return ManagementId::parent_data_set;
        if constexpr (std::is_same_v<T, ManagementError>) return body.id;
      },
      reply.body);
}

void store(Answers& answers, const Reply& reply) {
  if (const auto* port = std::get_if<PortDataSet>(&reply.body)) {
    // One reply per port; a repeated one replaces its earlier self.
    auto at = std::ranges::find_if(answers.ports, [&](const PortDataSet& p) { return p.port.port >= port->port.port; });
    if (at != answers.ports.end() && at->port.port == port->port.port) {
      *at = *port;
    } else {
      answers.ports.insert(at, *port);
    }
  } else if (const auto* status = std::get_if<TimeStatus>(&reply.body)) {
    answers.time_status = *status;
  } else if (const auto* own = std::get_if<DefaultDataSet>(&reply.body)) {
    answers.default_data_set = *own;
  } else if (const auto* parent = std::get_if<ParentDataSet>(&reply.body)) {
    answers.parent_data_set = *parent;
  } else {
    answers.errors.push_back(std::get<ManagementError>(reply.body));
  }
}

}  // namespace

bool Monitor::accept(const Reply& reply) {
  if (reply.target != self_) {
    reject("a reply addressed to another client");
    return false;
  }
  const auto at = std::ranges::find(in_flight_, reply.sequence_id);
  if (!round_sent_ || at == in_flight_.end()) {
    reject("a reply to sequenceId " + std::to_string(reply.sequence_id) + ", which no GET in flight has");
    return false;
  }
  const ManagementId asked = kAsked[static_cast<std::size_t>(at - in_flight_.begin())];
  if (id_of(reply) != asked) {
    reject("a reply about " + to_string(id_of(reply)) + " to the GET for " + to_string(asked));
    return false;
  }
  store(collecting_, reply);
  return true;
}

void Monitor::reject(std::string why) {
  ++rejected_;
  last_rejection_ = std::move(why);
}

void Monitor::send_round() {
  collecting_ = Answers{};
  collected_any_ = false;
  send_error_.clear();
  for (std::size_t i = 0; i < kAsked.size(); ++i) {
    in_flight_[i] = next_sequence_++;
    const std::array<std::byte, kGetSize> get = encode_get(kAsked[i], in_flight_[i], self_, domain_);
    if (!channel_->send(get, send_error_)) break;  // ptp4l is not there: the rest would fail alike
  }
  round_sent_ = true;
}

}  // namespace reference::ptp4l
