#!/usr/bin/python3
# Writes the reference request and reply frames pasted into frame_test.cpp: built field by field
# with struct, checksums per RFC 1071/768 written here independently of server/xdp/frame.cpp.
# With --check-linux (as root: unshare -n python3 reply_fixture.py --check-linux) it also sends
# the replies over a veth pair to a UDP socket, showing that Linux accepts their checksums and
# drops a copy whose payload was changed.
import socket
import struct
import subprocess
import sys
import time

SERVER_MAC, CLIENT_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total > 0xFFFF:
        total = (total >> 16) + (total & 0xFFFF)
    return ~total & 0xFFFF


def udp(src_ip, dst_ip, sport, dport, payload, v6):
    length = 8 + len(payload)
    if v6:
        pseudo = src_ip + dst_ip + struct.pack("!I3xB", length, 17)
    else:
        pseudo = src_ip + dst_ip + struct.pack("!xBH", 17, length)
    check = csum(pseudo + struct.pack("!HHHH", sport, dport, length, 0) + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, check) + payload


def v4(src_mac, dst_mac, src, dst, sport, dport, payload, tos, ident, flags, ttl):
    src, dst = bytes(src), bytes(dst)
    segment = udp(src, dst, sport, dport, payload, False)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(segment), ident, flags, ttl, 17, 0, src, dst)
    header = header[:10] + struct.pack("!H", csum(header)) + header[12:]
    return dst_mac + src_mac + b"\x08\x00" + header + segment


def v6(src_mac, dst_mac, src, dst, sport, dport, payload, first_word, hops):
    segment = udp(src, dst, sport, dport, payload, True)
    header = struct.pack("!IHBB16s16s", first_word, len(segment), 17, hops, src, dst)
    return dst_mac + src_mac + b"\x86\xdd" + header + segment


request_payload = bytes([0x23]) + bytes(range(1, 48))
reply_payload = bytes([0x24]) + bytes((7 * i) & 0xFF for i in range(1, 56))  # 56 bytes: longer than the request
c4, s4 = [192, 0, 2, 1], [198, 51, 100, 7]
c6, s6 = bytes.fromhex("20010db8000000000000000000000001"), bytes.fromhex("20010db8000000000000000000000123")
frames = {
    "ipv4_request": v4(CLIENT_MAC, SERVER_MAC, c4, s4, 40123, 123, request_payload, 0xB8, 0x1234, 0, 5),
    "ipv4_reply": v4(SERVER_MAC, CLIENT_MAC, s4, c4, 123, 40123, reply_payload, 0, 0, 0x4000, 64),
    "ipv6_request": v6(CLIENT_MAC, SERVER_MAC, c6, s6, 40123, 123, request_payload, 0x6B812345, 3),
    "ipv6_reply": v6(SERVER_MAC, CLIENT_MAC, s6, c6, 123, 40123, reply_payload, 0x60000000, 64),
    "reply_payload": reply_payload,
}


def udp_errors():
    v4 = [line.split() for line in open("/proc/net/snmp") if line.startswith("Udp:")]
    v6 = {line.split()[0]: int(line.split()[1]) for line in open("/proc/net/snmp6") if line.startswith("Udp6")}
    return int(dict(zip(v4[0], v4[1]))["InCsumErrors"]), v6["Udp6InCsumErrors"]


def check_linux():
    for command in ["ip link add xa type veth peer name xb", "ip link set xb address 02:00:00:00:00:02",
                    "ip link set xa up", "ip link set xb up", "ip addr add 192.0.2.1/24 dev xb",
                    "ip -6 addr add 2001:db8::1/64 dev xb nodad", "ip route add 198.51.100.0/24 dev xb"]:
        subprocess.run(command.split(), check=True)
    time.sleep(0.5)
    sender = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sender.bind(("xa", 0))
    ok = True
    for family, address, name, at, which in [(socket.AF_INET, "192.0.2.1", "ipv4_reply", 42, 0),
                                             (socket.AF_INET6, "2001:db8::1", "ipv6_reply", 62, 1)]:
        receiver = socket.socket(family, socket.SOCK_DGRAM)
        receiver.bind((address, 40123))
        receiver.settimeout(1)
        changed = bytearray(frames[name])
        changed[at + 5] ^= 1
        errors = udp_errors()[which]
        sender.send(bytes(changed))
        sender.send(frames[name])
        data = receiver.recv(2048)  # the changed copy, if Linux took it, comes first
        good = data == frames[name][at:] and udp_errors()[which] == errors + 1
        print(name, "accepted; changed copy dropped as a checksum error" if good else "NOT as expected")
        ok = ok and good
    sys.exit(0 if ok else 1)


if "--check-linux" in sys.argv:
    check_linux()
for name, data in frames.items():
    rows = [", ".join("0x%02x" % b for b in data[i:i + 16]) for i in range(0, len(data), 16)]
    print("constexpr std::array<std::uint8_t, %d> k%s{\n    %s};" % (
        len(data), "".join(w.capitalize() for w in name.split("_")), ",\n    ".join(rows)))
