#include "server/nts/session_keys.hpp"

#include <openssl/ssl.h>

#include <array>
#include <cstdint>

namespace nts {
namespace {

constexpr char kExporterLabel[] = "EXPORTER-network-time-security";
constexpr unsigned char kClientToServer = 0x00;
constexpr unsigned char kServerToClient = 0x01;

bool export_key(SSL* ssl, Aead aead, unsigned char direction, std::span<std::byte> out) {
  const auto id = static_cast<std::uint16_t>(aead);
  // Protocol (NTPv4 is 0), AEAD, direction.
  const std::array<unsigned char, 5> context{0, 0, static_cast<unsigned char>(id >> 8),
                                             static_cast<unsigned char>(id & 0xFF), direction};
  return out.size() >= key_length(aead) &&
         SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(out.data()), key_length(aead), kExporterLabel,
                                    sizeof kExporterLabel - 1, context.data(), context.size(), 1) == 1;
}

}  // namespace

bool export_session_keys(SSL* ssl, Aead aead, std::span<std::byte> c2s, std::span<std::byte> s2c) {
  return export_key(ssl, aead, kClientToServer, c2s) && export_key(ssl, aead, kServerToClient, s2c);
}

}  // namespace nts
