// The whole request path: any bytes in, a reply no longer than the request, or a drop.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "server/ntp/responder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> request{reinterpret_cast<const std::byte*>(data), size};
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  static const ntp::Snapshot snapshot = ntp::true_utc_snapshot();
  static ntp::ClientHistory history{1024, 42};
  static ntp::InterleavedTable interleaved{1024, 42};
  ntp::Tables tables{&history};
  tables.interleaved = &interleaved;
  // Just before NTP era 1 begins.
  const leapdb::TaiTime received{std::chrono::nanoseconds{2'085'978'505'999'999'000}};
  const ntp::Decision decision =
      ntp::handle(ntp::Request{request, ntp::ClientAddress{{}, 40123}, 0, received}, snapshot, tables, reply);
  if (decision.replied()) {
    if (decision.reply_length() > size || decision.reply_length() > reply.size()) std::abort();
    const ntp::Timestamp sent = ntp::stamp_transmit(reply, received, snapshot.timescales[0]);
    // As the worker does, so that a later input can ask for it back in interleaved mode.
    const auto* time = decision.as<ntp::TimeReply>();
    if (time != nullptr && time->save_interleaved) {
      interleaved.save(ntp::reply_receive(reply), ntp::ClientAddress{}, sent);
    }
    const ntp::Header header = ntp::decode_header(std::span{reply}.first<ntp::kHeaderLength>());
    if (header.mode != ntp::Mode::server) std::abort();
  }
  return 0;
}
