"""Abuse: a flooding source against rate limiting, with well-behaved clients on the same worker
thread; and a storm of garbage datagrams against the running daemon. Loopback only."""

import hashlib
import json
import random
import select
import socket
import struct
import subprocess
import time
import unittest

import harness
from test_load import steered_worker

FLOODER = "127.1.0.1"  # smearctl bench --sources 1 speaks from this address


def metrics(daemon):
    return harness.scrape(daemon.metrics_url)


total = harness.total


def daemon_with(extra, workers):
    port = harness.free_udp_port()
    metrics_port = harness.free_tcp_port()
    text = harness.config_text([f"127.0.0.1:{port}"], workers=workers,
                               metrics=f"127.0.0.1:{metrics_port}") + extra
    daemon = harness.Smeard([f"127.0.0.1:{port}"], text=text)
    daemon.metrics_url = f"http://127.0.0.1:{metrics_port}"
    return daemon


class FloodTest(unittest.TestCase):
    SECONDS = 6
    INTERVAL = -2  # 4 answers a second
    BURST = 16

    def test_a_flooder_is_limited_and_its_neighbours_are_served(self):
        import ntplib
        # A worker count under which the flooder, 127.0.0.1 (ntplib) and the raw clients share a
        # worker thread: the case where one source could starve the others.
        workers = next(w for w in (2, 3, 4, 5) if steered_worker(FLOODER, w) == steered_worker("127.0.0.1", w))
        target = steered_worker(FLOODER, workers)
        neighbours = [a for a in (f"127.2.{i // 250}.{i % 250 + 1}" for i in range(2000))
                      if steered_worker(a, workers) == target][:150]
        daemon = daemon_with(f"ratelimit: {{interval: {self.INTERVAL}, burst: {self.BURST}, leak: 0}}\n", workers)
        with daemon:
            flood = subprocess.Popen([harness.binary(harness.SMEARCTL), "bench", f"127.0.0.1:{daemon.port}",
                                      "--seconds", str(self.SECONDS), "--sources", "1", "--window", "512",
                                      "--timeout", "0.01", "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)
            sockets = []
            for address in neighbours:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((address, 0))
                s.setblocking(False)
                sockets.append(s)
            sent = answered = 0
            ntplib_asked = ntplib_answered = 0
            client = ntplib.NTPClient()
            deadline = time.monotonic() + self.SECONDS - 1.5
            while time.monotonic() < deadline:
                # Each neighbour asks twice a second, half the limit.
                round_end = time.monotonic() + 0.5
                for s in sockets:
                    s.sendto(harness.ntp_request(), ("127.0.0.1", daemon.port))
                sent += len(sockets)
                waiting = set(sockets)
                while waiting and time.monotonic() < round_end:
                    ready, _, _ = select.select(list(waiting), [], [], max(0.0, round_end - time.monotonic()))
                    for s in ready:
                        reply = s.recv(1024)
                        if harness.decode(reply)["stratum"] == 1:
                            answered += 1
                        waiting.discard(s)
                ntplib_asked += 1
                try:
                    response = client.request("127.0.0.1", port=daemon.port, version=4, timeout=0.4)
                    if response.stratum == 1 and abs(response.offset) < 0.01:
                        ntplib_answered += 1
                except ntplib.NTPException:
                    pass
                time.sleep(max(0.0, round_end - time.monotonic()))
            for s in sockets:
                s.close()
            out, err = flood.communicate(timeout=30)
            result = json.loads(out)
            values = metrics(daemon)

        flood_rate = result["replies"] / result["seconds"]
        allowed = 2 ** -self.INTERVAL
        print(f"\n  flooder {FLOODER}: sent {result['sent'] / result['seconds']:.0f}/s, answered {flood_rate:.1f}/s "
              f"(limit {allowed}/s after a burst of {self.BURST}), KoD RATE {result['kiss_of_death']}")
        print(f"  {len(neighbours)} neighbours on worker {target} of {workers}: {answered}/{sent} answered "
              f"({answered / sent:.4%}); ntplib {ntplib_answered}/{ntplib_asked}")
        self.assertGreater(result["sent"], 10000, "the flood did not flood")
        # Answers (KoDs included) at most the burst plus the rate over the run, plus one interval of KoD.
        most = self.BURST + allowed * (self.SECONDS + 1) * 2
        self.assertLessEqual(result["replies"], most, result)
        self.assertGreaterEqual(result["kiss_of_death"], 1, result)
        self.assertLessEqual(result["kiss_of_death"], allowed * (self.SECONDS + 1), result)
        self.assertGreaterEqual(sent, 1000)
        self.assertGreaterEqual(answered / sent, 0.999)
        self.assertEqual(ntplib_answered, ntplib_asked)
        self.assertGreater(total(values, "smeard_ratelimited_total", action="dropped"), 10000)
        # Every KoD sent is counted. The flooder counts those that came back in time (10 ms): on a
        # loaded machine some come later (counted "late", whatever they say) or are still in
        # flight when it stops listening.
        kods = total(values, "smeard_ratelimited_total", action="kod")
        self.assertEqual(total(values, "smeard_kod_sent_total", code="RATE"), kods)
        self.assertGreaterEqual(kods, result["kiss_of_death"])
        self.assertLessEqual(kods, result["kiss_of_death"] + result["late"] + 2, (kods, result))


KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233")


def garbage(count, seed=20000):
    """Random and mutated datagrams of every kind a confused or hostile client sends, each with
    whether it is to be signed (with key 1) once its origin is set."""
    rng = random.Random(seed)
    valid = harness.ntp_request(transmit=bytes(8))
    signed = valid + struct.pack("!I", 1) + hashlib.sha1(KEY + valid).digest()
    out = []
    for i in range(count):
        kind = i % 10
        if kind == 0:
            d = rng.randbytes(rng.randrange(0, 1300))
        elif kind == 1:
            d = valid[:rng.randrange(0, 48)]  # truncated
        elif kind == 2:
            first = (rng.randrange(4) << 6) | (rng.randrange(8) << 3) | rng.randrange(8)  # every LI, version, mode
            d = bytes([first]) + rng.randbytes(47)
        elif kind == 3:
            # An extension field claiming a huge (or any) length.
            length = rng.choice([0, 4, 12, 16, 0xFFFF, 0x8000, rng.randrange(65536)])
            d = valid + struct.pack("!HH", rng.randrange(65536), length) + rng.randbytes(4 * rng.randrange(0, 40))
        elif kind == 4:
            d = valid + rng.randbytes(4 * rng.randrange(0, 30))  # MACs of every length
        elif kind == 5:
            flipped = bytearray(signed)
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
            d = bytes(flipped)
        elif kind == 6:
            out.append((valid, True))
            continue
        elif kind == 7:
            d = rng.randbytes(rng.randrange(1201, 3000))  # over the limit, and over the receive buffer
        elif kind == 8:
            d = bytes([(4 << 3) | rng.choice([4, 5, 6, 7])]) + rng.randbytes(rng.randrange(47, 600))  # server, control
        else:
            mutated = bytearray(valid + rng.randbytes(4 * rng.randrange(0, 20)))
            for _ in range(rng.randrange(1, 6)):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            d = bytes(mutated)
        out.append((d, False))
    return out


class GarbageStormTest(unittest.TestCase):
    COUNT = 20000

    def test_garbage_is_counted_never_amplified_and_serving_goes_on(self):
        import ntplib
        directory = harness.tempfile.mkdtemp(prefix="smeard-storm-")
        keys = harness.write_file(directory, "ntp.keys", f"1 SHA1 HEX:{KEY.hex()}\n")
        daemon = daemon_with(f"keys: {keys}\n", workers=2)
        datagrams = garbage(self.COUNT)
        sent_by_origin = {}
        largest_ratio = 0.0
        replies = []
        with daemon:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                s.bind(("127.0.0.1", 0))
                s.setblocking(False)
                for i, (d, sign) in enumerate(datagrams):
                    if len(d) >= 48:
                        # A unique origin to match the reply to its request.
                        d = d[:40] + struct.pack("!Q", 0x5A5A000000000000 + i) + d[48:]
                        if sign:
                            d += struct.pack("!I", 1) + hashlib.sha1(KEY + d).digest()
                        sent_by_origin[d[40:48]] = d
                    s.sendto(d, ("127.0.0.1", daemon.port))
                    if i % 200 == 199:
                        time.sleep(0.01)  # keep below what loopback buffers hold
                        while True:
                            try:
                                replies.append(s.recv(4096))
                            except BlockingIOError:
                                break
                end = time.monotonic() + 1.0
                while time.monotonic() < end:
                    try:
                        replies.append(s.recv(4096))
                    except BlockingIOError:
                        time.sleep(0.01)
            values = metrics(daemon)
            # Still serving a real client.
            response = ntplib.NTPClient().request("127.0.0.1", port=daemon.port, version=4, timeout=2)
            self.assertEqual(response.stratum, 1)
            self.assertLess(abs(response.offset), 0.01)
        harness.shutil.rmtree(directory, ignore_errors=True)

        modes = {}
        for reply in replies:
            request = sent_by_origin.get(reply[24:32])
            self.assertIsNotNone(request, "a reply to no request of ours")
            self.assertLessEqual(len(reply), len(request), "a reply larger than its request")
            largest_ratio = max(largest_ratio, len(reply) / len(request))
            mode = reply[0] & 7
            modes[mode] = modes.get(mode, 0) + 1
        self.assertEqual(set(modes), {4}, f"replies of modes {modes}")
        requests = total(values, "smeard_requests_total")
        responses = total(values, "smeard_responses_total")
        drops = total(values, "smeard_drops_total")
        errors = total(values, "smeard_send_errors_total")
        by_reason = {l.split('reason="')[1].split('"')[0]: int(v) for (n, l), v in values.items()
                     if n == "smeard_drops_total" and v}
        print(f"\n  {self.COUNT} datagrams: {int(responses)} answered ({len(replies)} received, largest "
              f"{largest_ratio:.2f} of its request), dropped {by_reason}, "
              f"crypto-NAKs {int(total(values, 'smeard_kod_sent_total', code='CRYP'))}")
        self.assertEqual(requests, self.COUNT, "a datagram was lost before smeard counted it")
        self.assertEqual(responses + drops + errors, requests, "a datagram in no counter")
        self.assertEqual(len(replies), responses)
        self.assertGreater(total(values, "smeard_auth_total", result="ok"), 0)
        self.assertGreater(total(values, "smeard_auth_total", result="bad_mac"), 0)
        for reason in ("too_short", "too_long", "bad_version", "unsupported_mode", "bad_extension_field",
                       "bad_mac_length", "not_word_aligned"):
            self.assertGreater(by_reason.get(reason, 0), 0, reason)


if __name__ == "__main__":
    unittest.main()
