#pragma once
// An upstream association authenticated with a symmetric key (RFC 5905, RFC 8573): each request
// carries the key's MAC, as chrony sends it in NTPv4 (a SHA-2 digest truncated to 20 bytes, so
// the MAC cannot be taken for an extension field), and a reply counts only with a valid MAC of
// the same key.

#include <cstdint>
#include <memory>

#include "server/ntp/auth.hpp"
#include "server/reference/upstream/authentication.hpp"

namespace reference::upstream {

// Null when `key_id` is not in `ring` (configuration checks that first).
std::unique_ptr<Authentication> make_key_authentication(std::shared_ptr<const ntp::KeyRing> ring, std::uint32_t key_id);

}  // namespace reference::upstream
