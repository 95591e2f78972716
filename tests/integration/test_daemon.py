"""smeard as a process: configuration errors, listener failures, signals, threads, and what it
answers (and refuses to answer) on the wire."""

import os
import re
import select
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import harness
from harness import ntp_request

REFID = "GPS"


def numbered(text):
    return "\n".join(f"{n:3}  {line}" for n, line in enumerate(text.splitlines(), 1))


class ConfigErrors(unittest.TestCase):
    """Each broken file fails both --check-config and --config, naming file, line and key."""

    VALID_REST = "timescales:\n  utc:\n    smear: none\n"

    def setUp(self):
        self.directory = tempfile.TemporaryDirectory(prefix="smeard-itest-")
        self.addCleanup(self.directory.cleanup)
        self.smeard = harness.binary(harness.SMEARD)

    def check(self, text, expected):
        """expected: [(line, key, message fragment)], one per problem smeard must report."""
        path = harness.write_file(self.directory.name, "broken.yaml", text)
        for mode in ("--check-config", "--config"):
            with self.subTest(mode=mode):
                try:
                    result = harness.run([self.smeard, mode, path], timeout=5)
                except subprocess.TimeoutExpired:
                    self.fail(f"smeard {mode} accepted and served\n{numbered(text)}")
                context = f"{mode} of\n{numbered(text)}\nprinted:\n{result.stdout}{result.stderr}"
                self.assertEqual(result.returncode, 1, context)
                self.assertEqual(result.stdout, "", context)
                self.assertNotIn("event=listening", result.stderr, context)
                problems = [l for l in result.stderr.splitlines() if l.startswith(path + ":")]
                self.assertEqual(len(problems), len(expected), context)
                for line, key, fragment in expected:
                    pattern = re.escape(f"{path}:{line}:") + r"\d+: " + re.escape(f"{key}: " if key else "")
                    matching = [p for p in problems if re.match(pattern, p) and fragment in p]
                    self.assertEqual(len(matching), 1, f"want {path}:{line}:COL: {key}: ...{fragment}...\n{context}")

    def test_unknown_top_level_key(self):
        text = 'listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\n' + self.VALID_REST + "colour: blue\n"
        self.check(text, [(7, "colour", "unknown key")])

    def test_unknown_listener_key(self):
        text = 'listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\n    colour: blue\n' + self.VALID_REST
        self.check(text, [(4, "listeners[0].colour", "unknown key")])

    def test_wrong_types(self):
        with self.subTest("listeners is a string"):
            self.check('listeners: "127.0.0.1:1230"\n' + self.VALID_REST, [(1, "listeners", "expected a list")])
        with self.subTest("timescales is a list"):
            text = 'listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\ntimescales: [utc]\n'
            self.check(text, [(4, "timescales", "expected a mapping"), (3, "listeners[0].timescale", "no timescale")])
        with self.subTest("workers is a word"):
            text = 'listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\n' + self.VALID_REST + "workers: many\n"
            self.check(text, [(7, "workers", "'many'")])

    def test_bad_addresses(self):
        for address in ("localhost:123", "127.0.0.1", "127.0.0.1:65536", "::1:123", "[::1]", "300.1.1.1:123", ""):
            with self.subTest(address=address):
                text = ('listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\n'
                        f'  - address: "{address}"\n    timescale: utc\n' + self.VALID_REST)
                self.check(text, [(4, "listeners[1].address", "is not a numeric address with a port")])

    def test_port_zero(self):
        text = 'listeners:\n  - address: "127.0.0.1:0"\n    timescale: utc\n' + self.VALID_REST
        self.check(text, [(2, "listeners[0].address", "needs a port from 1 to 65535")])

    def test_unknown_timescale(self):
        text = 'listeners:\n  - address: "127.0.0.1:1230"\n    timescale: tai\n' + self.VALID_REST
        self.check(text, [(3, "listeners[0].timescale", "no timescale named 'tai'")])

    def test_missing_listeners(self):
        # Reported at the mapping that lacks the key: the document's first key, on line 2.
        self.check("# no listeners\n" + self.VALID_REST, [(2, "listeners", "required key is missing")])

    def test_missing_address(self):
        text = "listeners:\n  - timescale: utc\n" + self.VALID_REST
        self.check(text, [(2, "listeners[0].address", "required key is missing")])

    def test_same_address_twice(self):
        text = ('listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\n'
                '  - address: "127.0.0.1:1230"\n    timescale: utc\n' + self.VALID_REST)
        self.check(text, [(4, "listeners[1].address", "already used by listeners[0]")])

    def test_bad_refid(self):
        text = ('listeners:\n  - address: "127.0.0.1:1230"\n    timescale: utc\n' + self.VALID_REST +
                "reference:\n  type: system\n  refid: TOOLONG\n")
        self.check(text, [(9, "reference.refid", "1 to 4 printable ASCII characters")])

    def test_every_problem_is_reported(self):
        text = ('listeners:\n  - address: "nowhere"\n    timescale: tai\n    extra: 1\n' + self.VALID_REST +
                "workers: 0\n")
        self.check(text, [(2, "listeners[0].address", "not a numeric address"),
                          (4, "listeners[0].extra", "unknown key"),
                          (8, "workers", "thread count"),
                          (3, "listeners[0].timescale", "no timescale named 'tai'")])

    def test_yaml_syntax_error(self):
        text = 'listeners:\n  - {address: "127.0.0.1:1230", timescale: utc\n' + self.VALID_REST
        self.check(text, [(3, "", "YAML syntax error")])

    def test_listener_that_is_not_a_mapping_then_unknown_timescale(self):
        """Once crashed smeard: the problems after a non-mapping item must still be reported."""
        text = ('listeners:\n  - "127.0.0.1:1230"\n  - address: "127.0.0.1:1231"\n    timescale: tai\n' +
                self.VALID_REST)
        self.check(text, [(2, "listeners[0]", "expected a mapping"),
                          (4, "listeners[1].timescale", "no timescale named 'tai'")])

    def test_listener_that_is_not_a_mapping_then_same_address_twice(self):
        """Keys count every item in the file, so the duplicate is listeners[2] at line 5."""
        text = ('listeners:\n  - "127.0.0.1:1230"\n  - address: "127.0.0.1:1231"\n    timescale: utc\n'
                '  - address: "127.0.0.1:1231"\n    timescale: utc\n' + self.VALID_REST)
        self.check(text, [(2, "listeners[0]", "expected a mapping"),
                          (5, "listeners[2].address", "already used by listeners[1]")])


class CommandLine(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory(prefix="smeard-itest-")
        self.addCleanup(self.directory.cleanup)
        self.smeard = harness.binary(harness.SMEARD)

    def test_check_config_ok(self):
        text = harness.config_text(["127.0.0.1:1230", "[::1]:1230", "127.0.0.2:1230"], workers=3)
        path = harness.write_file(self.directory.name, "good.yaml", text)
        result = harness.run([self.smeard, "--check-config", path], timeout=10)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"{path}: ok (3 listeners, 1 timescales)\n")
        # Valid, but worth a warning: without leap files smeard cannot smear or warn of a leap.
        self.assertIn("event=leap_table_none", result.stderr)

    def test_print_default_config_passes_check_config(self):
        printed = harness.run([self.smeard, "--print-default-config"], timeout=10)
        self.assertEqual((printed.returncode, printed.stderr), (0, ""))
        self.assertEqual(printed.stdout, (harness.REPO / "config/default.yaml").read_text(),
                         "the embedded default differs from config/default.yaml")
        path = harness.write_file(self.directory.name, "default.yaml", printed.stdout)
        result = harness.run([self.smeard, "--check-config", path], timeout=10)
        # The one warning allowed is the machine's own: a tzdata older than its leap file's expiry.
        warnings = [l for l in result.stderr.splitlines() if "event=leap_table_expired " not in l]
        self.assertEqual((result.returncode, warnings), (0, []), result.stderr)
        self.assertRegex(result.stdout, rf"^{re.escape(path)}: ok \(2 listeners, 1 timescales, [1-9][0-9] leaps\)\n$")

    def test_check_config_loads_the_leap_files(self):
        """A leap file that is missing or broken fails --check-config, naming the file (and the
        line), as it would fail smeard's start on the node that mounts it."""
        default = (harness.REPO / "config/default.yaml").read_text()
        broken = harness.write_file(self.directory.name, "leap-seconds.list",
                                    "#@\t4023129600\n3692217600\t37\t# 1 Jan 2017\n3913056000 thirty-eight\n")
        missing = os.path.join(self.directory.name, "absent.list")
        for leap_file, expected in ((missing, f"cannot read {missing}"), (broken, f"{broken}:3")):
            with self.subTest(leap_file=leap_file):
                text = default.replace("/usr/share/zoneinfo/leap-seconds.list", leap_file)
                path = harness.write_file(self.directory.name, "leapfile.yaml", text)
                result = harness.run([self.smeard, "--check-config", path], timeout=10)
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                self.assertIn("event=leap_file_rejected", result.stderr)
                self.assertIn(expected, result.stderr)

    def test_unreadable_config(self):
        path = os.path.join(self.directory.name, "absent.yaml")
        for mode in ("--check-config", "--config"):
            with self.subTest(mode=mode):
                result = harness.run([self.smeard, mode, path], timeout=10)
                self.assertEqual(result.returncode, 1)
                self.assertIn(f"cannot read {path}", result.stderr)

    def test_usage_errors(self):
        for args in (["--bogus"], ["--config"], ["--check-config"], ["--config", "a", "--config", "b"]):
            with self.subTest(args=args):
                result = harness.run([self.smeard, *args], timeout=10)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("usage: smeard", result.stderr)


class ListenerFailures(unittest.TestCase):
    """A listener that cannot bind stops smeard with exit 1, naming the config line and key."""

    def refused_start(self, server, event):
        """Runs smeard on the server's config: it must exit 1 before it announces itself, with
        exactly one `event` line, whose problem is returned."""
        self.addCleanup(server.close)
        process = harness.run([harness.binary(harness.SMEARD), "--config", server.config], timeout=10)
        self.assertEqual(process.returncode, 1, process.stderr)
        self.assertNotIn("event=listening", process.stderr)
        failures = [harness.parse_log_line(l) for l in process.stderr.splitlines() if f"event={event}" in l]
        self.assertEqual(len(failures), 1, process.stderr)
        return failures[0]["problem"]

    def start_failing(self, addresses, index, address):
        server = harness.Smeard(addresses)
        problem = self.refused_start(server, "listener_failed")
        line = 2 + 2 * index  # config_text puts listener i's address on line 2 + 2i
        self.assertRegex(problem, "^" + re.escape(f"{server.config}:{line}:") + r"\d+: " +
                         re.escape(f"listeners[{index}].address: cannot listen on {address}: bind: "))
        return problem

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
            holder.bind(("127.0.0.1", 0))
            address = f"127.0.0.1:{holder.getsockname()[1]}"
            problem = self.start_failing([address], 0, address)
        self.assertTrue(problem.endswith("Address already in use"), problem)

    def test_ipv6_port_in_use_on_the_second_listener(self):
        port = harness.free_udp_port()
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as holder:
            holder.bind(("::1", port))
            problem = self.start_failing([f"127.0.0.1:{port}", f"[::1]:{port}"], 1, f"[::1]:{port}")
        self.assertTrue(problem.endswith("Address already in use"), problem)

    def test_port_held_by_another_smeard(self):
        # smeard binds with SO_REUSEPORT; a second instance must still be refused, not share.
        with harness.Smeard() as first:
            problem = self.start_failing(first.addresses, 0, first.addresses[0])
            self.assertTrue(problem.endswith("Address already in use"), problem)
            first.stop()

    def test_address_not_on_this_host(self):
        # Documentation ranges (RFC 5737, RFC 3849): smeard only tries to bind; nothing is sent.
        port = harness.free_udp_port()
        for address in (f"192.0.2.1:{port}", f"[2001:db8::1]:{port}"):
            with self.subTest(address=address):
                problem = self.start_failing([address], 0, address)
                self.assertTrue(problem.endswith("Cannot assign requested address"), problem)

    def test_metrics_port_in_use(self):
        """The metrics endpoint is bound before any NTP worker starts: a taken port stops smeard
        before it announces itself, naming the metrics line."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            metrics = f"127.0.0.1:{holder.getsockname()[1]}"
            address = f"127.0.0.1:{harness.free_udp_port()}"
            text = harness.config_text([address], metrics=metrics)
            line = text.splitlines().index(f'metrics: {{listen: "{metrics}"}}') + 1
            server = harness.Smeard([address], text=text)
            problem = self.refused_start(server, "metrics_failed")
        self.assertRegex(problem, "^" + re.escape(f"{server.config}:{line}:") + r"\d+: " +
                         re.escape(f"metrics.listen: cannot listen on {metrics}: Address already in use") + "$")


class Signals(unittest.TestCase):
    def serve_then(self, sig, queries):
        with harness.Smeard() as server:
            for _ in range(queries):
                self.assertIsNotNone(harness.request(("127.0.0.1", server.port), ntp_request()))
            stopped = server.stop(sig)
            stopping = server.events("stopping")
        self.assertEqual([e.get("signal") for e in stopping], [sig.name])
        self.assertEqual((stopped["requests"], stopped["replies"], stopped["dropped"]),
                         (str(queries), str(queries), "0"))

    def test_sigterm(self):
        self.serve_then(signal.SIGTERM, 3)

    def test_sigint(self):
        self.serve_then(signal.SIGINT, 2)

    def test_sigterm_when_idle(self):
        self.serve_then(signal.SIGTERM, 0)

    def test_sighup_does_not_stop_serving(self):
        with harness.Smeard() as server:
            server.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while not server.events("reload") and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertTrue(server.events("reload"), server.log())
            self.assertIsNone(server.process.poll())
            self.assertIsNotNone(harness.request(("127.0.0.1", server.port), ntp_request()))
            server.stop()


class Threads(unittest.TestCase):
    def test_three_workers_on_one_listener(self):
        with harness.Smeard(workers=3) as server:
            self.assertEqual([e["workers"] for e in server.events("listening")], ["3"])
            threads = os.listdir(f"/proc/{server.pid}/task")
            self.assertGreaterEqual(len(threads), 4, threads)  # three workers and the main thread
            server.stop()


class Wire(unittest.TestCase):
    """Requests over IPv4 and IPv6 to one smeard with two workers per listener."""

    @classmethod
    def setUpClass(cls):
        port = harness.free_udp_port()
        cls.server = harness.Smeard([f"127.0.0.1:{port}", f"[::1]:{port}"], refid=REFID, workers=2)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        cls.targets = [("127.0.0.1", port), ("::1", port)]

    @classmethod
    def tearDownClass(cls):
        stopped = cls.server.stop()
        if stopped["requests"] != stopped["replies"] or stopped["dropped"] != "0":
            raise AssertionError(f"every request here deserves a reply: {stopped}")

    def ask(self, payload, target=None):
        """Sends payload; asserts one reply that is no longer than the request, echoes its
        transmit timestamp, and carries sane server fields. Returns (raw reply, decoded)."""
        before = time.time()
        reply = harness.request(target or self.targets[0], payload)
        after = time.time()
        self.assertIsNotNone(reply, f"no reply to {payload[:8].hex()}... ({len(payload)} bytes)")
        self.assertLessEqual(len(reply), len(payload))
        fields = harness.decode(reply)
        self.assertEqual(fields["mode"], 4)
        self.assertEqual(fields["stratum"], 1)
        self.assertEqual(fields["leap"], 0)
        self.assertEqual(fields["refid"], harness.served_refid(REFID).encode())
        self.assertEqual(fields["origin_raw"], payload[40:48])
        self.assertLessEqual(before - 0.001, fields["receive"])
        self.assertLessEqual(fields["receive"], fields["transmit"])
        self.assertLessEqual(fields["transmit"], after + 0.001)
        self.assertLessEqual(fields["reference"], fields["receive"])
        self.assertLess(fields["receive"] - fields["reference"], 5)
        self.assertLess(fields["precision"], 0)
        return reply, fields

    def test_client_requests_versions_1_to_4(self):
        for target in self.targets:
            for version in (1, 2, 3, 4):
                with self.subTest(target=target, version=version):
                    reply, fields = self.ask(ntp_request(version=version), target)
                    self.assertEqual(len(reply), 48)
                    self.assertEqual(fields["version"], version)

    def test_ntpv1_mode_0_request(self):
        reply, fields = self.ask(ntp_request(version=1, mode=0))
        self.assertEqual(len(reply), 48)
        self.assertEqual((fields["version"], fields["mode"]), (1, 4))

    def assert_crypto_nak(self, payload, target=None):
        """A MAC smeard cannot verify (it holds no keys here): key id 0 alone after a KoD header
        with the kiss code CRYP, so no client takes time from it."""
        reply = harness.request(target or self.targets[0], payload)
        self.assertIsNotNone(reply, f"no crypto-NAK for {len(payload)} bytes")
        self.assertEqual(len(reply), 52)
        self.assertEqual(reply[48:], bytes(4))
        fields = harness.decode(reply)
        self.assertEqual((fields["mode"], fields["stratum"], fields["leap"], fields["refid"]), (4, 0, 3, b"CRYP"))
        self.assertEqual(fields["origin_raw"], payload[40:48])
        return fields

    def test_legacy_mac_gets_a_crypto_nak(self):
        for target in self.targets:
            for version in (3, 4):
                for mac_length in (20, 24, 36, 52, 68):
                    with self.subTest(target=target, version=version, mac=mac_length):
                        mac = struct.pack("!I", 7) + os.urandom(mac_length - 4)
                        fields = self.assert_crypto_nak(ntp_request(version=version) + mac, target)
                        self.assertEqual(fields["version"], version)

    def test_crypto_nak_request_gets_a_plain_reply(self):
        reply, _ = self.ask(ntp_request(version=4) + bytes(4))
        self.assertEqual(len(reply), 48)

    def test_v4_extension_fields_are_ignored(self):
        unknown = struct.pack("!HH", 0x7F00, 28) + os.urandom(24)
        biggest = struct.pack("!HH", 0x7F00, 1200 - 48) + bytes(1200 - 48 - 4)
        for name, payload, length in (("one field", ntp_request() + unknown, 48),
                                      ("two fields", ntp_request() + unknown[:2] + b"\x00\x10" + bytes(12) + unknown, 48),
                                      ("1200 bytes", ntp_request() + biggest, 48)):
            with self.subTest(name):
                reply, _ = self.ask(payload)
                self.assertEqual(len(reply), length)
        self.assert_crypto_nak(ntp_request() + unknown + struct.pack("!I", 1) + bytes(16))

    def test_replies_are_distinct_and_track_the_clock(self):
        _, first = self.ask(ntp_request())
        time.sleep(0.05)
        _, second = self.ask(ntp_request())
        self.assertGreater(second["receive"] - first["receive"], 0.04)
        self.assertLess(second["receive"] - first["receive"], 1)


class Wildcard(unittest.TestCase):
    def test_replies_come_from_the_address_the_client_wrote_to(self):
        port = harness.free_udp_port()
        with harness.Smeard([f"0.0.0.0:{port}", f"[::]:{port}"]) as server:
            for host in ("127.0.0.1", "127.0.0.2", "127.1.2.3", "::1"):
                with self.subTest(host=host), harness.udp_socket(host) as s:
                    s.settimeout(2)
                    request = ntp_request()
                    s.sendto(request, (host, port))
                    reply, source = s.recvfrom(4096)
                    self.assertEqual(source[:2], (host, port))
                    self.assertEqual(reply[24:32], request[40:48])
            server.stop()

    def test_ipv6_wildcard_leaves_ipv4_alone(self):
        port = harness.free_udp_port()
        with harness.Smeard([f"[::]:{port}"]) as server:
            self.assertIsNone(harness.request(("127.0.0.1", port), ntp_request(), timeout=0.3))
            self.assertIsNotNone(harness.request(("::1", port), ntp_request()))
            server.stop()


def drop_cases():
    """(name, payload) pairs smeard must not answer."""
    header = ntp_request(version=4)
    field = lambda length, body: struct.pack("!HH", 0x7F00, length) + bytes(body)  # noqa: E731
    cases = [
        ("empty", b""),
        ("12 bytes", header[:12]),
        ("47 bytes", header[:47]),
        ("49 bytes", header + b"\0"),
        ("50 bytes", header + b"\0\0"),
        ("51 bytes", header + b"\0\0\0"),
        ("1204 bytes", header + field(1156, 1152)),
        ("1500 bytes", header + field(1452, 1448)),
        ("3000 bytes, more than smeard reads", header + field(2952, 2948)),
        ("v3 with 28 bytes after the header", ntp_request(version=3) + bytes(28)),
        ("8-byte MAC", header + bytes(8)),
        ("v4 extension length 0", header + field(0, 24)),
        ("v4 extension length not a multiple of 4", header + field(30, 24)),
        ("v4 extension length past the end", header + field(64, 24)),
        ("v4 16-byte last extension without MAC", header + field(16, 12)),
        # 28 + 8 would be 36 bytes: as long as a SHA-256 MAC, and so taken for one.
        ("v4 extension then 12 stray bytes", header + field(28, 24) + bytes(12)),
    ]
    for mode in (0, 1, 2, 4, 5, 6, 7):
        cases.append((f"v2 mode {mode}", ntp_request(version=2, mode=mode)))
    cases.append(("v4 mode 0 (only NTPv1 may use it)", ntp_request(version=4, mode=0)))
    for version in (0, 5, 6, 7):
        cases.append((f"version {version}", ntp_request(version=version)))
    return cases


class Robustness(unittest.TestCase):
    def test_bad_packets_are_dropped_and_service_goes_on(self):
        cases = drop_cases()
        with harness.Smeard([f"127.0.0.1:{harness.free_udp_port()}"], workers=2) as server:
            target = ("127.0.0.1", server.port)
            sockets, goods = [], []
            try:
                # Each bad packet, then a good request, from its own socket: one source address
                # means one worker, in order, so a reply to the bad packet would come first.
                for _, payload in cases:
                    s = harness.udp_socket("127.0.0.1")
                    sockets.append(s)
                    good = ntp_request()
                    goods.append(good)
                    s.sendto(payload, target)
                    s.sendto(good, target)
                for (name, _), s, good in zip(cases, sockets, goods):
                    with self.subTest(name):
                        s.settimeout(2)
                        reply = s.recv(4096)
                        self.assertEqual(len(reply), 48)
                        self.assertEqual(reply[24:32], good[40:48], "the first reply is not to the good request")
                time.sleep(0.3)
                for (name, _), s in zip(cases, sockets):
                    with self.subTest(name):
                        readable, _, _ = select.select([s], [], [], 0)
                        self.assertEqual(readable, [], "a reply to a packet that must be dropped")
            finally:
                for s in sockets:
                    s.close()
            after = harness.request(target, ntp_request())
            self.assertIsNotNone(after)
            stopped = server.stop()
        dropped = sum(int(count) for count in re.findall(r":(\d+)", stopped["dropped"]))
        self.assertEqual(dropped, len(cases), stopped)
        self.assertEqual(int(stopped["replies"]), len(cases) + 1, stopped)
        self.assertEqual(int(stopped["requests"]), 2 * len(cases) + 1, stopped)


if __name__ == "__main__":
    unittest.main()
