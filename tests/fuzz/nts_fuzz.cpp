// NTS from both sides of the wire: NTS-KE request records, NTS requests on the NTP port (raw,
// or a valid one with the input XORed over it, so the fuzzer reaches past the cookie and the
// authenticator), cookies and the cookie key file; and as a client of upstream servers, their
// NTS-KE responses, the session file, and their replies (raw, or a genuine one XORed). The
// first byte picks which.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "server/ntp/responder.hpp"
#include "server/nts/client.hpp"
#include "server/nts/ke_records.hpp"
#include "server/nts/master_key.hpp"

namespace {

using Bytes = std::vector<std::byte>;
constexpr std::uint32_t kTimescaleId = 0x5EA12345;

struct Fixture {
  std::vector<nts::CookieKey> keys;
  nts::CookieContents agreed;
  Bytes request;  // valid: a cookie, a placeholder, an authenticator
  ntp::Snapshot snapshot = ntp::true_utc_snapshot();

  Fixture() {
    const std::array<std::byte, 32> master{std::byte{7}};
    keys = nts::cookie_keys_at(master, 86400, 1'800'000'000);
    agreed.timescale_id = kTimescaleId;
    agreed.c2s.fill(std::byte{0x11});
    agreed.s2c.fill(std::byte{0x22});
    const std::array<std::byte, nts::kCookieNonceLength> nonce{std::byte{3}};
    Bytes cookie(nts::kMaxCookieLength);
    cookie.resize(nts::seal_cookie(keys[0], agreed, nonce, cookie));
    request.assign(ntp::kMaxPacketLength, std::byte{0});
    request[0] = std::byte{0x23};
    request[ntp::kTransmitTimeOffset] = std::byte{0x5A};
    const Bytes unique_id(32, std::byte{0x44});
    const std::array<std::byte, 16> auth_nonce{std::byte{9}};
    const nts::ClientRequest fields{unique_id, cookie, 1, agreed.aead, std::span{agreed.c2s}.first(32), auth_nonce};
    request.resize(nts::write_request(request, fields));
    if (request.empty()) std::abort();
    snapshot.nts_keys = keys;
    snapshot.timescales[0].nts_id = kTimescaleId;
  }
};

void answer(std::span<const std::byte> request) {
  static const Fixture fixture;
  static const std::array<std::byte, nts::kReplyRandomness> randomness{std::byte{0x77}};
  static ntp::Authenticator authenticator{nullptr};
  ntp::Tables tables{};
  tables.authenticator = &authenticator;
  tables.nts_randomness = &randomness;
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  const leapdb::TaiTime received{std::chrono::nanoseconds{1'800'000'037'000'000'000}};
  const ntp::Decision decision =
      ntp::handle(ntp::Request{request, ntp::ClientAddress{{}, 40123}, 0, received}, fixture.snapshot, tables, reply);
  if (!decision.replied()) return;
  if (decision.reply_length() > request.size()) std::abort();  // never amplifies
  ntp::stamp_transmit(reply, received, fixture.snapshot.timescales[0]);
  ntp::sign(reply, decision, authenticator);
}

// The client's side of the fixture: the session its cookie was sealed with, and the server's
// genuine reply to its request.
struct ClientFixture {
  nts::ClientSession session;
  std::array<std::byte, nts::kClientUniqueIdLength> unique_id{};
  Bytes reply;

  ClientFixture() {
    static const Fixture server;
    session.aead = server.agreed.aead;
    session.c2s = server.agreed.c2s;
    session.s2c = server.agreed.s2c;
    unique_id.fill(std::byte{0x44});
    static const std::array<std::byte, nts::kReplyRandomness> randomness{std::byte{0x77}};
    static ntp::Authenticator authenticator{nullptr};
    ntp::Tables tables{};
    tables.authenticator = &authenticator;
    tables.nts_randomness = &randomness;
    reply.assign(ntp::kMaxReplyLength, std::byte{0});
    const leapdb::TaiTime received{std::chrono::nanoseconds{1'800'000'037'000'000'000}};
    const ntp::Decision decision = ntp::handle(ntp::Request{server.request, ntp::ClientAddress{{}, 40123}, 0, received},
                                               server.snapshot, tables, std::span<std::byte, ntp::kMaxReplyLength>{reply});
    if (!decision.replied()) std::abort();
    ntp::stamp_transmit(std::span<std::byte, ntp::kMaxReplyLength>{reply}, received, server.snapshot.timescales[0]);
    ntp::sign(std::span<std::byte, ntp::kMaxReplyLength>{reply}, decision, authenticator);
    reply.resize(decision.reply_length());
  }
};

void client_opens(std::span<const std::byte> edits, bool mutate) {
  static const ClientFixture fixture;
  nts::ClientSession session = fixture.session;
  if (!mutate) {
    (void)nts::open_server_reply(edits, fixture.unique_id, session);
    return;
  }
  Bytes reply = fixture.reply;
  bool changed = false;
  for (std::size_t i = 0; i < edits.size() && i < reply.size(); ++i) {
    reply[i] ^= edits[i];
    changed |= edits[i] != std::byte{0};
  }
  const nts::ReplyAuthenticity verdict = nts::open_server_reply(reply, fixture.unique_id, session);
  if (!changed && verdict != nts::ReplyAuthenticity::authentic) std::abort();  // the genuine reply opens
}

void client_reads_ke_response(std::span<const std::byte> input) {
  static constexpr std::array kOffered{nts::Aead::aes_siv_cmac_256};
  const nts::KeResponseParse parsed = nts::parse_ke_response(input, kOffered);
  if (parsed.status == nts::KeResponseParse::Status::complete &&
      (parsed.response.cookies.empty() || parsed.response.aead != nts::Aead::aes_siv_cmac_256)) {
    std::abort();
  }
}

void client_reads_session(std::span<const std::byte> input) {
  std::string problem;
  const auto session =
      nts::parse_client_session(std::string_view{reinterpret_cast<const char*>(input.data()), input.size()}, problem);
  if (!session) return;
  // What parses is written back as it was read.
  const auto again = nts::parse_client_session(nts::format_client_session(*session), problem);
  if (!again || again->cookies != session->cookies || again->c2s != session->c2s || again->ntp_port != session->ntp_port) {
    std::abort();
  }
}

void mutated_nts_request(std::span<const std::byte> edits) {
  static const Fixture fixture;
  Bytes request = fixture.request;
  // The first byte, if any, cuts the request short; the rest is XORed over it.
  if (!edits.empty()) {
    const std::size_t cut = std::to_integer<std::size_t>(edits[0]);
    if (cut != 0 && cut < request.size()) request.resize(request.size() - cut);
    edits = edits.subspan(1);
  }
  for (std::size_t i = 0; i < edits.size() && i < request.size(); ++i) request[i] ^= edits[i];
  answer(request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::byte> input{reinterpret_cast<const std::byte*>(data) + 1, size - 1};
  static constexpr std::array kSupported{nts::Aead::aes_siv_cmac_256, nts::Aead::aes_siv_cmac_512};
  switch (data[0] % 8) {
    case 0: {
      const nts::KeParse parsed = nts::parse_ke_request(input, kSupported);
      if (parsed.status == nts::KeParse::Status::complete) {
        const nts::KeResponse response{parsed.request.ntpv4, parsed.request.aead, {}, "ntp.example.net", 1123};
        if (nts::encode_ke_response(response).size() < 4) std::abort();
      }
      break;
    }
    case 1: answer(input); break;
    case 2: mutated_nts_request(input); break;
    case 3: {
      static const Fixture fixture;
      if (const auto opened = nts::open_cookie(fixture.keys, input); opened && opened->timescale_id != kTimescaleId) {
        std::abort();  // nothing but what was sealed opens
      }
      (void)nts::parse_master_key(std::string_view{reinterpret_cast<const char*>(input.data()), input.size()});
      break;
    }
    case 4: client_reads_ke_response(input); break;
    case 5: client_reads_session(input); break;
    case 6: client_opens(input, false); break;
    case 7: client_opens(input, true); break;
  }
  return 0;
}
