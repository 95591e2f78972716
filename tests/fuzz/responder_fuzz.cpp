// The whole request path: any bytes in, a reply no longer than the request, or a drop.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "server/ntp/responder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> request{reinterpret_cast<const std::byte*>(data), size};
  std::array<std::byte, ntp::kMaxReplyLength> reply{};
  const auto received = leapdb::utc_from_unix_nanoseconds(2'085'978'495'999'999'000);  // just before era 1
  const ntp::Decision decision = ntp::handle(request, ntp::ClientAddress{}, received, ntp::Snapshot{}, reply);
  if (decision.replied()) {
    if (decision.reply_length > size || decision.reply_length > reply.size()) std::abort();
    ntp::stamp_transmit(reply, received);
    const ntp::Header header = ntp::decode_header(std::span{reply}.first<ntp::kHeaderLength>());
    if (header.mode != ntp::Mode::server) std::abort();
  }
  return 0;
}
