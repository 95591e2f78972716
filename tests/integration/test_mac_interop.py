"""The MAC interop matrix: real clients authenticate to smeard with every key type it supports, the
way each of them really sends a MAC, and every cell must be served with an authenticated reply.

- chronyd -Q, `key N` with `version 3` and `version 4`, for each of MD5, SHA1, SHA256, SHA384,
  SHA512, AES128 and AES256 (CMAC). In NTPv4 chrony truncates a digest longer than 20 bytes to
  20 (its MAC is 24 bytes, which RFC 7822 keeps apart from extension fields) and accepts only
  that length back; in NTPv3 it sends and wants the whole digest. A relay in front of smeard
  notes each exchange's lengths, so each cell also checks that the request carried the MAC
  length chrony is known to send and that the reply carried the same. (Without `version`,
  chronyd picks NTPv3 for SHA-2 keys and NTPv4 for the others: both columns cover that.)
- NTPsec's ntpdig, `-a ID -k KEYFILE`, in NTPv4 with the whole digest, for every type it can
  name: MD5, SHA1, SHA256, SHA384, SHA512 (OpenSSL digest names) and AES-128, AES-256 (CMAC).
  ntpdig's keys file is `ID TYPE KEY` with ntpdig's own type names; a KEY longer than 20
  characters is hex. ntpdig only talks to port 123, so those cells run in a private network
  namespace (see test_ntpdig.py).
- Negative cells: the same clients holding a wrong secret get no time, and smeard answers them
  with crypto-NAKs.

Each positive run also checks smeard's counters: every MAC verified, no crypto-NAK.
"""

import json
import os
import re
import selectors
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import unittest

import harness

INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"

WRONG_BY = re.compile(r"System clock wrong by (-?\d+\.\d+) seconds")


class Key:
    """One key of the matrix: its id, its type as chrony's keys file (and smeard's) names it, as
    ntpdig names it, its secret (bytes, or a short text), and its digest length."""

    def __init__(self, key_id, chrony_type, ntpdig_type, secret, digest):
        self.id, self.chrony_type, self.ntpdig_type, self.digest = key_id, chrony_type, ntpdig_type, digest
        self.text = isinstance(secret, str)
        self.secret = secret.encode() if self.text else secret

    def chrony_line(self, secret=None):
        if secret is None and self.text:
            return f"{self.id} {self.chrony_type} ASCII:{self.secret.decode()}\n"
        return f"{self.id} {self.chrony_type} HEX:{(secret or self.secret).hex()}\n"

    def ntpdig_line(self, secret=None):
        # ntpdig reads a KEY of more than 20 characters as hex (at most 64 digits), a shorter one
        # as text.
        if secret is None and self.text:
            return f"{self.id} {self.ntpdig_type} {self.secret.decode()}\n"
        return f"{self.id} {self.ntpdig_type} {(secret or self.secret).hex()}\n"

    def wrong_secret(self):
        return bytes(b ^ 0x5A for b in self.secret)

    def chrony_mac_length(self, version):
        """Key id and digest, as chrony sends it (ntp_auth.c: NTP_MAX_V4_MAC_LENGTH)."""
        return 4 + (min(self.digest, 20) if version == 4 else self.digest)


# Key ids below 16: a whole SHA-2 MAC in NTPv4 (ntpdig's) is read as a MAC, not as an extension
# field, only when its key id's low 16 bits are no field length (RFC 7822 section 7.5).
KEYS = [
    Key(1, "MD5", "MD5", "an-md5-secret", 16),
    Key(2, "SHA1", "SHA1", bytes.fromhex("00112233445566778899aabbccddeeff00112233"), 20),
    Key(3, "SHA256", "SHA256", bytes.fromhex("0102030405060708090a0b0c0d0e0f101112131415161718"), 32),
    Key(4, "SHA384", "SHA384", bytes.fromhex("a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4"), 48),
    Key(5, "SHA512", "SHA512", bytes.fromhex("5152535455565758595a5b5c5d5e5f6061626364656667686970717273747576"), 64),
    Key(6, "AES128", "AES-128", bytes.fromhex("000102030405060708090a0b0c0d0e0f"), 16),
    Key(7, "AES256", "AES-256", bytes.fromhex("f0e0d0c0b0a090807060504030201000" * 2), 16),
]
VERSIONS = (3, 4)
MAC_RESULTS = ("ok", "unknown_key", "bad_length", "bad_mac")


def write_keys(directory, name, text):
    # chronyd drops to its own user before it reads the keys file: world-readable.
    path = harness.write_file(directory, name, text)
    os.chmod(path, 0o644)
    return path


def smeard_config(addresses, keys_file, metrics_port, workers=2):
    return harness.config_text(addresses, metrics=f"127.0.0.1:{metrics_port}", workers=workers) + \
        f"keys: {keys_file}\n"


def counters(daemon):
    """smeard's MAC results and crypto-NAKs so far."""
    values = harness.scrape(daemon.metrics_url)
    out = {result: harness.total(values, "smeard_auth_total", result=result) for result in MAC_RESULTS}
    out["crypto_nak"] = harness.total(values, "smeard_kod_sent_total", code="CRYP")
    return out


def delta(after, before):
    return {name: after[name] - before[name] for name in after}


class Relay:
    """A UDP relay in front of smeard, on its own port, that passes every datagram through and
    notes each exchange: the request's version, key id and MAC length, and the reply's length,
    key id and stratum. Each client address gets its own socket toward smeard."""

    def __init__(self, server_port):
        self.server = ("127.0.0.1", server_port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.front, selectors.EVENT_READ, None)
        self.backs = {}  # client address -> socket toward smeard
        self.sent = {}  # (socket, transmit timestamp) -> request
        self.lock = threading.Lock()
        self.exchanges = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            for key, _ in self.selector.select(0.1):
                data, source = key.fileobj.recvfrom(4096)
                if key.fileobj is self.front:
                    back = self.backs.get(source)
                    if back is None:
                        back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        self.backs[source] = back
                        self.selector.register(back, selectors.EVENT_READ, source)
                    self.sent[(back, data[40:48])] = data
                    back.sendto(data, self.server)
                    continue
                request = self.sent.pop((key.fileobj, data[24:32]), None)
                if request is not None and len(request) >= 52:
                    with self.lock:
                        self.exchanges.append({
                            "version": (request[0] >> 3) & 7, "key": struct.unpack("!I", request[48:52])[0],
                            "mac": len(request) - 48, "reply": len(data),
                            "reply_key": struct.unpack("!I", data[48:52])[0] if len(data) >= 52 else None,
                            "stratum": data[1]})
                self.front.sendto(data, key.data)

    def of(self, key_id, version):
        with self.lock:
            return [e for e in self.exchanges if e["key"] == key_id and e["version"] == version]

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        for sock in [self.front, *self.backs.values()]:
            sock.close()


class ChronydMatrix(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chronyd_path = harness.tool("chronyd", "chrony")
        cls.directory = tempfile.mkdtemp(prefix="smeard-mac-")
        os.chmod(cls.directory, 0o755)
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        cls.keys = write_keys(cls.directory, "ntp.keys", "".join(k.chrony_line() for k in KEYS))
        cls.wrong_keys = write_keys(cls.directory, "wrong.keys",
                                    "".join(k.chrony_line(k.wrong_secret()) for k in KEYS))
        port = harness.free_udp_port()
        metrics = harness.free_tcp_port()
        cls.server = harness.Smeard([f"127.0.0.1:{port}"], text=smeard_config([f"127.0.0.1:{port}"], cls.keys, metrics))
        cls.server.metrics_url = f"http://127.0.0.1:{metrics}"
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        cls.relay = Relay(port)
        cls.addClassCleanup(cls.relay.close)

    def chronyd(self, key, version, keys_file):
        return subprocess.Popen(
            [self.chronyd_path, "-Q", "-f", "/dev/null", "-t", "15", f"keyfile {keys_file}",
             f"server 127.0.0.1 port {self.relay.port} iburst maxsamples 4 key {key.id} version {version}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def test_chronyd_every_key_type_in_ntpv3_and_ntpv4(self):
        before = counters(self.server)
        runs = {(key, version): self.chronyd(key, version, self.keys) for key in KEYS for version in VERSIONS}
        outputs = {cell: run.communicate(timeout=40)[0] for cell, run in runs.items()}
        for (key, version), output in outputs.items():
            with self.subTest(key=key.chrony_type, version=version):
                found = WRONG_BY.findall(output)
                self.assertEqual(len(found), 1, f"chronyd got no authenticated time:\n{output}")
                # The relay, a Python thread, can add milliseconds of one-way delay on a busy
                # machine; what this checks is that chronyd took smeard's (the system clock's) time.
                self.assertLess(abs(float(found[0])), 0.05, output)
                exchanges = self.relay.of(key.id, version)
                self.assertGreater(len(exchanges), 0, "no exchange went through the relay")
                mac = key.chrony_mac_length(version)
                for e in exchanges:
                    self.assertEqual(e["mac"], mac, f"chronyd sent a MAC of another length: {e}")
                    self.assertEqual(e["reply"], 48 + mac, f"the reply's MAC is not as long as the request's: {e}")
                    self.assertEqual((e["reply_key"], e["stratum"]), (key.id, 1), e)
        used = delta(counters(self.server), before)
        self.assertEqual({name: used[name] for name in ("unknown_key", "bad_length", "bad_mac", "crypto_nak")},
                         {"unknown_key": 0, "bad_length": 0, "bad_mac": 0, "crypto_nak": 0}, used)
        # chronyd accepts only replies whose MAC verifies: each of its samples was signed.
        self.assertGreaterEqual(used["ok"], 2 * len(runs), used)

    def test_chronyd_with_a_wrong_key_gets_no_time(self):
        before = counters(self.server)
        cells = [(KEYS[2], 4), (KEYS[4], 3), (KEYS[5], 4)]  # SHA256 truncated, SHA512 whole, AES128
        runs = {(key, version): self.chronyd(key, version, self.wrong_keys) for key, version in cells}
        for (key, version), run in runs.items():
            output = run.communicate(timeout=40)[0]
            with self.subTest(key=key.chrony_type, version=version):
                self.assertEqual(WRONG_BY.findall(output), [], f"chronyd took time signed with another key:\n{output}")
        used = delta(counters(self.server), before)
        self.assertGreaterEqual(used["bad_mac"], len(cells), used)
        self.assertGreaterEqual(used["crypto_nak"], len(cells), used)
        self.assertEqual(used["ok"], 0, used)


class NtpdigMatrixInPrivateNetwork(unittest.TestCase):
    """Runs only inside the namespace, where smeard owns 127.0.0.1:123."""

    @classmethod
    def setUpClass(cls):
        cls.ntpdig = harness.tool("ntpdig", "ntpsec-ntpdig")
        harness.loopback_up()
        cls.directory = tempfile.mkdtemp(prefix="smeard-mac-ntpdig-")
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        keys = write_keys(cls.directory, "smeard.keys", "".join(k.chrony_line() for k in KEYS))
        cls.ntpdig_keys = write_keys(cls.directory, "ntpdig.keys", "".join(k.ntpdig_line() for k in KEYS))
        cls.wrong_keys = write_keys(cls.directory, "wrong.keys",
                                    "".join(k.ntpdig_line(k.wrong_secret()) for k in KEYS))
        metrics = harness.free_tcp_port()
        cls.server = harness.Smeard(["127.0.0.1:123"], text=smeard_config(["127.0.0.1:123"], keys, metrics, 1))
        cls.server.metrics_url = f"http://127.0.0.1:{metrics}"
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    def ntpdig_run(self, key, keys_file):
        """ntpdig's output, and the JSON report of the time it took (None: it took none). -d: it
        also says whether each reply's MAC verified, comparing it with the whole digest, so a
        verified reply carried a whole one, as the request did."""
        result = harness.run([self.ntpdig, "-j", "-d", "-p", "4", "-g", "10", "-t", "2",
                              "-a", str(key.id), "-k", keys_file, "127.0.0.1"])
        reports = [line for line in result.stdout.splitlines() if line.startswith("{")]
        return result, json.loads(reports[-1]) if reports else None

    def test_ntpdig_every_key_type(self):
        before = counters(self.server)
        for key in KEYS:
            with self.subTest(key=key.ntpdig_type):
                result, reply = self.ntpdig_run(key, self.ntpdig_keys)
                output = result.stdout + result.stderr
                self.assertEqual(result.returncode, 0, output)
                self.assertIn(f"authenticating with {key.ntpdig_type} key {key.id}", output)
                self.assertEqual(output.count("MAC verification on reply from 127.0.0.1 succeeded"), 4, output)
                self.assertNotIn("MAC verification on reply from 127.0.0.1 failed", output)
                self.assertIsNotNone(reply, output)
                self.assertEqual(reply["stratum"], 1, reply)
                # ntpdig, in Python, reads its clock late on a busy machine; accuracy is
                # test_ntpdig.py's. This checks that it took smeard's time, authenticated.
                self.assertLess(abs(float(reply["offset"])), 0.05, reply)
        used = delta(counters(self.server), before)
        self.assertEqual({name: used[name] for name in ("unknown_key", "bad_length", "bad_mac", "crypto_nak")},
                         {"unknown_key": 0, "bad_length": 0, "bad_mac": 0, "crypto_nak": 0}, used)
        self.assertGreaterEqual(used["ok"], 4 * len(KEYS), used)

    def test_ntpdig_with_a_wrong_key_gets_no_time(self):
        before = counters(self.server)
        for key in (KEYS[1], KEYS[4]):  # SHA1, SHA512
            with self.subTest(key=key.ntpdig_type):
                result, reply = self.ntpdig_run(key, self.wrong_keys)
                output = result.stdout + result.stderr
                self.assertIsNone(reply, output)
                self.assertNotIn("MAC verification on reply from 127.0.0.1 succeeded", output)
                # ntpdig 1.2.2 then stops on a bug of its own (read_append marks the request
                # bytes, not the reply, untrusted): a traceback and status 1, but no time either way.
                self.assertNotEqual(result.returncode, 0, output)
        used = delta(counters(self.server), before)
        self.assertGreaterEqual(used["bad_mac"], 2, used)
        self.assertGreaterEqual(used["crypto_nak"], 2, used)
        self.assertEqual(used["ok"], 0, used)


class NtpdigMatrix(unittest.TestCase):
    def test_ntpdig_matrix_in_a_private_network_namespace(self):
        harness.tool("ntpdig", "ntpsec-ntpdig")
        result = harness.run_in_private_network(__file__, timeout=120)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        self.assertRegex(output, r"Ran 2 tests.*\n+OK", output)


def load_tests(loader, tests, pattern):
    if INSIDE:
        return loader.loadTestsFromTestCase(NtpdigMatrixInPrivateNetwork)
    suite = unittest.TestSuite()
    for case in (ChronydMatrix, NtpdigMatrix):
        suite.addTests(loader.loadTestsFromTestCase(case))
    return suite


if __name__ == "__main__":
    unittest.main()
