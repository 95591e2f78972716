"""smearctl query against a running smeard: text and JSON output, no server, usage errors."""

import datetime
import json
import re
import socket
import time
import unittest

import harness

REFID = "GPS"
SERVER_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


def parse_server_time(text):
    """RFC 3339 UTC with nine fractional digits as Unix seconds (float)."""
    whole, fraction = text[:-1].split(".")
    moment = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() + int(fraction) / 1e9


class SmearctlQuery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smearctl = harness.binary(harness.SMEARCTL)
        port = harness.free_udp_port()
        cls.server = harness.Smeard([f"127.0.0.1:{port}", f"[::1]:{port}"], refid=REFID)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        cls.port = port

    @classmethod
    def tearDownClass(cls):
        stopped = cls.server.stop()
        if stopped["requests"] != stopped["replies"] or stopped["dropped"] != "0":
            raise AssertionError(f"every query here deserves a reply: {stopped}")

    def query(self, *args):
        return harness.run([self.smearctl, "query", *args], timeout=10)

    def text_sample(self, target):
        """One text query: checks every line, returns (offset, delay) in seconds."""
        result = self.query(target, "--timeout", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        fields = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.splitlines())
        self.assertEqual(list(fields), ["server", "stratum", "leap", "refid", "version", "offset",
                                        "delay", "server time"], result.stdout)
        self.assertEqual(fields["server"], target)
        self.assertEqual(fields["stratum"], "1")
        self.assertEqual(fields["leap"], "0 (no warning)")
        self.assertEqual(fields["refid"], harness.served_refid(REFID))
        self.assertEqual(fields["version"], "4")
        offset = re.fullmatch(r"([+-]\d+\.\d{9}) s", fields["offset"])
        self.assertIsNotNone(offset, fields["offset"])
        delay = re.fullmatch(r"(\d+\.\d{9}) s", fields["delay"])
        self.assertIsNotNone(delay, fields["delay"])
        self.assertLess(float(delay.group(1)), 0.1)
        self.assertRegex(fields["server time"], SERVER_TIME)
        self.assertLess(abs(parse_server_time(fields["server time"]) - time.time()), 1.0)
        return float(offset.group(1)), float(delay.group(1))

    def json_sample(self, target):
        """One JSON query: checks keys, types and values, returns the parsed reply."""
        before = time.time()
        result = self.query(target, "--json")
        after = time.time()
        self.assertEqual(result.returncode, 0, result.stderr)
        reply = json.loads(result.stdout)
        self.assertEqual(set(reply), {"offset_s", "delay_s", "stratum", "leap", "refid", "version", "server_time"})
        for key, kind in (("offset_s", (int, float)), ("delay_s", (int, float)), ("stratum", int),
                          ("leap", int), ("refid", str), ("version", int), ("server_time", str)):
            self.assertIsInstance(reply[key], kind, key)
            self.assertNotIsInstance(reply[key], bool, key)
        self.assertGreaterEqual(reply["delay_s"], 0)
        self.assertLess(reply["delay_s"], 0.1)
        self.assertEqual(reply["stratum"], 1)
        self.assertEqual(reply["leap"], 0)
        self.assertEqual(reply["refid"], harness.served_refid(REFID))
        self.assertEqual(reply["version"], 4)
        self.assertRegex(reply["server_time"], SERVER_TIME)
        server_time = parse_server_time(reply["server_time"])
        self.assertLess(abs(server_time - time.time()), 1.0)
        self.assertTrue(before - 0.001 <= server_time <= after + 0.001, (before, server_time, after))
        return reply

    def test_text_output(self):
        for target in (f"127.0.0.1:{self.port}", f"[::1]:{self.port}", f"localhost:{self.port}"):
            with self.subTest(target=target):
                offset, _ = harness.best_of(lambda: self.text_sample(target), delay=lambda sample: sample[1])
                self.assertLess(abs(offset), 0.001)

    def test_json_output(self):
        for target in (f"127.0.0.1:{self.port}", f"[::1]:{self.port}"):
            with self.subTest(target=target):
                reply = harness.best_of(lambda: self.json_sample(target), delay=lambda reply: reply["delay_s"])
                self.assertLess(abs(reply["offset_s"]), 0.001)

    def test_ntp_versions(self):
        for version in (1, 2, 3, 4):
            with self.subTest(version=version):
                result = self.query(f"127.0.0.1:{self.port}", "--json", "--ntp-version", str(version))
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(json.loads(result.stdout)["version"], version)


class SmearctlErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smearctl = harness.binary(harness.SMEARCTL)

    def test_no_server_on_the_port(self):
        port = harness.free_udp_port()
        for args in ([f"127.0.0.1:{port}"], [f"127.0.0.1:{port}", "--json"], [f"[::1]:{port}"]):
            with self.subTest(args=args):
                result = harness.run([self.smearctl, "query", *args, "--timeout", "0.5"], timeout=10)
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertRegex(result.stderr, r"^smearctl: .+\n$")
                self.assertIn(args[0], result.stderr)

    def test_silent_server_times_out(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            target = f"127.0.0.1:{silent.getsockname()[1]}"
            started = time.monotonic()
            result = harness.run([self.smearctl, "query", target, "--timeout", "0.5"], timeout=10)
            elapsed = time.monotonic() - started
            self.assertEqual(silent.recv(4096)[0] & 7, 3, "smearctl did not send a client-mode request")
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(result.stderr, f"smearctl: no reply from {target} within 500 ms\n")
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, 3)

    def test_usage_errors(self):
        cases = [
            [],
            ["frobnicate"],
            ["query"],
            ["query", "--json"],
            ["query", "127.0.0.1:99999"],
            ["query", "127.0.0.1:"],
            ["query", "[::1"],
            ["query", "127.0.0.1", "127.0.0.2"],
            ["query", "127.0.0.1", "--bogus"],
            ["query", "127.0.0.1", "--timeout"],
            ["query", "127.0.0.1", "--timeout", "0"],
            ["query", "127.0.0.1", "--timeout", "-1"],
            ["query", "127.0.0.1", "--timeout", "soon"],
            ["query", "127.0.0.1", "--ntp-version", "0"],
            ["query", "127.0.0.1", "--ntp-version", "5"],
            ["query", "127.0.0.1", "--ntp-version", "four"],
        ]
        for args in cases:
            with self.subTest(args=args):
                result = harness.run([self.smearctl, *args], timeout=10)
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertEqual(result.stdout, "")
                self.assertRegex(result.stderr, r"^smearctl: .+\n")
                self.assertIn("usage: smearctl", result.stderr)

    def test_help(self):
        result = harness.run([self.smearctl, "--help"], timeout=10)
        self.assertEqual(result.returncode, 0)
        self.assertIn("query HOST[:PORT]", result.stdout)


if __name__ == "__main__":
    unittest.main()
