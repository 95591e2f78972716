#pragma once
// The AEADs NTS negotiates (RFC 8915 §5.1, RFC 5297): AES-SIV-CMAC-256 and -512, one associated
// data and a nonce, the 16-byte synthetic IV first in the ciphertext. Nettle does it with its
// context on the stack: OpenSSL 3's AES-SIV allocates some 30 times per operation, and this runs
// for every NTS packet.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nts {

// IANA "AEAD Algorithms" numbers.
enum class Aead : std::uint16_t { aes_siv_cmac_256 = 15, aes_siv_cmac_512 = 17 };

inline constexpr std::size_t kTagLength = 16;
inline constexpr std::size_t kMaxKeyLength = 64;

std::optional<Aead> aead_from_number(std::uint16_t number);
constexpr std::size_t key_length(Aead aead) { return aead == Aead::aes_siv_cmac_256 ? 32 : 64; }

// `out` holds exactly kTagLength + plaintext.size() bytes, the key key_length(aead) (else false).
// The plaintext may be out's own tail (in place: Nettle's CTR allows it, and the tag goes first).
[[nodiscard]] bool seal(Aead aead, std::span<const std::byte> key, std::span<const std::byte> nonce,
                        std::span<const std::byte> associated, std::span<const std::byte> plaintext,
                        std::span<std::byte> out);
// `out` holds exactly ciphertext.size() - kTagLength bytes; false (out wiped) when it does not verify.
[[nodiscard]] bool open(Aead aead, std::span<const std::byte> key, std::span<const std::byte> nonce,
                        std::span<const std::byte> associated, std::span<const std::byte> ciphertext,
                        std::span<std::byte> out);

}  // namespace nts
