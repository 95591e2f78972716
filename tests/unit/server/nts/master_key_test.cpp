#include "server/nts/master_key.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <span>
#include <string>

#include "tests/unit/server/nts/released.hpp"

namespace {

const std::string kHex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";

// The problem as "LINE: MESSAGE", or the message alone when it is about the whole file.
std::string described(const std::string& text) {
  const auto result = nts::parse_master_key(text);
  return (result.line > 0 ? std::to_string(result.line) + ": " : "") + result.problem;
}

}  // namespace

TEST_CASE("cookie key file: one line of hex, comments and blank lines around it") {
  const auto plain = nts::parse_master_key(kHex + "\n");
  CHECK(plain.problem.empty());
  REQUIRE(plain.secret.size() == 32);
  CHECK(plain.secret[0] == std::byte{0x00});
  CHECK(plain.secret[10] == std::byte{0xaa});
  CHECK(plain.secret[31] == std::byte{0xff});

  const auto commented = nts::parse_master_key("# fleet secret, rotated by the cluster\n\n  " + kHex + "ab\r\n\n# end");
  CHECK(commented.problem.empty());
  CHECK(commented.secret.size() == 33);
  CHECK(nts::parse_master_key(kHex).secret == plain.secret);  // no final newline, as a Secret often has
}

TEST_CASE("cookie key file: problems name the line") {
  CHECK(described("") == "no key (expected one line of at least 64 hex digits)");
  CHECK(described("# only a comment\n") == "no key (expected one line of at least 64 hex digits)");
  CHECK(described("# x\n00112233\n") == "2: 8 hex digits; at least 64 are needed (openssl rand -hex 32)");
  CHECK(described(kHex + "0\n") == "1: an odd number of hex digits");
  CHECK(described("\n  " + kHex.substr(0, 10) + "g" + kHex.substr(11)) ==
        "2: column 13: 'g' is not a hex digit");
  CHECK(described(kHex + "\n" + kHex + "\n") ==
        "2: a second key (the first is on line 1); the file holds exactly one");
  CHECK(described(kHex + " # comment\n").ends_with("is not a hex digit"));
  CHECK(nts::parse_master_key(kHex + "\n" + kHex).secret.empty());
}

TEST_CASE("cookie key file: no copy of the secret is left behind, by its holder or by a line that fails") {
  std::array<std::byte, 16> half{};  // what kHex's first 32 digits say
  for (std::size_t i = 0; i < half.size(); ++i) half[i] = static_cast<std::byte>(0x11 * i);
  auto result = std::make_unique<nts::MasterKeyResult>(nts::parse_master_key(kHex));
  REQUIRE(result->secret.size() == 32);
  REQUIRE(std::ranges::equal(std::span{result->secret}.first(half.size()), half));
  const std::uintptr_t at = released::address_of(result->secret.data());
  {
    const released::Watch watch{half};
    result.reset();
    CHECK(watch.saw_release_of(at));
    CHECK(watch.blocks_holding_pattern() == 0);
  }
  // Read a byte at a time, the secret outgrows its buffer; a bad digit midway drops it.
  const std::string bad = kHex.substr(0, 40) + "zz" + kHex.substr(42);
  const released::Watch watch{std::span{half}.first(8)};
  CHECK(described(bad) == "1: column 41: 'z' is not a hex digit");
  CHECK(watch.blocks_holding_pattern() == 0);
}
