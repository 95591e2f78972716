#include "server/ntp/client.hpp"

#include <doctest/doctest.h>

#include "server/ntp/responder.hpp"

using leapdb::Nanoseconds;

namespace {
const auto kT1 = leapdb::utc_from_unix_nanoseconds(1'483'228'000'000'000'000);
}

TEST_CASE("request is v4 client mode carrying our transmit timestamp") {
  const ntp::Timestamp sent{123, 456};
  const auto bytes = ntp::build_client_request(sent);
  const ntp::Header h = ntp::decode_header(bytes);
  CHECK(h.mode == ntp::Mode::client);
  CHECK(h.version == 4);
  CHECK(h.transmit_time == sent);
  CHECK(ntp::decode_header(ntp::build_client_request(sent, 2)).version == 2);
}

TEST_CASE("offset and delay from the four timestamps (RFC 5905 section 8)") {
  // Server 1.5 ms ahead; 200 us each way; 30 us inside the server.
  ntp::Header reply;
  reply.mode = ntp::Mode::server;
  const auto t2 = kT1 + Nanoseconds{200'000} + Nanoseconds{1'500'000};
  const auto t3 = t2 + Nanoseconds{30'000};
  const auto t4 = kT1 + Nanoseconds{430'000};
  reply.receive_time = ntp::to_ntp(t2);
  reply.transmit_time = ntp::to_ntp(t3);
  const ntp::Sample sample = ntp::measure(reply, kT1, t4);
  CHECK(sample.offset == Nanoseconds{1'500'000});
  CHECK(sample.delay == Nanoseconds{400'000});
  CHECK(sample.server_transmit == t3);
}

TEST_CASE("the responder and the client agree end to end, in memory") {
  const ntp::Snapshot snapshot = ntp::true_utc_snapshot();
  const ntp::Timestamp sent = ntp::to_ntp(kT1);
  const auto request = ntp::build_client_request(sent);
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  const leapdb::TaiTime received = snapshot.clock.to_tai(kT1 + Nanoseconds{50'000});
  const auto decision = ntp::handle(ntp::Request{request, ntp::ClientAddress{{}, 40123}, 0, received}, snapshot, {}, reply);
  REQUIRE(decision.replied());
  ntp::stamp_transmit(reply, received + Nanoseconds{10'000}, snapshot.timescales[0]);
  const auto check = ntp::check_reply(std::span{reply}.first(decision.reply_length()), sent);
  REQUIRE(check.problem == ntp::ReplyProblem::none);
  const auto sample = ntp::measure(check.header, kT1, kT1 + Nanoseconds{110'000});
  CHECK(sample.offset == Nanoseconds{0});
  CHECK(sample.delay == Nanoseconds{100'000});
}

TEST_CASE("replies that are not ours or not usable") {
  const ntp::Timestamp sent{1, 2};
  std::array<std::byte, ntp::kHeaderLength> bytes{};
  ntp::Header h;
  h.mode = ntp::Mode::server;
  h.stratum = 1;
  h.origin_time = sent;
  ntp::encode_header(h, bytes);
  CHECK(ntp::check_reply(bytes, sent).problem == ntp::ReplyProblem::none);
  CHECK(ntp::check_reply(std::span{bytes}.first(40), sent).problem == ntp::ReplyProblem::too_short);
  CHECK(ntp::check_reply(bytes, ntp::Timestamp{1, 3}).problem == ntp::ReplyProblem::origin_mismatch);
  h.stratum = 0;
  h.reference_id = 0x5241'5445;  // RATE
  ntp::encode_header(h, bytes);
  const auto kod = ntp::check_reply(bytes, sent);
  CHECK(kod.problem == ntp::ReplyProblem::kiss_of_death);
  CHECK(ntp::format_reference_id(0, kod.header.reference_id) == "RATE");
  h.stratum = 1;
  h.mode = ntp::Mode::symmetric_passive;
  ntp::encode_header(h, bytes);
  CHECK(ntp::check_reply(bytes, sent).problem == ntp::ReplyProblem::not_server_mode);
}

TEST_CASE("reference id text") {
  CHECK(ntp::format_reference_id(1, 0x4750'5300) == "GPS");
  CHECK(ntp::format_reference_id(1, 0x4C4F'434C) == "LOCL");
  CHECK(ntp::format_reference_id(1, 0x4101'0000) == "A\\x01");
  CHECK(ntp::format_reference_id(2, 0xC0A8'0001) == "192.168.0.1");
  CHECK(ntp::format_reference_id(3, 0x7F7F'01FF) == "127.127.1.255");
}
