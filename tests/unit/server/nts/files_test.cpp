#include "server/nts/files.hpp"

#include <doctest/doctest.h>

TEST_CASE("a certificate's dates as an NTS client judges them") {
  using std::chrono::seconds;
  const leapdb::UtcTime from{seconds{1'700'000'000}}, until{seconds{1'800'000'000}};
  const io::CertificateValidity c{from, until};
  CHECK(app::judge_dates(c, from - seconds{1}) == app::CertificateDates::not_yet_valid);
  CHECK(app::judge_dates(c, from) == app::CertificateDates::valid);
  CHECK(app::judge_dates(c, until - seconds{1}) == app::CertificateDates::valid);
  CHECK(app::judge_dates(c, until) == app::CertificateDates::expired);
}
