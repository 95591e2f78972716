#include "server/reference/upstream/address.hpp"

#include <doctest/doctest.h>

using namespace reference::upstream;

TEST_CASE("address: parsed, printed and compared with the port") {
  const auto v4 = parse_address("192.0.2.1", 123);
  REQUIRE(v4);
  CHECK(v4->family == Address::Family::ipv4);
  CHECK(v4->to_string() == "192.0.2.1:123");
  const auto v6 = parse_address("2001:db8::1", 1123);
  REQUIRE(v6);
  CHECK(v6->family == Address::Family::ipv6);
  CHECK(v6->to_string() == "[2001:db8::1]:1123");
  CHECK_FALSE(parse_address("ntp.example.net", 123));
  CHECK_FALSE(parse_address("[2001:db8::1]", 123));
  CHECK(*parse_address("192.0.2.1", 123) == *v4);
  CHECK_FALSE(*parse_address("192.0.2.1", 124) == *v4);
}

TEST_CASE("address: the refid is an IPv4 address itself, an IPv6 one's the first four bytes of its MD5") {
  CHECK(reference_id(*parse_address("192.0.2.1", 123)) == 0xC0000201);
  CHECK(reference_id(*parse_address("::ffff:192.0.2.1", 123)) == 0xC0000201);
  // Computed apart from OpenSSL, with Python:
  //   hashlib.md5(ipaddress.ip_address("2001:db8::1").packed).digest()[:4].hex() == "39ab9b37"
  //   hashlib.md5(ipaddress.ip_address("::1").packed).digest()[:4].hex() == "cf404dc8"
  //   hashlib.md5(ipaddress.ip_address("fd00::2").packed).digest()[:4].hex() == "b42e15ab"
  // The digest's first byte is the refid's most significant (chrony's UTI_IPToRefid), so on the
  // wire the refid is the digest's first four bytes in order.
  CHECK(reference_id(*parse_address("2001:db8::1", 123)) == 0x39ab9b37);
  CHECK(reference_id(*parse_address("::1", 123)) == 0xcf404dc8);
  CHECK(reference_id(*parse_address("fd00::2", 4123)) == 0xb42e15ab);  // the port is not hashed
}
