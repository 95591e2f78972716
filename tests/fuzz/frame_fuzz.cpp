// The AF_XDP frame path: any bytes in; a parsed request's payload lies inside the frame, and its
// reply (of a length the input picks) parses back with the addresses and ports swapped and the
// payload written.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <variant>

#include "server/xdp/frame.hpp"

namespace {
constexpr std::size_t kMaxPayload = 1200;
constexpr std::size_t kUmemFrame = 4096;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> input{reinterpret_cast<const std::byte*>(data), size};
  const auto parsed = xdp::parse_request(input, kMaxPayload);
  const auto* request = std::get_if<xdp::RequestFrame>(&parsed);
  if (request == nullptr) return 0;
  if (request->payload_offset > size || request->payload_length > size - request->payload_offset) std::abort();
  if (request->payload_length > kMaxPayload) std::abort();
  if (request->payload_offset != (request->ipv6 ? 62u : 42u)) std::abort();
  if (size > kUmemFrame) return 0;

  // The reply's length from the input's last two bytes; its bytes from the input, repeated.
  const std::size_t reply_length =
      size < 2 ? 0 : (std::size_t{data[size - 2]} << 8 | data[size - 1]) % (kMaxPayload + 1);
  std::array<std::byte, kUmemFrame + kMaxPayload> frame{};
  std::memcpy(frame.data(), data, size);
  for (std::size_t i = 0; i < reply_length; ++i) frame[request->payload_offset + i] = input[i % size];
  std::array<std::byte, kMaxPayload> reply{};
  std::copy_n(frame.begin() + static_cast<std::ptrdiff_t>(request->payload_offset), reply_length, reply.begin());

  const std::size_t length = xdp::make_reply(frame, *request, reply_length);
  if (length != request->payload_offset + reply_length) std::abort();
  const auto again = xdp::parse_request(std::span{frame}.first(length), kMaxPayload);
  const auto* answer = std::get_if<xdp::RequestFrame>(&again);
  if (answer == nullptr) std::abort();
  if (answer->ipv6 != request->ipv6 || answer->payload_offset != request->payload_offset ||
      answer->payload_length != reply_length) {
    std::abort();
  }
  if (answer->client.ip != request->destination || answer->client.port != request->destination_port ||
      answer->destination != request->client.ip || answer->destination_port != request->client.port) {
    std::abort();
  }
  if (!std::equal(reply.begin(), reply.begin() + static_cast<std::ptrdiff_t>(reply_length),
                  frame.begin() + static_cast<std::ptrdiff_t>(answer->payload_offset))) {
    std::abort();
  }
  // The Ethernet addresses swapped.
  if (std::memcmp(frame.data(), data + 6, 6) != 0 || std::memcmp(frame.data() + 6, data, 6) != 0) std::abort();
  return 0;
}
