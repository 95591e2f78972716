// An upstream association's symmetric key: its requests verify as a server verifies them, with
// the MAC chrony sends in NTPv4, and only a reply signed with the same key opens.
#include "server/reference/upstream/key_authentication.hpp"

#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <vector>

#include "server/ntp/packet.hpp"

namespace {

using ntp::MacAlgorithm;

std::vector<std::byte> secret(MacAlgorithm algorithm, unsigned fill) {
  const std::size_t length = algorithm == MacAlgorithm::aes128_cmac ? 16 : algorithm == MacAlgorithm::aes256_cmac ? 32 : 20;
  return std::vector<std::byte>(length, static_cast<std::byte>(fill));
}

std::shared_ptr<const ntp::KeyRing> ring(MacAlgorithm algorithm, unsigned fill = 0x5e) {
  return std::make_shared<const ntp::KeyRing>(std::vector<ntp::SymmetricKey>{
      ntp::SymmetricKey{5, algorithm, secret(algorithm, fill), 1}, ntp::SymmetricKey{6, algorithm, secret(algorithm, 0x77), 1}});
}

constexpr std::array kAlgorithms{MacAlgorithm::md5,    MacAlgorithm::sha1,        MacAlgorithm::sha256,     MacAlgorithm::sha384,
                                 MacAlgorithm::sha512, MacAlgorithm::aes128_cmac, MacAlgorithm::aes256_cmac};

}  // namespace

TEST_CASE("a keyed request verifies at the server with a 24-byte MAC at most, and the server's reply opens") {
  for (const MacAlgorithm algorithm : kAlgorithms) {
    CAPTURE(static_cast<int>(algorithm));
    const auto keys = ring(algorithm);
    auto client = reference::upstream::make_key_authentication(keys, 5);
    REQUIRE(client);
    CHECK(client->ready());
    std::array<std::byte, ntp::kMaxPacketLength> packet{};
    packet[0] = std::byte{0x23};
    packet[47] = std::byte{0x42};
    const std::size_t length = client->seal(packet);
    // NTPv4: never longer than 24, or a server could take the MAC for an extension field.
    CHECK(length == ntp::kHeaderLength + 4 + std::min<std::size_t>(ntp::digest_length(algorithm), 20));

    ntp::Authenticator server(keys);
    const auto verified = server.verify(std::span{packet}.first(ntp::kHeaderLength),
                                        std::span{packet}.subspan(ntp::kHeaderLength, length - ntp::kHeaderLength));
    REQUIRE(verified.verdict == ntp::Verdict::ok);
    CHECK(keys->keys()[verified.key.index].id == 5);

    std::array<std::byte, ntp::kMaxPacketLength> reply{};
    reply[0] = std::byte{0x24};
    reply[1] = std::byte{2};
    server.sign(verified.key, std::span{reply}.first(ntp::kHeaderLength), std::span{reply}.subspan(ntp::kHeaderLength));
    CHECK(client->open(std::span{reply}.first(length)));
    // Altered anywhere, or cut short: refused.
    for (std::size_t i = 0; i < length; ++i) {
      auto altered = reply;
      altered[i] ^= std::byte{0x10};
      CHECK_FALSE(client->open(std::span{altered}.first(length)));
    }
    CHECK_FALSE(client->open(std::span{reply}.first(ntp::kHeaderLength)));
    CHECK_FALSE(client->open(std::span{reply}.first(length - 1)));
    // Another key of the same file, or the same id with another secret: not our server.
    server.sign(server.whole(keys->index_of(6)), std::span{reply}.first(ntp::kHeaderLength),
                std::span{reply}.subspan(ntp::kHeaderLength));
    CHECK_FALSE(client->open(std::span{reply}.first(ntp::kHeaderLength + 4 + ntp::digest_length(algorithm))));
    ntp::Authenticator impostor(ring(algorithm, 0x99));
    impostor.sign(verified.key, std::span{reply}.first(ntp::kHeaderLength), std::span{reply}.subspan(ntp::kHeaderLength));
    CHECK_FALSE(client->open(std::span{reply}.first(length)));
  }
}

TEST_CASE("a key id the keys file does not hold makes no authentication") {
  CHECK_FALSE(reference::upstream::make_key_authentication(ring(MacAlgorithm::sha256), 7));
  CHECK_FALSE(reference::upstream::make_key_authentication(nullptr, 5));
}
