#include "leapdb/sha1.hpp"

#include <openssl/evp.h>

namespace leapdb {

std::array<std::uint32_t, 5> sha1_words(std::string_view bytes) {
  std::array<unsigned char, 20> digest{};
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha1(), nullptr);
  std::array<std::uint32_t, 5> words{};
  for (std::size_t i = 0; i < words.size(); ++i) {
    words[i] = (std::uint32_t{digest[4 * i]} << 24) | (std::uint32_t{digest[4 * i + 1]} << 16) |
               (std::uint32_t{digest[4 * i + 2]} << 8) | std::uint32_t{digest[4 * i + 3]};
  }
  return words;
}

}  // namespace leapdb
