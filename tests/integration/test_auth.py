"""Symmetric-key authentication end to end: chronyd -Q with `key N` and the same keys file is
served for every key type; a wrong key, a flipped MAC byte or an unknown key id is answered
with a crypto-NAK that carries no time; a key-required network gets nothing without a key;
and a bad keys file on reload keeps the old keys serving.

The MACs a client sends and checks here are also computed with Python's hashlib, an
implementation independent of smeard's OpenSSL one.
"""

import hashlib
import os
import shutil
import re
import signal
import struct
import subprocess
import tempfile
import unittest

import harness

WRONG_BY = re.compile(r"System clock wrong by (-?\d+\.\d+) seconds")

KEYS = {
    1: ("SHA1", "HEX:00112233445566778899aabbccddeeff00112233"),
    2: ("SHA256", "ASCII:a-sha256-secret"),
    3: ("AES128", "HEX:000102030405060708090a0b0c0d0e0f"),
    4: ("AES256", "HEX:" + "000102030405060708090a0b0c0d0e0f" * 2),
    5: ("MD5", "an-md5-secret"),
    6: ("SHA512", "HEX:0102030405060708090a"),
}


def keys_text(keys):
    return "".join(f"{key_id} {kind} {secret}\n" for key_id, (kind, secret) in keys.items())


def secret_bytes(secret):
    if secret.startswith("HEX:"):
        return bytes.fromhex(secret[4:])
    return secret[6:].encode() if secret.startswith("ASCII:") else secret.encode()


def sha1_mac(key_id, secret, message):
    return struct.pack("!I", key_id) + hashlib.sha1(secret + message).digest()


def metric(daemon, name, **labels):
    return harness.total(harness.scrape(daemon.metrics_url), name, **labels)


def query_from(source, port, payload):
    return harness.request(("127.0.0.1", port), payload, timeout=1.0, source=source)


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chronyd_path = harness.tool("chronyd", "chrony")
        # chronyd drops to its own user before it reads the keys file: world-readable, in a
        # directory it can enter.
        cls.directory = tempfile.mkdtemp(prefix="smeard-auth-")
        os.chmod(cls.directory, 0o755)
        cls.keys = harness.write_file(cls.directory, "ntp.keys", keys_text(KEYS))
        os.chmod(cls.keys, 0o644)
        port = harness.free_udp_port()
        metrics = harness.free_tcp_port()
        text = harness.config_text([f"127.0.0.1:{port}"], metrics=f"127.0.0.1:{metrics}") + "\n".join([
            f"keys: {cls.keys}",
            "clients:",
            '  - networks: ["127.0.0.2/32"]',
            "    timescale: utc",
            "    key_required: true", ""])
        cls.server = harness.Smeard([f"127.0.0.1:{port}"], text=text)
        cls.server.metrics_url = f"http://127.0.0.1:{metrics}"
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.directory, ignore_errors=True)

    def chronyd(self, key_id, keys_file):
        return subprocess.Popen(
            [self.chronyd_path, "-Q", "-f", "/dev/null", "-t", "12", f"keyfile {keys_file}",
             f"server 127.0.0.1 port {self.server.port} iburst maxsamples 4 key {key_id}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def test_chronyd_is_served_with_every_key_type(self):
        before = metric(self.server, "smeard_auth_total", result="ok")
        runs = {key_id: self.chronyd(key_id, self.keys) for key_id in KEYS}
        outputs = {key_id: run.communicate(timeout=30)[0] for key_id, run in runs.items()}
        for key_id, output in outputs.items():
            with self.subTest(key=KEYS[key_id][0]):
                found = WRONG_BY.findall(output)
                self.assertEqual(len(found), 1, f"chronyd with key {key_id} got no authenticated time:\n{output}")
                self.assertLess(abs(float(found[0])), 0.001, output)
        # chronyd accepts only replies whose MAC verifies: each of its samples was signed.
        self.assertGreaterEqual(metric(self.server, "smeard_auth_total", result="ok") - before, 2 * len(KEYS))

    def test_chronyd_with_a_wrong_key_gets_no_time(self):
        wrong = harness.write_file(self.directory, "wrong.keys",
                                   keys_text({1: ("SHA1", "HEX:" + "ff" * 20), 3: ("AES128", "HEX:" + "ee" * 16)}))
        os.chmod(wrong, 0o644)
        bad_before = metric(self.server, "smeard_auth_total", result="bad_mac")
        nak_before = metric(self.server, "smeard_kod_sent_total", code="CRYP")
        runs = {key_id: self.chronyd(key_id, wrong) for key_id in (1, 3)}
        for key_id, run in runs.items():
            output = run.communicate(timeout=30)[0]
            with self.subTest(key=KEYS[key_id][0]):
                self.assertEqual(WRONG_BY.findall(output), [], f"chronyd took time signed with another key:\n{output}")
        self.assertGreater(metric(self.server, "smeard_auth_total", result="bad_mac"), bad_before)
        self.assertGreater(metric(self.server, "smeard_kod_sent_total", code="CRYP"), nak_before)

    def test_reply_is_signed_with_the_request_key_and_a_flipped_byte_gets_a_crypto_nak(self):
        secret = secret_bytes(KEYS[1][1])
        request = harness.ntp_request()
        reply = query_from("127.0.0.1", self.server.port, request + sha1_mac(1, secret, request))
        self.assertIsNotNone(reply)
        self.assertEqual(len(reply), 48 + 24)
        self.assertEqual(reply[48:], sha1_mac(1, secret, reply[:48]), "reply MAC does not verify with hashlib")
        fields = harness.decode(reply)
        self.assertEqual((fields["mode"], fields["stratum"]), (4, 1))
        self.assertEqual(fields["origin_raw"], request[40:48])

        for what, mac in [("flipped MAC byte", bytearray(sha1_mac(1, secret, request))),
                          ("unknown key", sha1_mac(77, secret, request)),
                          ("wrong secret", sha1_mac(1, b"guess", request))]:
            with self.subTest(what=what):
                if what == "flipped MAC byte":
                    mac[10] ^= 0x01
                nak = query_from("127.0.0.1", self.server.port, request + bytes(mac))
                self.assertIsNotNone(nak)
                self.assertEqual(len(nak), 52)
                self.assertEqual(nak[48:], bytes(4), "a crypto-NAK is key id 0 alone")
                fields = harness.decode(nak)
                self.assertEqual((fields["stratum"], fields["leap"], fields["refid"]), (0, 3, b"CRYP"))

    def test_key_required_network_gets_nothing_without_a_key(self):
        secret = secret_bytes(KEYS[1][1])
        request = harness.ntp_request()
        before = metric(self.server, "smeard_drops_total", reason="key_required")
        self.assertIsNone(query_from("127.0.0.2", self.server.port, request))
        self.assertEqual(metric(self.server, "smeard_drops_total", reason="key_required"), before + 1)
        signed = query_from("127.0.0.2", self.server.port, request + sha1_mac(1, secret, request))
        self.assertIsNotNone(signed)
        self.assertEqual(harness.decode(signed)["stratum"], 1)
        self.assertEqual(signed[48:], sha1_mac(1, secret, signed[:48]))
        # Outside the network a key is not needed.
        self.assertEqual(len(query_from("127.0.0.3", self.server.port, request)), 48)

    def test_keys_reload_and_a_bad_keys_file_keeps_the_old_keys(self):
        secret = secret_bytes(KEYS[1][1])
        request = harness.ntp_request()
        new_secret = "HEX:" + "42" * 20
        try:
            with open(self.keys, "w") as f:
                f.write(keys_text({**KEYS, 1: ("SHA1", new_secret)}))
            self.server.process.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: len(self.server.events("config_reloaded")) >= 1, 5)
            reply = query_from("127.0.0.1", self.server.port, request + sha1_mac(1, secret_bytes(new_secret), request))
            self.assertEqual(len(reply), 72, "the reloaded key is not in force")
            old = query_from("127.0.0.1", self.server.port, request + sha1_mac(1, secret, request))
            self.assertEqual(len(old), 52, "the replaced secret still verifies")
            with open(self.keys, "w") as f:
                f.write("1 SHA1 HEX:0011\n2 SHA3 whatever\n")
            self.server.process.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: self.server.events("config_reload_failed"), 5)
            problems = [e["problem"] for e in self.server.events("config_rejected")]
            self.assertIn(f"{self.keys}:2:3: type: unknown type 'SHA3' "
                          "(MD5, SHA1, SHA256, SHA384, SHA512, AES128, AES256)", problems)
            self.assertFalse(any("whatever" in p for p in problems), "a secret leaked into the log")
            reply = query_from("127.0.0.1", self.server.port, request + sha1_mac(1, secret_bytes(new_secret), request))
            self.assertEqual(len(reply), 72, "a bad keys file replaced the keys in force")
        finally:
            with open(self.keys, "w") as f:
                f.write(keys_text(KEYS))
            self.server.process.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: len(self.server.events("config_reloaded")) >= 2, 5)


class KeysFileTest(unittest.TestCase):
    def test_a_bad_keys_file_fails_check_config_and_start_naming_file_line_and_field(self):
        directory = tempfile.mkdtemp(prefix="smeard-keys-")
        self.addCleanup(shutil.rmtree, directory, True)
        keys = harness.write_file(directory, "ntp.keys", "1 SHA1 HEX:0011\n9 AES128 HEX:0011\n")
        port = harness.free_udp_port()
        config = harness.write_file(directory, "smeard.yaml",
                                    harness.config_text([f"127.0.0.1:{port}"]) + f"keys: {keys}\n")
        expected = f"{keys}:2:10: key: AES128 needs a 16-byte key, not 2 bytes"
        for mode in ("--check-config", "--config"):
            with self.subTest(mode=mode):
                result = harness.run([harness.binary(harness.SMEARD), mode, config], timeout=10)
                self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
                self.assertIn(expected, result.stderr)
        missing = harness.write_file(directory, "missing.yaml",
                                     harness.config_text([f"127.0.0.1:{port}"]) + "keys: /nonexistent/ntp.keys\n")
        result = harness.run([harness.binary(harness.SMEARD), "--check-config", missing], timeout=10)
        self.assertEqual(result.returncode, 1)
        with open(missing) as f:
            line = len(f.read().splitlines())
        self.assertIn(f"{missing}:{line}:7: keys: cannot read /nonexistent/ntp.keys", result.stderr)


if __name__ == "__main__":
    unittest.main()
