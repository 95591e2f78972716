"""Load: `smearctl bench` against the real daemon (and against a server that answers wrongly),
client steering across worker threads, and memory that stays bounded whatever the number of
distinct clients."""

import ipaddress
import json
import os
import re
import socket
import struct
import threading
import time
import unittest
import urllib.request

import harness

INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"

BENCH_KEYS = ["target", "seconds", "sockets", "window", "rate", "sources", "sent", "replies",
              "replies_per_second", "lost", "loss_ratio", "invalid", "late", "kiss_of_death", "send_errors",
              "rtt_p50_us", "rtt_p99_us", "rtt_max_us"]


def smeard_with_metrics(workers, extra="", host="127.0.0.1"):
    """A smeard serving the google smear on one loopback port (host "127.0.0.1" or "[::1]"),
    with its metrics endpoint on."""
    port = harness.free_udp_port()
    metrics = harness.free_tcp_port()
    text = "\n".join([
        "listeners:", f'  - address: "{host}:{port}"', "    timescale: google",
        "timescales:", "  google:", "    smear: google",
        "reference:", "  type: system", "  unsynchronized: {local_stratum: 1}",
        f"workers: {workers}",
        f'metrics: {{listen: "127.0.0.1:{metrics}"}}', extra, ""])
    daemon = harness.Smeard([f"{host}:{port}"], text=text)
    daemon.metrics_url = f"http://127.0.0.1:{metrics}"
    return daemon


def status(daemon):
    with urllib.request.urlopen(daemon.metrics_url + "/status", timeout=5) as response:
        return json.load(response)


def bench(*args, timeout=60):
    return harness.run([harness.binary(harness.SMEARCTL), "bench", *args], timeout=timeout)


def steered_worker(address, workers):
    """What smeard's reuseport program computes (server/io/steering.cpp), written out again:
    the address's 32-bit words folded by XOR, then x ^= x >> 16, x *= 0x9E3779B1,
    x ^= x >> 16 (32-bit), modulo the workers."""
    packed = ipaddress.ip_address(address).packed
    x = 0
    for i in range(0, len(packed), 4):
        x ^= struct.unpack("!I", packed[i:i + 4])[0]
    x ^= x >> 16
    x = (x * 0x9E3779B1) & 0xFFFFFFFF
    x ^= x >> 16
    return x % workers


def check_steering(test, daemon, family, server, addresses):
    """Five requests from each address, each from a new socket (a new port): every one must
    reach the worker the hash names, and the addresses must use both workers."""
    request = harness.ntp_request()
    used = set()
    for address in addresses:
        before = status(daemon)["traffic"][0]["requests_by_worker"]
        for _ in range(5):
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.bind((address, 0))
                s.settimeout(2)
                s.sendto(request, (server, daemon.port))
                s.recv(100)
        after = status(daemon)["traffic"][0]["requests_by_worker"]
        delta = [a - b for a, b in zip(after, before)]
        expected = steered_worker(address, 2)
        test.assertEqual(delta[expected], 5, f"{address}: worker counts moved by {delta}")
        used.add(expected)
    test.assertEqual(used, {0, 1}, f"{len(addresses)} addresses all hashed to one worker")


def processing_histogram(daemon):
    """smeard_processing_seconds from the metrics endpoint: {le: cumulative count} and the count."""
    with urllib.request.urlopen(daemon.metrics_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    buckets, count = {}, None
    for line in text.splitlines():
        if line.startswith("smeard_processing_seconds_bucket{"):
            le = re.search(r'[{,]le="([^"]+)"', line).group(1)
            buckets[float(le)] = buckets.get(float(le), 0) + int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("smeard_processing_seconds_count{"):
            count = (count or 0) + int(float(line.rsplit(" ", 1)[1]))
    return buckets, count


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class Bench(unittest.TestCase):
    def test_every_request_is_answered_and_counted_by_both_sides(self):
        with smeard_with_metrics(workers=1) as daemon:
            result = bench(f"127.0.0.1:{daemon.port}", "--seconds", "1", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            report = json.loads(result.stdout)
            self.assertEqual(list(report), BENCH_KEYS)
            self.assertGreater(report["replies"], 1000)
            self.assertEqual(report["invalid"], 0)
            self.assertEqual(report["lost"], 0)
            self.assertEqual(report["sent"], report["replies"])
            self.assertLessEqual(report["rtt_p50_us"], report["rtt_p99_us"])
            self.assertLessEqual(report["rtt_p99_us"], report["rtt_max_us"] + 0.1)
            served = sum(t["responses"] for t in status(daemon)["traffic"])
            self.assertEqual(served, report["sent"], "smeard's reply count disagrees with the bench's")
            buckets, count = processing_histogram(daemon)
            self.assertEqual(count, served, "every reply is timed once")
            bounds = sorted(buckets)
            self.assertEqual(buckets[float("inf")], count)
            self.assertEqual([buckets[b] for b in bounds], sorted(buckets[b] for b in bounds), "cumulative")
            self.assertIn(7.5e-06, bounds)
            # Most replies take more than a microsecond and less than 10 ms, even on a machine
            # busy with other work: a unit mistake would put them all at one end.
            self.assertLess(buckets[1e-06], 0.5 * count, buckets)
            self.assertGreater(buckets[0.01], 0.5 * count, buckets)

    def test_ipv6_paced(self):
        port = harness.free_udp_port()
        text = harness.config_text([f"[::1]:{port}"], workers=1)
        with harness.Smeard([f"[::1]:{port}"], text=text):
            result = bench(f"[::1]:{port}", "--seconds", "1", "--rate", "1000", "--sockets", "4", "--window", "1",
                           "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            report = json.loads(result.stdout)
            self.assertEqual(report["target"], f"[::1]:{port}")
            self.assertAlmostEqual(report["replies"], 1000, delta=60)
            self.assertEqual(report["invalid"], 0)

    def test_text_report(self):
        with smeard_with_metrics(workers=1) as daemon:
            result = bench(f"127.0.0.1:{daemon.port}", "--seconds", "0.5", "--sockets", "2", "--window", "4")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertRegex(result.stdout, r"2 sockets x 4 in flight")
            self.assertRegex(result.stdout, r"replies\s+(\d+) of \1 \(\d+ replies/s\)")
            self.assertRegex(result.stdout, r"round trip\s+p50 [\d.]+ us, p99 [\d.]+ us, max [\d.]+ us")

    def test_paced_load_keeps_its_rate(self):
        with smeard_with_metrics(workers=1) as daemon:
            result = bench(f"127.0.0.1:{daemon.port}", "--seconds", "1", "--rate", "2000", "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            report = json.loads(result.stdout)
            self.assertAlmostEqual(report["sent"], 2000, delta=100)
            self.assertEqual(report["replies"], report["sent"])

    def test_a_duplicated_reply_fails_the_run(self):
        """A server that answers every request correctly, twice: the second copy matches no
        request in flight, so it is invalid, and the run fails though every request was answered."""
        result = self.run_against(duplicate=True, origin_ok=True)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        report = json.loads(result.stdout)
        self.assertGreater(report["replies"], 0)
        self.assertGreater(report["invalid"], 0)
        self.assertEqual(report["lost"], 0)
        self.assertIn("invalid replies", result.stderr)

    def test_replies_with_the_wrong_origin_are_refused(self):
        """A server that answers in server mode but does not echo the request's transmit
        timestamp: nothing it sends may count as a reply."""
        result = self.run_against(duplicate=False, origin_ok=False)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        report = json.loads(result.stdout)
        self.assertEqual(report["replies"], 0)
        self.assertGreater(report["invalid"], 0)
        self.assertIn("no valid reply", result.stderr)

    def test_a_slow_server_is_late_not_wrong(self):
        """Every reply comes 0.3 s after its request, past the 0.1 s timeout: all are lost, and
        each reply that arrives is late, not invalid."""
        result = self.run_against(duplicate=False, origin_ok=True, delay=0.3)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)  # no reply in time
        report = json.loads(result.stdout)
        self.assertEqual(report["replies"], 0)
        self.assertEqual(report["invalid"], 0)
        self.assertGreater(report["late"], 0)
        self.assertEqual(report["lost"], report["sent"])

    @staticmethod
    def run_against(duplicate, origin_ok, delay=0.0):
        """smearctl bench against a Python server that answers in server mode, echoing the
        request's transmit timestamp as origin (or zeros), once (or twice), after `delay`."""
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("127.0.0.1", 0))
        server.settimeout(0.2)
        stop = threading.Event()

        def answer():
            while not stop.is_set():
                try:
                    data, peer = server.recvfrom(2048)
                except socket.timeout:
                    continue
                reply = bytearray(data[:48])
                reply[0] = (4 << 3) | 4
                reply[1] = 1
                reply[24:32] = data[40:48] if origin_ok else bytes(8)
                time.sleep(delay)
                for _ in range(2 if duplicate else 1):
                    server.sendto(bytes(reply), peer)

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        try:
            return bench(f"127.0.0.1:{server.getsockname()[1]}", "--seconds", "0.5",
                         "--timeout", "0.1" if delay else "0.2", "--sockets", "1", "--window", "1", "--json")
        finally:
            stop.set()
            thread.join()
            server.close()

    def test_nobody_listening(self):
        result = bench(f"127.0.0.1:{harness.free_udp_port()}", "--seconds", "0.3", "--timeout", "0.2")
        self.assertEqual(result.returncode, 1)
        self.assertIn("no valid reply", result.stderr)

    def test_bad_arguments_name_the_option(self):
        for args, option in [(["127.0.0.1:1"], "--seconds"), (["127.0.0.1:1", "--seconds", "1", "--window", "0"],
                                                                "--window"),
                             (["[::1]:1", "--seconds", "1", "--sources", "10"], "--sources")]:
            result = bench(*args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn(option, result.stderr)


class Steering(unittest.TestCase):
    def test_each_client_address_always_reaches_the_same_worker(self):
        """Five source ports per address: the kernel's default reuseport hash (address and
        port) would spread them; steering by address must not."""
        with smeard_with_metrics(workers=2) as daemon:
            self.assertEqual(daemon.events("listening")[0]["steering"], "client address")
            check_steering(self, daemon, socket.AF_INET, "127.0.0.1", [f"127.0.7.{n}" for n in range(1, 31)])

    def test_ipv6_in_a_private_network_namespace(self):
        """IPv6 clients need addresses of their own: the test adds them to lo in a namespace."""
        result = harness.run_in_private_network(__file__)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        self.assertRegex(output, r"Ran 1 test.*\n+OK", output)


class SteeringIpv6InPrivateNetwork(unittest.TestCase):
    """Runs only inside the namespace."""

    def test_ipv6_clients_are_steered_by_the_whole_address(self):
        ip = harness.tool("ip", "iproute2")
        setup = [[ip, "link", "set", "lo", "up"]] + [
            [ip, "-6", "addr", "add", f"fd00::7:{n:x}/128", "dev", "lo", "nodad"] for n in range(1, 31)]
        for argv in setup:
            done = harness.run(argv)
            self.assertEqual(done.returncode, 0, f"{' '.join(argv)}: {done.stderr}")
        with smeard_with_metrics(workers=2, host="[::1]") as daemon:
            self.assertEqual(daemon.events("listening")[0]["steering"], "client address")
            check_steering(self, daemon, socket.AF_INET6, "::1", [f"fd00::7:{n:x}" for n in range(1, 31)])


class Memory(unittest.TestCase):
    def test_a_million_distinct_clients_do_not_grow_memory(self):
        """Client history is a fixed table (8 bytes per slot, allocated at start): RSS after a
        million distinct source addresses must stay where it was."""
        with smeard_with_metrics(workers=2, extra="client_policy: {table_size: 1048576}") as daemon:
            # Warm every code path, and learn how fast this machine goes. A million sources run
            # slower than a thousand (each request is a new table slot and a new route lookup), so
            # the first try gets three times the time the warm rate needs; one that still falls
            # short is tried once more, sized from the rate it reached. At most 60 s each.
            warm = bench(f"127.0.0.1:{daemon.port}", "--seconds", "0.5", "--sources", "1000", "--json")
            self.assertEqual(warm.returncode, 0, warm.stderr)
            seconds = min(60.0, max(2.0, 3e6 / max(json.loads(warm.stdout)["replies_per_second"], 1)))
            before = rss_kib(daemon.pid)
            for attempt in range(2):
                result = bench(f"127.0.0.1:{daemon.port}", "--seconds", f"{seconds:.1f}", "--sources", "1000000",
                               "--json", timeout=seconds + 30)
                self.assertEqual(result.returncode, 0, result.stderr)
                report = json.loads(result.stdout)
                if report["sent"] >= 1_000_000:
                    break
                seconds = min(60.0, max(seconds * 1.5, 1.5e6 / max(report["replies_per_second"], 1)))
            self.assertGreaterEqual(report["sent"], 1_000_000,
                                    f"the machine was too slow to send from a million addresses in {seconds:.1f} s")
            after = rss_kib(daemon.pid)
            print(f"\nRSS {before} KiB before, {after} KiB after {report['sent']} requests from "
                  f"{min(report['sent'], 1_000_000)} distinct addresses")
            self.assertLess(after - before, 2048, f"RSS grew from {before} KiB to {after} KiB")


def load_tests(loader, tests, pattern):
    if INSIDE:
        return loader.loadTestsFromTestCase(SteeringIpv6InPrivateNetwork)
    return unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in (Bench, Steering, Memory))


if __name__ == "__main__":
    unittest.main()
