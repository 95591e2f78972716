"""Symmetric-key authentication end to end, packet by packet: a reply is signed with the
request's key and MAC length, whole or truncated to 20 bytes; a flipped MAC byte, an unknown key
id, a wrong secret or a MAC of a length its key never makes is answered with a crypto-NAK that
carries no time; a key-required network gets nothing without a key; and a bad keys file on
reload keeps the old keys serving. Real clients (chronyd, ntpdig) with every key type, and with
a wrong key, are test_mac_interop.py's matrix.

The MACs a client sends and checks here are computed with Python's hashlib, an implementation
independent of smeard's OpenSSL one.
"""

import hashlib
import shutil
import signal
import struct
import tempfile
import unittest

import harness

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


def hash_mac(key_id, kind, secret, message, digest_length=None):
    """Key id and the first `digest_length` bytes (all when None) of digest(secret || message)."""
    digest = hashlib.new(kind, secret + message).digest()
    return struct.pack("!I", key_id) + digest[:digest_length]


def metric(daemon, name, **labels):
    return harness.total(harness.scrape(daemon.metrics_url), name, **labels)


def query_from(source, port, payload):
    return harness.request(("127.0.0.1", port), payload, timeout=1.0, source=source)


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="smeard-auth-")
        cls.keys = harness.write_file(cls.directory, "ntp.keys", keys_text(KEYS))
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

    def test_sha2_mac_whole_or_truncated_to_20_bytes_is_answered_with_the_same_length(self):
        # ntpd and NTPsec truncate a SHA-2 digest to 20 bytes in every version, chrony in NTPv4;
        # chrony's NTPv3 and ntpdig send it whole. Any other length is refused.
        before = metric(self.server, "smeard_auth_total", result="bad_length")
        for key_id, kind, whole in [(2, "sha256", 32), (6, "sha512", 64)]:
            secret = secret_bytes(KEYS[key_id][1])
            for version in (3, 4):
                for length in (20, whole):
                    with self.subTest(kind=kind, version=version, digest=length):
                        request = harness.ntp_request(version=version)
                        reply = query_from("127.0.0.1", self.server.port,
                                           request + hash_mac(key_id, kind, secret, request, length))
                        self.assertIsNotNone(reply)
                        self.assertEqual(len(reply), 48 + 4 + length)
                        self.assertEqual(reply[48:], hash_mac(key_id, kind, secret, reply[:48], length),
                                         "reply MAC does not verify with hashlib")
                        fields = harness.decode(reply)
                        self.assertEqual((fields["version"], fields["mode"], fields["stratum"]), (version, 4, 1))
                for length in (16, 48 if whole == 64 else 64):
                    with self.subTest(kind=kind, version=version, digest=length):
                        request = harness.ntp_request(version=version)
                        mac = hash_mac(key_id, kind, secret, request, length)
                        mac += bytes(4 + length - len(mac))
                        nak = query_from("127.0.0.1", self.server.port, request + mac)
                        self.assertIsNotNone(nak)
                        self.assertEqual((len(nak), nak[48:]), (52, bytes(4)), "not a crypto-NAK")
        self.assertEqual(metric(self.server, "smeard_auth_total", result="bad_length") - before, 8)

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
