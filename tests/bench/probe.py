#!/usr/bin/python3
"""The offset and round trip of an NTP server as a client with kernel timestamps sees them.

    tests/bench/probe.py HOST:PORT [--mode basic|interleaved] [--interval S] [--seconds N]
                         [--delay S] [--timeout S] [--json]

After --delay seconds, queries HOST:PORT every --interval (default 0.002: 500 requests/s) for
--seconds, one request in flight (a reply that comes after the next request was due delays
that request), from one UDP socket stamped by the kernel (SO_TIMESTAMPING,
software stamps): T1 is the request's transmit stamp from the socket's error queue, T4 the
reply's receive stamp from its ancillary data, both in integer nanoseconds (a float of Unix
seconds has a quarter of a microsecond's resolution, the size of what is measured).

basic (RFC 5905): origin and receive zero, transmit a random cookie. A reply whose origin is
the cookie gives offset = ((T2 - T1) + (T3 - T4)) / 2 and delay = (T4 - T1) - (T3 - T2).

interleaved (RFC 9769 client/server mode, as chrony's client forms its requests): origin = the
receive field of the previous reply, receive = this probe's T4 of that reply, transmit = a
fresh cookie (distinct from both). A reply whose origin equals the request's receive field is
interleaved: its transmit field is when the server's previous reply really left (the server's
kernel or NIC stamp), so the sample is the previous exchange's T1, T2 and T4 with this reply's
T3, never this exchange's T1 and T4 (which would add a poll interval to the delay). A reply
whose origin is the cookie is basic (the server kept no stamp of its previous reply: chronyd's
first two replies, or a server without interleaved mode): a basic sample, counted apart. After
a lost reply the next request is basic again, as if the probe had just started.

A reply must be mode 4, synchronized (LI not 3, stratum 1 to 15), and have T2 <= T3 within a
second; anything else is counted and skipped. Prints the counts and, for each kind of sample,
offset p50/p99, |offset| p99 and delay p50/p99 in nanoseconds (one JSON object with --json).
probe(host, port, ...) returns the same dict to a caller that imports this file.
"""

import argparse
import json
import math
import os
import select
import socket
import struct
import sys
import time

NTP_UNIX = 2_208_988_800  # seconds from 1900 to 1970
ZERO = bytes(8)

# linux/net_tstamp.h. OPT_ID tags each transmit stamp with the number of the datagram it is
# for, so that a stamp left over from a lost exchange is never taken for this one's T1.
SO_TIMESTAMPING = 37
FLAGS = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 11)  # TX_SOFTWARE RX_SOFTWARE SOFTWARE OPT_ID OPT_TSONLY
RECVERR = {(socket.IPPROTO_IP, 11), (socket.IPPROTO_IPV6, 25)}  # IP_RECVERR, IPV6_RECVERR


def ntp_to_ns(raw):
    seconds, fraction = struct.unpack("!II", raw)
    return (seconds - NTP_UNIX) * 1_000_000_000 + ((fraction * 1_000_000_000 + (1 << 31)) >> 32)


def ns_to_ntp(ns):
    seconds, rest = divmod(ns, 1_000_000_000)
    return struct.pack("!II", (seconds + NTP_UNIX) & 0xFFFFFFFF, (rest << 32) // 1_000_000_000)


def kernel_stamp(ancillary):
    """The software stamp (the first of scm_timestamping's three) in ns, or None."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("=qq", data[:16])
            if seconds:
                return seconds * 1_000_000_000 + nanoseconds
    return None


def drain_stamps(sock, stamps):
    """Moves the transmit stamps waiting in the error queue into stamps (datagram number: ns).
    It must be emptied before waiting for a reply: while it holds anything the socket polls
    readable and a plain recvmsg() finds nothing."""
    while True:
        try:
            _, ancillary, _, _ = sock.recvmsg(0, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        for level, kind, data in ancillary:
            if (level, kind) in RECVERR and len(data) >= 16:
                stamps[struct.unpack("=IBBBBII", data[:16])[6]] = kernel_stamp(ancillary)  # ee_data: the number


def transmit_stamp(sock, stamps, key, wait=0.005):
    """The kernel's transmit stamp of datagram number `key`, or None. On loopback it is queued
    before the reply arrives; elsewhere it may lag a little."""
    deadline = time.monotonic() + wait
    while key not in stamps and time.monotonic() < deadline:
        select.select([sock], [], [], deadline - time.monotonic())
        drain_stamps(sock, stamps)
    found = stamps.pop(key, None)
    for older in [k for k in stamps if k < key]:
        del stamps[older]  # their replies were lost
    return found


def request(origin, receive, transmit):
    # LI 0, version 4, mode 3 (client), poll 6, precision -20; then the three timestamps.
    return struct.pack("!BBbb", 0x23, 0, 6, -20) + bytes(20) + origin + receive + transmit


def quantile(ordered, q):
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary(samples):
    """samples: (offset, delay) pairs in ns."""
    if not samples:
        return {"count": 0}
    offsets = sorted(s[0] for s in samples)
    magnitudes = sorted(abs(s[0]) for s in samples)
    delays = sorted(s[1] for s in samples)
    return {"count": len(samples),
            "offset_p50_ns": quantile(offsets, 0.5), "offset_p99_ns": quantile(offsets, 0.99),
            "abs_offset_p99_ns": quantile(magnitudes, 0.99),
            "delay_p50_ns": quantile(delays, 0.5), "delay_p99_ns": quantile(delays, 0.99)}


def sample(t1, t2, t3, t4):
    return ((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2)


def probe(host, port, mode="basic", seconds=1.0, interval=0.002, delay=0.0, timeout=0.05):
    if mode not in ("basic", "interleaved"):
        raise ValueError(f"mode must be basic or interleaved, not {mode!r}")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    counts = {"sent": 0, "lost": 0, "stray": 0, "unusable": 0, "stamps_missing": 0}
    samples = {"basic": [], "interleaved": []}
    previous = None  # the last answered exchange: T1, T2, T2 as sent (8 bytes), T4
    stamps = {}
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, FLAGS)
        sock.connect((host, port))  # only the server's datagrams reach this socket
        sock.setblocking(False)
        time.sleep(delay)
        due = start = time.monotonic()
        while due < start + seconds:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if mode == "interleaved" and previous is not None:
                origin, receive = previous[2], ns_to_ntp(previous[3])
            else:
                origin = receive = ZERO
            cookie = os.urandom(8)
            while cookie in (origin, receive, ZERO):
                cookie = os.urandom(8)
            sent_at = time.time_ns()  # T1 only if the kernel's stamp is missing
            key = counts["sent"]
            try:
                sock.send(request(origin, receive, cookie))
            except OSError:
                counts["lost"] += 1  # nothing listening (ECONNREFUSED from an earlier reply)
                previous = None
                due = next_due(due, interval)
                continue
            counts["sent"] += 1
            reply, t4 = receive_reply(sock, stamps, cookie, receive, time.monotonic() + timeout, counts)
            if reply is None:
                counts["lost"] += 1
                previous = None  # the server's stamp of its last reply is no use to us now
                due = next_due(due, interval)
                continue
            t1 = transmit_stamp(sock, stamps, key)
            if t1 is None or t4 is None:
                counts["stamps_missing"] += 1
                t1 = t1 if t1 is not None else sent_at
                t4 = t4 if t4 is not None else time.time_ns()
            t2, t3 = ntp_to_ns(reply[32:40]), ntp_to_ns(reply[40:48])
            interleaved = receive != ZERO and reply[24:32] == receive
            if reply[1] in (0, 16) or reply[0] >> 6 == 3 or reply[0] & 7 != 4:
                counts["unusable"] += 1  # kiss-o'-death or unsynchronized
                previous = None
            elif interleaved:
                # This reply's T3 is the previous reply's departure: the previous exchange's sample.
                p1, p2, _, p4 = previous
                if 0 <= t3 - p2 < 1_000_000_000:
                    samples["interleaved"].append(sample(p1, p2, t3, p4))
                else:
                    counts["unusable"] += 1
                previous = (t1, t2, reply[32:40], t4)
            else:
                if 0 <= t3 - t2 < 1_000_000_000:
                    samples["basic"].append(sample(t1, t2, t3, t4))
                else:
                    counts["unusable"] += 1
                previous = (t1, t2, reply[32:40], t4)
            due = next_due(due, interval)
    return {"server": f"{host}:{port}", "mode": mode, "interval_s": interval, "seconds": seconds, **counts,
            "basic": summary(samples["basic"]), "interleaved": summary(samples["interleaved"])}


def next_due(due, interval):
    """The next request's time: an interval after the last one was due, or at once if that has
    passed (a slow reply, or the probe woken late). The schedule then restarts from there, so
    a late spell never turns into a burst."""
    return max(due + interval, time.monotonic())


def receive_reply(sock, stamps, cookie, receive, deadline, counts):
    """The reply to this request (origin = its cookie, or = its receive field when interleaved)
    and its kernel receive stamp; (None, None) at the deadline. Late replies to earlier requests
    are counted as strays."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([sock], [], [], remaining)[0]:
            return None, None
        drain_stamps(sock, stamps)
        try:
            reply, ancillary, _, _ = sock.recvmsg(1024, 512)
        except (BlockingIOError, ConnectionRefusedError):
            continue
        if len(reply) >= 48 and (reply[24:32] == cookie or (receive != ZERO and reply[24:32] == receive)):
            return reply, kernel_stamp(ancillary)
        counts["stray"] += 1


def main():
    parser = argparse.ArgumentParser(description="Offset and delay of an NTP server, with kernel timestamps.")
    parser.add_argument("server", metavar="HOST:PORT")
    parser.add_argument("--mode", choices=("basic", "interleaved"), default="basic")
    parser.add_argument("--interval", type=float, default=0.002, help="seconds between requests (default 0.002)")
    parser.add_argument("--seconds", type=float, default=2, help="how long to query (default 2)")
    parser.add_argument("--delay", type=float, default=0, help="seconds to wait before the first request")
    parser.add_argument("--timeout", type=float, default=0.05, help="seconds to wait for a reply (default 0.05)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args()
    host, _, port = args.server.rpartition(":")
    result = probe(host.strip("[]"), int(port), args.mode, args.seconds, args.interval, args.delay, args.timeout)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['server']} {args.mode}: {result['sent']} sent, {result['lost']} lost, {result['stray']} stray, "
          f"{result['unusable']} unusable, {result['stamps_missing']} without a kernel stamp")
    for kind in ("basic", "interleaved"):
        s = result[kind]
        if s["count"]:
            print(f"  {kind}: {s['count']} samples, offset p50 {s['offset_p50_ns'] / 1e3:+.2f} µs, "
                  f"p99 {s['offset_p99_ns'] / 1e3:+.2f} µs, |offset| p99 {s['abs_offset_p99_ns'] / 1e3:.2f} µs, "
                  f"delay p50 {s['delay_p50_ns'] / 1e3:.2f} µs, p99 {s['delay_p99_ns'] / 1e3:.2f} µs")
        else:
            print(f"  {kind}: no samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
