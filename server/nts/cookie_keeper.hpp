#pragma once
// The cookie keys a server holds (cookie.hpp): those of the rotation period its time is in,
// derived again from the fleet's secret when the period turns or the secret changes. The
// caller says what time it is. Pure.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "leapdb/time.hpp"
#include "server/nts/cookie.hpp"

namespace nts {

// Whether keys are to be derived at `now` (UTC), when those held are of period `held`: the
// period to derive them for, when `now` is in another or `force` (a new secret); else nothing.
std::optional<std::uint32_t> period_to_derive(std::optional<std::uint32_t> held, leapdb::Nanoseconds rotation,
                                              leapdb::UtcTime now, bool force);

class CookieKeeper {
 public:
  // Derives the keys of `now`'s period from `secret` when period_to_derive() says so, letting
  // the old ones go; true when it did.
  bool rotate(std::span<const std::byte> secret, leapdb::Nanoseconds rotation, leapdb::UtcTime now, bool force);
  // Holds no keys and no period (NTS is off).
  void clear();

  // The current period's first (it seals), then the others accepted (cookie_keys_at); empty
  // without NTS or with a secret too short.
  const std::vector<CookieKey>& keys() const { return keys_; }
  // The period of the keys; nothing before the first rotation and after clear().
  std::optional<std::uint32_t> period() const { return period_; }

 private:
  std::vector<CookieKey> keys_;
  std::optional<std::uint32_t> period_;
};

}  // namespace nts
