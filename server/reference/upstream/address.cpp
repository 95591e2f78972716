#include "server/reference/upstream/address.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>

namespace reference::upstream {

namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::uint32_t big_endian(const std::uint8_t* bytes) {
  return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 | std::uint32_t{bytes[2]} << 8 | bytes[3];
}

}  // namespace

std::string Address::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  const int family_id = family == Family::ipv4 ? AF_INET : AF_INET6;
  if (::inet_ntop(family_id, bytes.data(), text, sizeof text) == nullptr) return "?";
  const std::string port_text = ":" + std::to_string(port);
  return family == Family::ipv4 ? text + port_text : "[" + std::string{text} + "]" + port_text;
}

std::optional<Address> parse_address(std::string_view host, std::uint16_t port) {
  const std::string text{host};
  Address address;
  address.port = port;
  if (::inet_pton(AF_INET, text.c_str(), address.bytes.data()) == 1) return address;
  address.family = Address::Family::ipv6;
  if (::inet_pton(AF_INET6, text.c_str(), address.bytes.data()) == 1) return address;
  return std::nullopt;
}

std::uint32_t reference_id(const Address& address) {
  if (address.family == Address::Family::ipv4) return big_endian(address.bytes.data());
  if (std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), address.bytes.begin())) {
    return big_endian(address.bytes.data() + 12);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  // MD5 here hashes an address for a 32-bit name, not for security; OpenSSL's default provider has it.
  if (::EVP_Digest(address.bytes.data(), address.bytes.size(), digest, &length, ::EVP_md5(), nullptr) != 1 ||
      length < 4) {
    return 0;
  }
  return big_endian(digest);
}

}  // namespace reference::upstream
