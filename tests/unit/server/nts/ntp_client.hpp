#pragma once
// An NTS client on the NTP port, as chronyd is one: agreed keys sealed in a cookie, its request
// built and authenticated, the server's reply opened.

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "server/ntp/packet.hpp"
#include "server/nts/aead.hpp"
#include "server/nts/cookie.hpp"
#include "server/nts/fields.hpp"

namespace nts_client {

using Bytes = std::vector<std::byte>;

inline Bytes random_bytes(std::mt19937_64& random, std::size_t n) {
  Bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(random() & 0xFF);
  return out;
}

inline void field(Bytes& packet, std::uint16_t type, const Bytes& value) {
  const std::size_t length = 4 + ((value.size() + 3) & ~std::size_t{3});
  for (const unsigned v : {unsigned{type} >> 8, unsigned{type} & 0xFF, static_cast<unsigned>(length >> 8),
                           static_cast<unsigned>(length & 0xFF)}) {
    packet.push_back(static_cast<std::byte>(v));
  }
  packet.insert(packet.end(), value.begin(), value.end());
  packet.resize(packet.size() + (length - 4 - value.size()), std::byte{0});
}

inline std::uint16_t u16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[at]) << 8) | std::to_integer<unsigned>(b[at + 1]));
}

struct Client {
  nts::CookieContents agreed;
  Bytes cookie;
  Bytes unique_id;
};

struct Server {
  std::array<nts::CookieKey, 2> keys;
};

inline Server server(std::mt19937_64& random) {
  const auto master = random_bytes(random, 32);
  return {{nts::derive_cookie_key(master, 41).value(), nts::derive_cookie_key(master, 42).value()}};
}

inline Client client(std::mt19937_64& random, const Server& s, nts::Aead aead = nts::Aead::aes_siv_cmac_256,
                     std::uint32_t timescale_id = 0x5EA12345) {
  Client c;
  c.agreed.aead = aead;
  c.agreed.timescale_id = timescale_id;
  const auto c2s = random_bytes(random, nts::key_length(aead)), s2c = random_bytes(random, nts::key_length(aead));
  std::ranges::copy(c2s, c.agreed.c2s.begin());
  std::ranges::copy(s2c, c.agreed.s2c.begin());
  std::array<std::byte, nts::kCookieNonceLength> nonce{};
  std::ranges::copy(random_bytes(random, nonce.size()), nonce.begin());
  c.cookie.resize(nts::kMaxCookieLength);
  c.cookie.resize(nts::seal_cookie(s.keys[1], c.agreed, nonce, c.cookie));
  c.unique_id = random_bytes(random, 32);
  return c;
}

// The request nts::write_request writes, with a random transmit time (chronyd's is random
// too) and a random nonce. Without `pad`, a short nonce lacks the Additional Padding RFC 8915
// section 5.6 asks for.
inline Bytes request(std::mt19937_64& random, const Client& c, std::size_t placeholders,
                     std::size_t nonce_length = 16, bool pad = true) {
  Bytes packet(4096, std::byte{0});
  packet[0] = std::byte{0x23};  // LI 0, version 4, client
  std::ranges::copy(random_bytes(random, 8), packet.begin() + ntp::kTransmitTimeOffset);
  const Bytes nonce = random_bytes(random, nonce_length);
  const nts::ClientRequest fields{
      c.unique_id, c.cookie, placeholders, c.agreed.aead, std::span{c.agreed.c2s}.first(nts::key_length(c.agreed.aead)),
      nonce};
  std::size_t length = nts::write_request(packet, fields);
  REQUIRE(length != 0);
  const std::size_t padded_nonce = (nonce_length + 3) & ~std::size_t{3};
  if (!pad && padded_nonce < 16) {
    // The authenticator is last, and its seal covers only what comes before it.
    const std::size_t authenticator_at = length - (4 + 4 + 16 + nts::kTagLength);
    length -= 16 - padded_nonce;
    const std::size_t authenticator_length = length - authenticator_at;
    packet[authenticator_at + 2] = static_cast<std::byte>(authenticator_length >> 8);
    packet[authenticator_at + 3] = static_cast<std::byte>(authenticator_length & 0xFF);
  }
  packet.resize(length);
  return packet;
}

inline nts::RequestCheck check(const Bytes& packet, std::span<const nts::CookieKey> keys, nts::Request& out) {
  const auto layout = ntp::parse_layout(packet, 4);
  REQUIRE(layout.layout.has_value());
  return nts::check_request(packet, layout.layout->extensions, keys, out);
}

// What the client does with the reply: the identifier echoed, the authenticator verified with
// S2C over everything before it, and the fresh cookies it carried.
inline std::vector<Bytes> open_reply(std::span<const std::byte> reply, const Client& c) {
  std::vector<Bytes> cookies;
  const auto layout = ntp::parse_layout(reply, 4);
  REQUIRE(layout.layout.has_value());
  std::span<const std::byte> unique_id, authenticator;
  std::size_t authenticator_at = 0;
  ntp::for_each_extension_field(layout.layout->extensions, [&](const ntp::ExtensionField& f) {
    if (f.type == nts::kUniqueIdentifierField) unique_id = f.value;
    if (f.type == nts::kAuthenticatorField) {
      authenticator = f.value;
      authenticator_at = static_cast<std::size_t>(f.value.data() - reply.data()) - 4;
    }
  });
  REQUIRE(std::ranges::equal(unique_id, c.unique_id));
  REQUIRE(authenticator.size() >= 4);
  const std::size_t nonce_length = u16(authenticator, 0), ciphertext_length = u16(authenticator, 2);
  Bytes plaintext(ciphertext_length - nts::kTagLength);
  if (!nts::open(c.agreed.aead, std::span{c.agreed.s2c}.first(nts::key_length(c.agreed.aead)),
                 authenticator.subspan(4, nonce_length), reply.first(authenticator_at),
                 authenticator.subspan(4 + ((nonce_length + 3) & ~std::size_t{3}), ciphertext_length), plaintext)) {
    return cookies;
  }
  ntp::for_each_extension_field(std::span<const std::byte>{plaintext}, [&](const ntp::ExtensionField& f) {
    if (f.type == nts::kCookieField) cookies.emplace_back(f.value.begin(), f.value.end());
  });
  return cookies;
}

}  // namespace nts_client
