#pragma once
// chrony's SOCK refclock: smeard binds a Unix datagram socket at `path` and the reference (gpsd,
// or anything speaking chrony's protocol) sends it one struct sock_sample per event: the system
// clock's reading then and the reference's offset from it. Every poll drains what is pending,
// without blocking. A stale socket file at the path is replaced (as chronyd does: the sender
// connects to whatever is bound there); anything else there is left alone and refused. The
// file is removed again when the source closes, unless someone replaced it meanwhile.
//
// gpsd (3.22) sends to /run/chrony.<basename of the device>.sock when it opened the device as
// root, /tmp/chrony.<basename>.sock otherwise, and only from its PPS thread.

#include <sys/time.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "server/reference/refclock.hpp"

namespace reference {

inline constexpr int kSockMagic = 0x534f434b;  // "SOCK"

// chrony's struct sock_sample, field for field: 40 bytes on LP64.
struct SockSample {
  timeval tv;     // the system clock at the event
  double offset;  // the reference minus the system clock, seconds
  int pulse;      // nonzero: the offset is only within the second (a bare PPS edge)
  int leap;       // 0 none, 1 insert, 2 delete
  int pad;
  int magic;  // kSockMagic
};
static_assert(sizeof(long) != 8 || sizeof(SockSample) == 40);

// Pure. What one datagram of `length` bytes says (`bytes`: the start of it, at most 40 taken).
struct SockDecoded {
  enum class Status : std::uint8_t {
    sample,
    malformed,  // the wrong size or magic: not a sock_sample at all
    pulse,      // a pulse sample: no absolute time in it
    refused,    // a sock_sample smeard cannot use (leap 3, fields out of range): `why`
  };
  Status status = Status::malformed;
  RefclockSample sample;
  std::string why;
};
SockDecoded decode_sock_sample(std::span<const std::byte> bytes, std::size_t length);

// The socket, as the driver drains it; a queue of datagrams in tests.
class DatagramSocket {
 public:
  DatagramSocket() = default;
  DatagramSocket(const DatagramSocket&) = delete;
  DatagramSocket& operator=(const DatagramSocket&) = delete;
  virtual ~DatagramSocket() = default;
  // The next pending datagram's full length, its start copied into `buffer`; none when nothing
  // is pending, or on failure with `error` set.
  virtual std::optional<std::size_t> receive(std::span<std::byte> buffer, std::string& error) = 0;
};

// Bound and non-blocking, or null and `error` set ("/run/x.sock: cannot bind: ...").
std::unique_ptr<DatagramSocket> open_sock_socket(const std::string& path, std::string& error);

// The driver: drains the socket at each poll. Malformed datagrams and pulse samples are refused
// (the source says so when nothing good comes either) and logged the first time only.
class SockDriver final : public RefclockDriver {
 public:
  SockDriver(std::unique_ptr<DatagramSocket> socket, std::string path)
      : socket_(std::move(socket)), path_(std::move(path)) {}
  void read(RefclockBatch& into) override;
  std::uint64_t malformed() const { return malformed_; }
  std::uint64_t pulses() const { return pulses_; }

  // A flood cannot keep a poll busy: the rest waits for the next one.
  static constexpr std::size_t kMaxPerPoll = 256;

 private:
  std::unique_ptr<DatagramSocket> socket_;
  std::string path_;
  std::uint64_t malformed_ = 0;
  std::uint64_t pulses_ = 0;
};

struct SockOptions {
  std::string path;
  std::uint32_t reference_id = 0;
};

std::unique_ptr<Source> make_sock_source(const SockOptions& options, std::string& error);
std::unique_ptr<Source> make_sock_source(std::unique_ptr<DatagramSocket> socket, const SockOptions& options);

}  // namespace reference
