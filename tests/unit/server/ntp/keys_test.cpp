// The chrony keys file: every form a line can take, and every way it can be wrong.
#include <doctest/doctest.h>

#include "server/ntp/keys.hpp"
#include "tests/unit/server/ntp/bytes.hpp"

TEST_CASE("keys: ID [TYPE] KEY, MD5 by default, HEX: ASCII: or bare, comments and blank lines") {
  const ntp::KeysResult result = ntp::parse_keys(
      "# chrony.keys\n"
      "\n"
      "10 plain\n"
      "  3 SHA1 HEX:00ff10Ab   # trailing comment\n"
      "7\tsha256\tASCII:with:colons\r\n"
      "20 AES128 HEX:2b7e151628aed2a6abf7158809cf4f3c\n"
      "21 AES256 ASCII:0123456789abcdef0123456789abcdef\n"
      "4 SHA512 x\n"
      "5 SHA384 y");
  REQUIRE(result.problems.empty());
  REQUIRE(result.keys.size() == 7);
  CHECK(result.keys[0].id == 3);  // sorted
  CHECK(result.keys[0].algorithm == ntp::MacAlgorithm::sha1);
  CHECK(result.keys[0].secret == std::vector<std::byte>{std::byte{0x00}, std::byte{0xff}, std::byte{0x10}, std::byte{0xab}});
  CHECK(result.keys[0].line == 4);
  CHECK(result.keys[1].algorithm == ntp::MacAlgorithm::sha512);
  CHECK(result.keys[2].algorithm == ntp::MacAlgorithm::sha384);
  CHECK(result.keys[3].id == 7);
  CHECK(result.keys[3].secret == test_bytes::of_text("with:colons"));
  CHECK(result.keys[4].id == 10);
  CHECK(result.keys[4].algorithm == ntp::MacAlgorithm::md5);
  CHECK(result.keys[4].secret == test_bytes::of_text("plain"));
  CHECK(result.keys[5].algorithm == ntp::MacAlgorithm::aes128_cmac);
  CHECK(result.keys[5].secret.size() == 16);
  CHECK(result.keys[6].algorithm == ntp::MacAlgorithm::aes256_cmac);
  CHECK(result.keys[6].secret.size() == 32);
}

TEST_CASE("keys: digest lengths on the wire") {
  CHECK(ntp::digest_length(ntp::MacAlgorithm::md5) == 16);
  CHECK(ntp::digest_length(ntp::MacAlgorithm::sha1) == 20);
  CHECK(ntp::digest_length(ntp::MacAlgorithm::sha256) == 32);
  CHECK(ntp::digest_length(ntp::MacAlgorithm::sha384) == 48);
  CHECK(ntp::digest_length(ntp::MacAlgorithm::sha512) == 64);
  CHECK(ntp::digest_length(ntp::MacAlgorithm::aes128_cmac) == 16);
  CHECK(ntp::digest_length(ntp::MacAlgorithm::aes256_cmac) == 16);
  for (const char* name : {"MD5", "SHA1", "SHA256", "SHA384", "SHA512", "AES128", "AES256"}) {
    const auto algorithm = ntp::parse_mac_algorithm(name);
    REQUIRE(algorithm);
    CHECK(ntp::to_string(*algorithm) == name);
  }
  CHECK_FALSE(ntp::parse_mac_algorithm("SHA3-256"));
}

TEST_CASE("keys: each problem names its line, column and field, never the secret, and no key is kept") {
  struct Case {
    const char* text;
    unsigned line, column;
    const char* field;
    const char* message_part;
  };
  const Case cases[] = {
      {"0 SHA1 HEX:00", 1, 1, "id", "not a key number"},
      {"\nx1 SHA1 secretvalue", 2, 1, "id", "not a key number"},
      {"4294967296 MD5 k", 1, 1, "id", "not a key number"},
      {"5", 1, 1, "key", "has no key"},
      {"5 SHA3 secretvalue", 1, 3, "type", "unknown type 'SHA3'"},
      {"5 SHA1 HEX:abc", 1, 8, "key", "even number of hex digits"},
      {"5 SHA1 HEX:zz", 1, 8, "key", "even number of hex digits"},
      {"5 SHA1 ASCII:", 1, 8, "key", "is empty"},
      {"5 AES128 HEX:00112233", 1, 10, "key", "needs a 16-byte key, not 4 bytes"},
      {"5 AES256 ASCII:0123456789abcdef", 1, 10, "key", "needs a 32-byte key, not 16 bytes"},
      {"5 SHA1 a b", 1, 10, "key", "unexpected text"},
      {"5 SHA1 secretvalue\n6 MD5 other\n5 MD5 secretvalue", 3, 1, "id", "already defined on line 1"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    const ntp::KeysResult result = ntp::parse_keys(c.text);
    REQUIRE(result.problems.size() == 1);
    CHECK(result.keys.empty());
    const ntp::KeyProblem& problem = result.problems[0];
    CHECK(problem.line == c.line);
    CHECK(problem.column == c.column);
    CHECK(problem.field == c.field);
    CHECK(problem.message.find(c.message_part) != std::string::npos);
    CHECK(problem.message.find("secretvalue") == std::string::npos);
  }
  const ntp::KeysResult two = ntp::parse_keys("1 MD5 a\n0 MD5 b\n2 BAD c\n");
  REQUIRE(two.problems.size() == 2);
  CHECK(two.problems[1].to_string("/etc/smeard/keys") == "/etc/smeard/keys:3:3: type: unknown type 'BAD' "
                                                          "(MD5, SHA1, SHA256, SHA384, SHA512, AES128, AES256)");
}
