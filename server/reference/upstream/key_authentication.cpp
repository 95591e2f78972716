#include "server/reference/upstream/key_authentication.hpp"

#include <algorithm>

#include "server/ntp/packet.hpp"

namespace reference::upstream {
namespace {

class KeyAuthentication final : public Authentication {
 public:
  KeyAuthentication(std::shared_ptr<const ntp::KeyRing> ring, std::size_t index)
      : authenticator_(std::move(ring)), key_(authenticator_.whole(index)) {
    key_.digest_length = std::min(key_.digest_length, ntp::kTruncatedDigestLength);
  }

  bool ready() override { return true; }

  std::size_t seal(std::span<std::byte> packet) override {
    authenticator_.sign(key_, packet.first(ntp::kHeaderLength), packet.subspan(ntp::kHeaderLength, key_.length()));
    return ntp::kHeaderLength + key_.length();
  }

  bool open(std::span<const std::byte> reply) override {
    if (reply.size() <= ntp::kHeaderLength) return false;
    const ntp::Verification verified =
        authenticator_.verify(reply.first(ntp::kHeaderLength), reply.subspan(ntp::kHeaderLength));
    return verified.verdict == ntp::Verdict::ok && verified.key.index == key_.index;
  }

 private:
  ntp::Authenticator authenticator_;
  ntp::MacKey key_;
};

}  // namespace

std::unique_ptr<Authentication> make_key_authentication(std::shared_ptr<const ntp::KeyRing> ring, std::uint32_t key_id) {
  const std::size_t index = ring ? ring->index_of(key_id) : ntp::KeyRing::npos;
  if (index == ntp::KeyRing::npos) return nullptr;
  return std::make_unique<KeyAuthentication>(std::move(ring), index);
}

}  // namespace reference::upstream
