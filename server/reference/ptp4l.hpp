#pragma once
// linuxptp's ptp4l, asked whether the clock it keeps deserves trust. A PHC (or the system clock)
// is only as good as the ptp4l steering it: a port that lost its master keeps the clock running
// free, and nothing in the clock itself says so. So a source with `ptp4l: PATH` asks ptp4l's
// management socket (what `pmc -u -s PATH` talks to) once a poll, as pmc would, and counts as
// synchronized only while
//   - a port is SLAVE, a grandmaster is present and the master offset is within 1 ms; or
//   - ptp4l is itself the grandmaster (a port MASTER, the grandmaster identity its own) and
//     traceable: clockClass 6 or 7 (locked to a primary reference, or in holdover of one), as
//     the operator or a GPS supervisor sets through the config or GRANDMASTER_SETTINGS_NP.
//
// Three layers, as elsewhere: a pure codec (GET messages out, RESPONSE messages in, checked
// against any bytes), a pure judge (answers -> Verdict), and Monitor, the thin I/O shell that
// sends the GETs and drains the replies without ever blocking.
//
// Wire facts (IEEE 1588-2008 section 15, and linuxptp's msg.h, tlv.h, tlv.c, ds.h, fsm.h): big-
// endian throughout, linuxptp's TIME_STATUS_NP included; ptp4l answers GET PORT_DATA_SET once
// per port and reports a GRAND_MASTER port as MASTER; it ignores a message whose domainNumber is
// not its own, and forwards one with boundaryHops > 0 out of its PTP ports, so ours carry 0.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "leapdb/time.hpp"

namespace reference::ptp4l {

// ptp4l's own default (linuxptp up to 4.4; later ones bind /var/run/ptp/ptp4l and keep a symlink
// here). Its mode is 0660 root: an unprivileged smeard needs linuxptp 4's read-only socket,
// /var/run/ptp4lro (0666), which answers these GETs too.
inline constexpr std::string_view kDefaultPath = "/var/run/ptp4l";

// The bounds the verdict applies.
inline constexpr leapdb::Nanoseconds kMaxMasterOffset = std::chrono::milliseconds{1};
// Polls are a second apart: three in a row that found no reply.
inline constexpr leapdb::Nanoseconds kNoAnswerAfter = std::chrono::milliseconds{2500};

using ClockIdentity = std::array<std::uint8_t, 8>;
// "001122.fffe.334455", as ptp4l and pmc print it.
std::string to_string(const ClockIdentity& identity);

struct PortIdentity {
  ClockIdentity clock{};
  std::uint16_t port = 0;
  friend bool operator==(const PortIdentity&, const PortIdentity&) = default;
};

// fsm.h's numbering. A byte off the wire may be none of these.
enum class PortState : std::uint8_t {
  initializing = 1,
  faulty,
  disabled,
  listening,
  pre_master,
  master,
  passive,
  uncalibrated,
  slave,
  grand_master,
};
// "UNCALIBRATED", as pmc prints it; "state 42" for a number that is no port state.
std::string to_string(PortState state);

enum class ManagementId : std::uint16_t {
  default_data_set = 0x2000,
  parent_data_set = 0x2002,
  port_data_set = 0x2004,
  time_status_np = 0xC000,
};
// "PORT_DATA_SET"; "0x2001" for an id smeard never asks for.
std::string to_string(ManagementId id);

// What smeard asks each poll, in this order.
inline constexpr std::array<ManagementId, 4> kAsked{ManagementId::port_data_set, ManagementId::time_status_np,
                                                    ManagementId::default_data_set, ManagementId::parent_data_set};

// --- The codec. Pure. ---

inline constexpr std::size_t kGetSize = 54;  // the 48-byte management header and a 6-byte TLV

// A GET for `id` addressed to every port of every clock (targetPortIdentity all ones), with
// boundaryHops 0 so that ptp4l answers itself and forwards nothing.
std::array<std::byte, kGetSize> encode_get(ManagementId id, std::uint16_t sequence_id, const PortIdentity& source,
                                           std::uint8_t domain);

struct PortDataSet {
  PortIdentity port;
  PortState state = PortState::initializing;
  std::int8_t log_announce_interval = 0;
  std::uint8_t announce_receipt_timeout = 0;
};

// linuxptp's own: what its servo last measured.
struct TimeStatus {
  leapdb::Nanoseconds master_offset{0};  // this clock minus the master, at the last sync
  leapdb::Nanoseconds ingress_time{0};   // when that sync arrived, on this clock; 0 when none
  bool gm_present = false;               // the grandmaster is some other clock
  ClockIdentity gm_identity{};
};

struct DefaultDataSet {
  ClockIdentity clock{};
  std::uint8_t clock_class = 255;
  std::uint8_t clock_accuracy = 0xfe;
  std::uint8_t priority1 = 128;
  std::uint8_t priority2 = 128;
  std::uint16_t number_ports = 0;
  std::uint8_t domain = 0;
  bool slave_only = false;
};

struct ParentDataSet {
  PortIdentity parent;
  ClockIdentity grandmaster{};
  std::uint8_t grandmaster_class = 255;
  std::uint8_t grandmaster_priority1 = 128;
};

// A MANAGEMENT_ERROR_STATUS TLV: ptp4l refused the GET for `id`.
struct ManagementError {
  ManagementId id{};
  std::uint16_t error = 0;  // 6: NOT_SUPPORTED, 2: NO_SUCH_ID, ...
};
// "NOT_SUPPORTED"; "error 0x1234" for one the standard does not name.
std::string error_name(std::uint16_t error);

struct Reply {
  std::uint16_t sequence_id = 0;
  std::uint8_t domain = 0;
  PortIdentity source;  // the answering port (port 0: ptp4l's management port, for clock data)
  PortIdentity target;  // the GET's source, echoed
  std::variant<PortDataSet, TimeStatus, DefaultDataSet, ParentDataSet, ManagementError> body;
};

struct Rejected {
  std::string why;  // "a 30-byte datagram, shorter than a management message"
};

// One datagram as received. Anything that is not a well-formed RESPONSE (or error status) for
// one of the four data sets is Rejected; bytes outside `datagram` are never read.
std::variant<Reply, Rejected> decode_reply(std::span<const std::byte> datagram);

// --- The judge. Pure. ---

// What one round of GETs brought back.
struct Answers {
  std::vector<PortDataSet> ports;  // one per port, in port order
  std::optional<TimeStatus> time_status;
  std::optional<DefaultDataSet> default_data_set;
  std::optional<ParentDataSet> parent_data_set;
  std::vector<ManagementError> errors;
};

struct Observed {
  std::optional<Answers> answers;     // the newest round that brought any reply; none: none yet
  leapdb::Nanoseconds silent_for{0};  // since that reply was taken, or since the first GET
  std::string socket_error;           // the last send or receive that failed ("sendto: ...")
};

struct Verdict {
  bool synchronized = false;
  std::string why;  // when not synchronized: one sentence naming ptp4l's state
  // What is worth showing beside it, as far as ptp4l said: the state of the port the verdict
  // rests on ("SLAVE"), the master offset, the grandmaster and its clockClass.
  std::string port_state;
  std::optional<leapdb::Nanoseconds> master_offset;
  std::optional<ClockIdentity> grandmaster;
  std::optional<std::uint8_t> clock_class;
};

// `path` only names ptp4l in the sentences.
Verdict judge(const Observed& observed, std::string_view path);

// --- The I/O shell. ---

struct Datagram {
  std::size_t length = 0;   // the datagram's full length, even when longer than the buffer
  bool from_ptp4l = false;  // sent from the socket at ptp4l's path (or where a symlink there leads)
  std::string from;         // the sender's socket path; empty for an unnamed or abstract sender
};

// The socket, a fake in tests.
class Channel {
 public:
  Channel() = default;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  virtual ~Channel() = default;
  // Sends one datagram to ptp4l; false and `error` set ("sendto: Connection refused") if not.
  virtual bool send(std::span<const std::byte> datagram, std::string& error) = 0;
  // The next pending datagram, its start copied into `buffer`; none when nothing is pending, or
  // on failure with `error` set.
  virtual std::optional<Datagram> receive(std::span<std::byte> buffer, std::string& error) = 0;
};

// A non-blocking AF_UNIX datagram socket bound to an abstract address of its own (no file, so
// nothing to clean up and no directory to be allowed into after privileges are dropped), that
// sends to `path`; or null and `error` set, for a path no socket can have. Abstract addresses
// belong to a network namespace: ptp4l's replies reach it only from within smeard's own (in
// another, ptp4l's sendto fails with ECONNREFUSED and smeard hears nothing).
std::unique_ptr<Channel> open_channel(const std::string& path, std::string& error);

// From a source: open at construction (with the `ptp4l:` option's path), then each poll
//   const ptp4l::Verdict v = monitor_->poll(tick.monotonic_raw);
// and while !v.synchronized the source is unsynchronized, with v.why as its reason.
class Monitor {
 public:
  // Fails only for a path no socket can have: ptp4l not running (yet) is a verdict, not an error.
  // `domain`: ptp4l's domainNumber, which it wants on every management message.
  static std::unique_ptr<Monitor> open(const std::string& path, std::string& error, std::uint8_t domain = 0);

  Monitor(std::unique_ptr<Channel> channel, std::string path, std::uint8_t domain = 0);

  // Once a poll (about a second) with CLOCK_MONOTONIC_RAW: takes the replies to the previous
  // round, judges them, and sends the next round. Never blocks; the verdict lags one poll.
  Verdict poll(leapdb::Nanoseconds raw_now);

  const std::string& path() const { return path_; }
  // Whether the last poll's verdict differs from the one before (the first always does): what a
  // source logs.
  bool changed() const { return changed_; }
  // Datagrams refused (malformed, from elsewhere, answering no GET in flight), and why the
  // last one was: for a log line when the count grows.
  std::uint64_t rejected() const { return rejected_; }
  const std::string& last_rejection() const { return last_rejection_; }

  // A flood cannot keep a poll busy: the rest waits for the next one.
  static constexpr std::size_t kMaxPerPoll = 256;

 private:
  void take_replies();
  bool accept(const Reply& reply);
  void reject(std::string why);
  void send_round();

  std::unique_ptr<Channel> channel_;
  std::string path_;
  std::uint8_t domain_;
  PortIdentity self_;
  std::uint16_t next_sequence_ = 0;
  std::array<std::uint16_t, kAsked.size()> in_flight_{};  // the round's sequenceIds, as kAsked
  bool round_sent_ = false;
  Answers collecting_;
  bool collected_any_ = false;
  std::optional<Answers> answers_;
  std::optional<leapdb::Nanoseconds> last_reply_at_;
  std::optional<leapdb::Nanoseconds> first_poll_at_;
  std::string send_error_;
  std::optional<std::pair<bool, std::string>> last_verdict_;
  bool changed_ = false;
  std::string receive_error_;
  std::uint64_t rejected_ = 0;
  std::string last_rejection_;
};

}  // namespace reference::ptp4l
