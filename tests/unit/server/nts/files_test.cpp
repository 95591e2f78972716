#include "server/nts/files.hpp"

#include <doctest/doctest.h>

TEST_CASE("a certificate's dates as an NTS client judges them") {
  using std::chrono::seconds;
  const leapdb::UtcTime from{seconds{1'700'000'000}}, until{seconds{1'800'000'000}};
  const nts::CertificateValidity c{from, until};
  CHECK(nts::judge_dates(c, from - seconds{1}) == nts::CertificateDates::not_yet_valid);
  CHECK(nts::judge_dates(c, from) == nts::CertificateDates::valid);
  CHECK(nts::judge_dates(c, until - seconds{1}) == nts::CertificateDates::valid);
  CHECK(nts::judge_dates(c, until) == nts::CertificateDates::expired);
}
