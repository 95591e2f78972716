#pragma once
// Everything a worker needs to answer a request, as one immutable value. The control thread
// builds a new one whenever something changes and publishes it; workers only read it.

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "leapdb/table.hpp"
#include "leapdb/time.hpp"
#include "server/ntp/auth.hpp"
#include "server/ntp/hardware_clock.hpp"
#include "server/ntp/packet.hpp"
#include "server/ntp/rate_limit.hpp"
#include "server/nts/cookie.hpp"
#include "smear/smearer.hpp"

namespace ntp {

// Where the reference is relative to the system clock (the clock every kernel timestamp is
// taken on): reference TAI minus the system clock's TAI, as a line through the reading `at`.
struct Correction {
  leapdb::UtcTime at{};
  leapdb::Nanoseconds offset{0};
  leapdb::Rate rate{};
  leapdb::Nanoseconds of(leapdb::UtcTime reading) const { return offset + rate.over(reading - at); }
  friend bool operator==(const Correction&, const Correction&) = default;
};

// Turns the I/O layer's clock readings (CLOCK_REALTIME, kernel receive timestamps) into TAI,
// the one axis every timescale is a function of.
struct ReferenceClock {
  enum class Kind : std::uint8_t { system, simulated };
  Kind kind = Kind::system;
  std::shared_ptr<const leapdb::LeapTable> table = std::make_shared<const leapdb::LeapTable>();
  // Simulated: TAI = start + (reading - origin) * rate_numerator / rate_denominator.
  leapdb::TaiTime start{};
  leapdb::UtcTime origin{};
  std::int64_t rate_numerator = 1;
  std::int64_t rate_denominator = 1;
  // System: the system clock's TAI plus this (zero when the system clock is the reference).
  Correction correction;

  // Readings on which the system clock's TAI is the reading plus a constant and no inserted
  // second is near: the workers' shortcut around "now", set by the control thread in every
  // snapshot (empty for a simulated reference, whose mapping needs no search anyway).
  struct Steady {
    leapdb::UtcTime from{};   // inclusive
    leapdb::UtcTime until{};  // exclusive; from == until: empty
    leapdb::Nanoseconds tai_minus_utc{0};
    Correction correction;
    bool contains(leapdb::UtcTime reading) const { return from <= reading && reading < until; }
    // Only for a reading it contains.
    leapdb::TaiTime to_tai(leapdb::UtcTime reading) const {
      return leapdb::TaiTime{reading.time_since_epoch() + tai_minus_utc + correction.of(reading)};
    }
  };
  Steady steady;
  Steady steady_around(leapdb::UtcTime reading) const;

  // `kernel_correction`: what the kernel's handling of an inserted leap adds (the repeated
  // 23:59:59 is a second later in TAI than the first), for a reading within a second of one:
  // inserted_leap_near() names it.
  leapdb::TaiTime to_tai(leapdb::UtcTime reading, std::chrono::seconds kernel_correction = {}) const;
  // The reference's true UTC (no timescale's smear) at the reading: what a fleet agrees on
  // where a node's own clock is off, such as NTS cookie periods.
  leapdb::UtcTime to_utc(leapdb::UtcTime reading) const { return table->to_utc(to_tai(reading)); }
  // The inserted leap within a second either side of the reading (system clock only), if any.
  const leapdb::Leap* inserted_leap_near(leapdb::UtcTime reading) const;
};

// What replies say about the reference, and how that ages between snapshots: the root
// dispersion grows from the last update at `dispersion_growth` (RFC 5905's 15 ppm, or more when
// the reference knows its frequency worse), and from `synchronized_until` (the end of holdover)
// on, replies say LI=3 and stratum 16, or serve this clock at `local_stratum`.
struct ServedQuality {
  std::uint8_t stratum = 1;
  std::uint32_t reference_id = 0;
  std::uint32_t root_delay = 0;              // NTP short format
  leapdb::Nanoseconds dispersion{0};         // root dispersion at the last update
  leapdb::Rate dispersion_growth = leapdb::Rate::from_ppb(15'000);
  leapdb::TaiTime last_update{};
  leapdb::TaiTime synchronized_until = leapdb::TaiTime::max();
  std::uint8_t local_stratum = 0;            // 0: none; unsynchronized past holdover
};

// The local clock: "LOCL" at stratum 1 (ntpd's local driver); above, where a refid reads as an
// address, chrony's 127.127.1.1.
inline constexpr std::uint32_t kLocalRefid = 0x4C4F434C;
inline constexpr std::uint32_t kLocalAddressRefid = 0x7F7F0101;
inline constexpr std::uint8_t kUnsynchronizedStratum = 16;
inline constexpr leapdb::Nanoseconds kMaxDispersion = std::chrono::seconds{16};  // RFC 5905 MAXDISP

struct HeaderQuality {
  bool unsynchronized = false;  // LI=3
  std::uint8_t stratum = 1;
  std::uint32_t reference_id = 0;
  std::uint32_t root_delay = 0;
  std::uint32_t root_dispersion = 0;
};

// What a reply to a request received at `received` says; cheap enough for every packet.
HeaderQuality header_quality(const ServedQuality& quality, leapdb::TaiTime received);

enum class RefidConvention : std::uint8_t { ntpd, chrony, reference };

struct TimescaleView {
  std::string name;
  std::shared_ptr<const smear::Smearer> smearer;
  RefidConvention refid = RefidConvention::ntpd;
  bool rehearsal = false;
  leapdb::UtcTime reference_time{};  // the reference's last update on this timescale
  smear::Steady steady;  // around the snapshot's time: the shortcut past smearer->at()
  std::uint32_t nts_id = 0;  // what NTS cookies name it by, the same on every server
};

struct Network {
  std::array<std::uint8_t, 16> network{};  // IPv4 as ::ffff:a.b.c.d
  unsigned prefix_length = 0;               // over the 128 bits
};

bool in_network(const Network& network, const std::array<std::uint8_t, 16>& address);
bool in_any(const std::vector<Network>& networks, const std::array<std::uint8_t, 16>& address);

struct Pin : Network {
  std::uint8_t timescale = 0;
  bool key_required = false;  // requests without a valid MAC are not answered
};

// Who is answered at all: deny first, then allow (empty: everyone).
struct Access {
  std::vector<Network> allow;
  std::vector<Network> deny;
  bool kod = true;               // the denied get KoD DENY; otherwise silence
  std::uint8_t min_version = 1;
};

struct Policy {
  std::vector<Pin> pins;                // first match wins
  bool deny = true;                     // a mismatch gets KoD DENY; otherwise it is dropped
  leapdb::Nanoseconds sticky{0};        // 0: off
  leapdb::Nanoseconds mixed_window{std::chrono::hours{1}};
  Access access;
  RateLimitSettings rate_limit;
  bool interleaved = true;  // answer RFC 9769 interleaved requests in kind
};

struct Snapshot {
  std::int8_t precision = -20;
  ServedQuality quality;
  ReferenceClock clock;
  std::vector<TimescaleView> timescales;
  std::vector<std::uint8_t> listener_timescale;  // listener index -> timescale index
  Policy policy;
  // Which timescale set the client history's indices refer to (see ClientHistory).
  std::uint8_t history_generation = 0;
  std::shared_ptr<const KeyRing> keys = std::make_shared<const KeyRing>();
  // NTS cookie keys: the current period's first (it seals fresh cookies), then the others still
  // accepted. Empty: NTS is off and its fields are ignored.
  std::vector<nts::CookieKey> nts_keys;
  // Per interface with hardware stamps, its PHC's line to the system clock (hardware_clock.hpp).
  HardwareClocks hardware;
};

// The smallest snapshot that serves true UTC on one listener: what smeard holds before its
// first real snapshot is built, and what tests and the fuzzer start from.
Snapshot true_utc_snapshot();

}  // namespace ntp
