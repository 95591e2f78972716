// What a MAC costs on the packet path: verifying a 48-byte request and signing its reply, for
// each key type, on one core. Prints nanoseconds a request.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "server/ntp/auth.hpp"

int main() {
  using std::chrono::steady_clock;
  constexpr ntp::MacAlgorithm kAlgorithms[] = {ntp::MacAlgorithm::md5,         ntp::MacAlgorithm::sha1,
                                               ntp::MacAlgorithm::sha256,      ntp::MacAlgorithm::sha512,
                                               ntp::MacAlgorithm::aes128_cmac, ntp::MacAlgorithm::aes256_cmac};
  constexpr int kRequests = 1'000'000;
  for (const ntp::MacAlgorithm algorithm : kAlgorithms) {
    const std::size_t key_length = algorithm == ntp::MacAlgorithm::aes256_cmac ? 32 : 16;
    std::vector<ntp::SymmetricKey> keys{{1, algorithm, std::vector<std::byte>(key_length, std::byte{7}), 1}};
    ntp::Authenticator authenticator{std::make_shared<const ntp::KeyRing>(std::move(keys))};
    std::vector<std::byte> packet(48, std::byte{1});
    std::vector<std::byte> mac(4 + ntp::digest_length(algorithm));
    int verified = 0;
    const auto start = steady_clock::now();
    for (int i = 0; i < kRequests; ++i) {
      packet[40] = static_cast<std::byte>(i);
      authenticator.sign(authenticator.whole(0), packet, mac);
      verified += authenticator.verify(packet, mac).verdict == ntp::Verdict::ok ? 1 : 0;
    }
    const std::chrono::duration<double, std::nano> elapsed = steady_clock::now() - start;
    std::printf("%-7s verify + sign: %4.0f ns a request (%d of %d verified)\n",
                std::string{ntp::to_string(algorithm)}.c_str(), elapsed.count() / kRequests, verified, kRequests);
    if (verified != kRequests) return 1;
  }
  return 0;
}
