#include "server/io/steering.hpp"

#include <linux/filter.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace io {
namespace {

// x ^= x >> 16; x *= golden ratio; x ^= x >> 16: every output bit depends on every address
// bit (a multiply alone leaves low bits blind to high ones), and neighbouring addresses (a /24
// of clients) spread evenly. Classic BPF can say it in a handful of instructions.
constexpr std::uint32_t kMultiplier = 0x9E37'79B1u;
constexpr std::uint32_t kShift = 16;

constexpr std::uint32_t mix(std::uint32_t x) {
  x ^= x >> kShift;
  x *= kMultiplier;
  return x ^ (x >> kShift);
}

std::uint32_t word_at(std::span<const std::uint8_t> bytes, std::size_t offset) {
  return (std::uint32_t{bytes[offset]} << 24) | (std::uint32_t{bytes[offset + 1]} << 16) |
         (std::uint32_t{bytes[offset + 2]} << 8) | std::uint32_t{bytes[offset + 3]};
}

constexpr std::uint32_t network_offset(std::uint32_t offset) {
  // Negative offsets from SKF_NET_OFF reach the IP header even though the program sees the
  // datagram from its UDP payload on.
  return static_cast<std::uint32_t>(SKF_NET_OFF) + offset;
}

sock_filter statement(std::uint16_t code, std::uint32_t k) { return sock_filter{code, 0, 0, k}; }

}  // namespace

unsigned steered_worker(std::span<const std::uint8_t> address, unsigned workers) {
  std::uint32_t folded = 0;
  for (std::size_t offset = 0; offset + 4 <= address.size(); offset += 4) folded ^= word_at(address, offset);
  return mix(folded) % workers;
}

std::string steer_by_client_address(int any_member, config::SocketAddress::Family family, unsigned workers) {
  std::vector<sock_filter> program;
  if (family == config::SocketAddress::Family::ipv4) {
    program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, network_offset(12)));  // source address
  } else {
    // The IPv6 source address's four words, folded by XOR.
    program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, network_offset(8)));
    for (const std::uint32_t offset : {12u, 16u, 20u}) {
      program.push_back(statement(BPF_MISC | BPF_TAX, 0));
      program.push_back(statement(BPF_LD | BPF_W | BPF_ABS, network_offset(offset)));
      program.push_back(statement(BPF_ALU | BPF_XOR | BPF_X, 0));
    }
  }
  // mix(), with X holding the value before each shift.
  for (const bool multiply : {true, false}) {
    program.push_back(statement(BPF_MISC | BPF_TAX, 0));
    program.push_back(statement(BPF_ALU | BPF_RSH | BPF_K, kShift));
    program.push_back(statement(BPF_ALU | BPF_XOR | BPF_X, 0));
    if (multiply) program.push_back(statement(BPF_ALU | BPF_MUL | BPF_K, kMultiplier));
  }
  program.push_back(statement(BPF_ALU | BPF_MOD | BPF_K, workers));
  program.push_back(statement(BPF_RET | BPF_A, 0));
  const sock_fprog fprog{static_cast<unsigned short>(program.size()), program.data()};
  if (::setsockopt(any_member, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof fprog) != 0) {
    return std::string{"SO_ATTACH_REUSEPORT_CBPF: "} + std::strerror(errno);
  }
  return {};
}

}  // namespace io
