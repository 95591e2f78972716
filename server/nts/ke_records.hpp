#pragma once
// NTS Key Establishment records (RFC 8915 §4) as values: the client's request in, the
// server's response out. Pure; the TLS session around them lives in the I/O layer.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "server/nts/aead.hpp"

namespace nts {

enum class RecordType : std::uint16_t {
  end_of_message = 0,
  next_protocol = 1,
  error = 2,
  warning = 3,
  aead_algorithm = 4,
  new_cookie = 5,
  ntpv4_server = 6,
  ntpv4_port = 7,
};

enum class KeError : std::uint16_t { unrecognized_critical_record = 0, bad_request = 1, internal_server_error = 2 };

inline constexpr std::uint16_t kNtpv4Protocol = 0;

struct KeRequest {
  bool ntpv4 = false;         // NTPv4 among the protocols offered
  std::optional<Aead> aead;   // the first offered that the server supports
};

struct KeParse {
  enum class Status : std::uint8_t { incomplete, complete, error } status = Status::incomplete;
  KeError error = KeError::bad_request;
  KeRequest request;
  std::size_t length = 0;  // complete: the bytes up to and including End of Message
  std::string detail;      // error: what was wrong, for the log
};

// Parses a request as far as it has arrived; `supported` in no particular order.
KeParse parse_ke_request(std::span<const std::byte> received, std::span<const Aead> supported);

struct KeResponse {
  bool ntpv4 = false;
  std::optional<Aead> aead;
  std::vector<std::vector<std::byte>> cookies;
  std::string server;                // empty: the client keeps using the KE server's address
  std::optional<std::uint16_t> port;  // none: 123
};

// NTPv4 and AEAD as negotiated; cookies only with both. Server and port are critical: a client
// that cannot honour them would ask another listener, and so another timescale.
std::vector<std::byte> encode_ke_response(const KeResponse& response);
std::vector<std::byte> encode_ke_error(KeError error);

// The client's side: NTPv4 and `offered` AEADs (in preference order) asked for, the server's
// answer read as far as it has arrived.
std::vector<std::byte> encode_ke_request(std::span<const Aead> offered);

struct KeResponseParse {
  enum class Status : std::uint8_t { incomplete, complete, error } status = Status::incomplete;
  KeResponse response;  // complete: NTPv4 and one of the offered AEADs agreed, at least one cookie
  std::string detail;   // error: what the server said, or what was wrong with its answer
};

// RFC 8915 section 4: an Error or Warning record, a protocol or AEAD we did not offer, an unknown
// critical record or no cookie at all is an error; a server name must be printable ASCII.
KeResponseParse parse_ke_response(std::span<const std::byte> received, std::span<const Aead> offered);

}  // namespace nts
