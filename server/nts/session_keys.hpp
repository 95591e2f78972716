#pragma once
// RFC 8915 section 5.1: the C2S and S2C keys both ends export from the TLS session of a key
// establishment, for the protocol (NTPv4) and the AEAD agreed.

#include <openssl/types.h>

#include <cstddef>
#include <span>

#include "server/nts/aead.hpp"

namespace nts {

// key_length(aead) bytes into each; false when TLS cannot export (or a span is shorter).
[[nodiscard]] bool export_session_keys(SSL* ssl, Aead aead, std::span<std::byte> c2s, std::span<std::byte> s2c);

}  // namespace nts
