#pragma once
// Steers each client to one worker: a classic BPF program attached to a listener's
// SO_REUSEPORT group picks the socket from the client's source address alone (not its port),
// so a client always lands on the same worker and per-worker tables (client history, rate
// limits) see all of its traffic without sharing writes between threads.

#include <cstdint>
#include <span>
#include <string>

#include "config/config.hpp"

namespace io {

// The worker a client address is steered to among `workers`; the BPF program computes the
// same function, so tests and tools can predict it. `address` is 4 (IPv4) or 16 bytes.
unsigned steered_worker(std::span<const std::uint8_t> address, unsigned workers);

// Attaches the program to the reuseport group `any_member` belongs to, whose sockets were
// bound in worker order. Returns an empty string on success, otherwise why not.
std::string steer_by_client_address(int any_member, config::SocketAddress::Family family, unsigned workers);

}  // namespace io
