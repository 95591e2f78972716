#pragma once
// Transmit timestamps from the socket's error queue (SO_TIMESTAMPING): the kernel loops back a
// copy of each datagram it stamped, with its link, IP and UDP headers, and the stamps beside it.

#include <cstddef>
#include <span>

namespace io {

// The UDP payload of a looped-back frame: starting at an Ethernet header or at the IPv4 or IPv6
// header, as drivers differ; empty when it is neither or is cut short.
std::span<const std::byte> looped_udp_payload(std::span<const std::byte> frame);

}  // namespace io
