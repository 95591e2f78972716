#include "server/nts/secret.hpp"

#include <openssl/crypto.h>

namespace nts {

void wipe(std::span<std::byte> bytes) { OPENSSL_cleanse(bytes.data(), bytes.size()); }

}  // namespace nts
