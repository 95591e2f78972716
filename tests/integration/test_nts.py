"""Network Time Security (RFC 8915): chronyd, an NTS client nobody here wrote, takes cookies from
smeard's NTS-KE server and is served a smear mid-window over authenticated NTP; cookies sealed
with one smeard's key file work on another smeard holding the same file, and are refused once
the file is replaced; tampered requests get an NTS NAK.

chronyd runs under faketime at the simulated reference's date (see
test_clients_on_simulated_time.py), so the test CA and certificate are made valid from 2000 to
2099. chronyd's ntsdumpdir gives the keys and cookies it agreed, which the tampering cases reuse
with AES-SIV from python3-cryptography."""

import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

import harness
from test_clients_on_simulated_time import chronyd_result, simulated_minus_system
from test_timescales import FIXTURES, expected_offset, rfc3339, unix

LEAP = unix("2017-01-01T00:00:00Z")
START = LEAP - 6 * 3600  # google's smear is a quarter of a second in
UNIQUE_ID, COOKIE, PLACEHOLDER, AUTHENTICATOR = 0x0104, 0x0204, 0x0304, 0x0404

CERT_CONFIG = """[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[leaf]
basicConstraints = critical,CA:FALSE
subjectAltName = IP:{address}
extendedKeyUsage = serverAuth
"""


def make_pki(directory, address="127.0.0.1"):
    """A test CA and a certificate for the IP `address` it signed, valid 2000-2099 (chronyd checks
    them at the simulated date). Returns (ca, certificate, key) paths."""
    openssl = harness.tool("openssl", "openssl")
    faketime = [harness.tool("faketime", "faketime"), "2000-01-01 00:00:00"]
    d = Path(directory)
    (d / "pki.cnf").write_text(CERT_CONFIG.format(address=address))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "36500",
         "-subj", "/CN=smeard test CA", "-config", d / "pki.cnf", "-extensions", "ca"],
        [openssl, "req", *ec, "-keyout", d / "tls.key", "-out", d / "tls.csr", "-subj", f"/CN={address}",
         "-config", d / "pki.cnf"],
        [openssl, "x509", "-req", "-in", d / "tls.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
         "-CAcreateserial", "-out", d / "tls.crt", "-days", "36500", "-extfile", d / "pki.cnf", "-extensions", "leaf"],
    ]
    for step in steps:
        result = subprocess.run(faketime + [str(a) for a in step], capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise AssertionError(f"{step[1]} failed: {result.stderr}")
    return d / "ca.pem", d / "tls.crt", d / "tls.key"


def config(ports, pki, cookie_key, metrics_port):
    _, certificate, key = pki
    return f"""listeners:
  - {{address: "127.0.0.1:{ports['utc']}", timescale: utc}}
  - {{address: "127.0.0.1:{ports['google']}", timescale: google}}
timescales:
  utc: {{smear: none}}
  google: {{smear: google}}
reference: {{type: simulated, start: "{rfc3339(START)}", rate: 1, refid: GPS}}
leapdb: {{files: ["{FIXTURES / 'leap-seconds.list'}"]}}
workers: 1
metrics: {{listen: "127.0.0.1:{metrics_port}"}}
nts:
  certificate: {certificate}
  private_key: {key}
  cookie_key_file: {cookie_key}
  listeners:
    - {{address: "127.0.0.1:{ports['ke']}", timescale: google}}
    - {{address: "127.0.0.1:{ports['ke_utc']}", timescale: utc}}
"""


def chronyd_nts(ports, ca, shift, dump_directory, ke="ke"):
    """chronyd over NTS, keyed at the KE listener `ke`: the NTP port it then uses is the one
    that listener's Port record names, not the one in its own configuration."""
    chronyd = harness.tool("chronyd", "chrony")
    faketime = harness.tool("faketime", "faketime")
    return subprocess.Popen(
        [faketime, "-f", f"{shift:+.9f}", chronyd, "-Q", "-f", "/dev/null", "-t", "20",
         f"server 127.0.0.1 port {ports['google']} iburst maxsamples 4 nts ntsport {ports[ke]}",
         f"ntstrustedcerts {ca}", f"ntsdumpdir {dump_directory}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def read_dump(dump_directory, server="127.0.0.1"):
    """chronyd's saved NTS state for the server at address `server`: (C2S key, S2C key, cookies)."""
    lines = (Path(dump_directory) / f"{server}.nts").read_text().split()
    # NNC0, KE name, time, NTP address, port, context id, AEAD, S2C, C2S, cookies...
    aead, s2c, c2s = int(lines[6]), bytes.fromhex(lines[7]), bytes.fromhex(lines[8])
    assert aead == 15, f"AEAD {aead}: the test speaks AES-SIV-CMAC-256 (15)"
    return c2s, s2c, [bytes.fromhex(c) for c in lines[9:]]


def field(kind, body):
    padded = body + bytes(-len(body) % 4)
    return struct.pack("!HH", kind, 4 + len(padded)) + padded


def nts_request(c2s, cookie, unique_id, tamper=None):
    """A client request with one cookie, authenticated with `c2s`; `tamper(bytes) -> bytes` changes
    the finished packet."""
    packet = harness.ntp_request() + field(UNIQUE_ID, unique_id) + field(COOKIE, cookie)
    nonce = os.urandom(16)
    # python3-cryptography will not seal an empty plaintext: an unassigned field, which a server ignores.
    sealed = AESSIV(c2s).encrypt(field(0x7FF0, bytes(4)), [packet, nonce])
    packet += field(AUTHENTICATOR, struct.pack("!HH", len(nonce), len(sealed)) + nonce + sealed)
    return tamper(packet) if tamper else packet


def fields(packet):
    out, at = [], 48
    while at + 4 <= len(packet):
        kind, length = struct.unpack("!HH", packet[at:at + 4])
        out.append((kind, packet[at + 4:at + length], at))
        at += length
    return out


def open_reply(s2c, reply):
    """The fields a reply sealed with `s2c` carries encrypted, or an AssertionError."""
    kind, body, at = fields(reply)[-1]
    assert kind == AUTHENTICATOR, "no authenticator in the reply"
    nonce_length, sealed_length = struct.unpack("!HH", body[:4])
    nonce = body[4:4 + nonce_length]
    sealed = body[4 + nonce_length + (-nonce_length % 4):][:sealed_length]
    plain = AESSIV(s2c).decrypt(sealed, [reply[:at], nonce])
    return fields(bytes(48) + plain)


def ke_records(port, ca, aeads=(15,), protocols=(0,)):
    """One NTS-KE session as a client other than chronyd holds it, with Python's own TLS 1.3:
    the server's response as (type, critical, body) records, End of Message included."""
    import socket
    import ssl
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["ntske/1"])
    def record(kind, values):
        body = b"".join(struct.pack("!H", v) for v in values)
        return struct.pack("!HH", 0x8000 | kind, len(body)) + body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.selected_alpn_protocol() == "ntske/1"
            tls.sendall(record(1, protocols) + record(4, aeads) + record(0, ()))
            received = b""
            while chunk := tls.recv(4096):
                received += chunk
    records, at = [], 0
    while at + 4 <= len(received):
        kind, length = struct.unpack("!HH", received[at:at + 4])
        records.append((kind & 0x7FFF, bool(kind & 0x8000), received[at + 4:at + 4 + length]))
        at += 4 + length
    return records


def served_certificate(port):
    """The certificate (DER) an NTS-KE listener presents, or None if the handshake fails."""
    import socket
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["ntske/1"])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None


def flip(offset):
    return lambda p: p[:offset] + bytes([p[offset] ^ 0x01]) + p[offset + 1:]


class Nts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="smeard-nts-")
        os.chmod(cls.directory, 0o755)  # chronyd reads the CA after dropping root
        cls.pki = make_pki(cls.directory)
        cls.key_a = harness.write_file(cls.directory, "cookie-a.key", "# fleet secret\n" + os.urandom(32).hex() + "\n")
        cls.key_b = harness.write_file(cls.directory, "cookie-b.key", os.urandom(32).hex())

    def setUp(self):
        self.ports = {"utc": harness.free_udp_port(), "google": harness.free_udp_port(), "ke": harness.free_tcp_port(),
                      "ke_utc": harness.free_tcp_port()}
        while self.ports["ke_utc"] == self.ports["ke"]:
            self.ports["ke_utc"] = harness.free_tcp_port()
        self.dump = tempfile.mkdtemp(prefix="chrony-nts-", dir=self.directory)
        os.chmod(self.dump, 0o777)  # chronyd writes it after dropping root

    def smeard(self, cookie_key, pki=None):
        metrics = harness.free_tcp_port()
        server = harness.Smeard(addresses=[f"127.0.0.1:{self.ports[n]}" for n in ("utc", "google")],
                                text=config(self.ports, pki or self.pki, cookie_key, metrics),
                                ready_events={"nts_ke_listening": 2})
        server.metrics_url = f"http://127.0.0.1:{metrics}"
        return server

    def synchronize(self, server):
        """chronyd over NTS on the smeared listener: its offset, checked against the formula."""
        shift = simulated_minus_system(self.ports["utc"])
        finished, measured, output = chronyd_result(self, chronyd_nts(self.ports, self.pki[0], shift, self.dump))
        wanted = expected_offset("google", finished - 2, LEAP, +1)
        self.assertGreater(abs(wanted), 0.24, "a smear well under way")
        self.assertLess(abs(measured - wanted), 0.001,
                        f"chronyd over NTS measured {measured:+.6f} s, the google profile says {wanted:+.6f} s\n{output}")
        return harness.scrape(server.metrics_url)

    def test_chronyd_over_nts_measures_the_smear_mid_window(self):
        with self.smeard(self.key_a) as server:
            self.assertEqual(len(server.events("nts_ke_listening")), 2, server.log())
            values = self.synchronize(server)
            self.assertEqual(harness.total(values, "smeard_nts_ke_sessions_total", outcome="ok"), 1)
            self.assertEqual(harness.total(values, "smeard_nts_ke_sessions_total"), 1)
            nts = lambda outcome: harness.total(values, "smeard_nts_requests_total", timescale="google", outcome=outcome)
            self.assertGreaterEqual(nts("ok"), 3, values)
            self.assertEqual((nts("nak"), nts("malformed")), (0, 0))
            self.assertEqual(harness.total(values, "smeard_nts_requests_total", timescale="utc"), 0)
            status = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", server.metrics_url, "--json"])
            self.assertEqual(status.returncode, 0, status.stderr)
            reported = json.loads(status.stdout)["nts"]
            self.assertEqual(reported["cookies_issued"], 8, reported)
            self.assertEqual(reported["rotation_s"], 86400)
            self.assertTrue(0 <= reported["cookie_key_age_s"] < 86400, reported)
            server.stop()

    def test_each_ke_listener_hands_its_clients_to_its_timescale_and_nowhere_else(self):
        with self.smeard(self.key_a) as server:
            self.assertEqual(len(server.events("nts_ke_listening")), 2, server.log())
            self.assertEqual(len(server.events("nts_certificate")), 1, server.log())
            # A client other than chronyd (Python's TLS 1.3): eight cookies and a Port record naming
            # the NTP listener of the KE listener's timescale.
            for ke, timescale in (("ke", "google"), ("ke_utc", "utc")):
                records = ke_records(self.ports[ke], self.pki[0])
                self.assertEqual([r[0] for r in records[:2]], [1, 4])
                self.assertEqual(sum(1 for kind, _, _ in records if kind == 5), 8)
                ports = [struct.unpack("!H", body)[0] for kind, critical, body in records if kind == 7 and critical]
                self.assertEqual(ports, [self.ports[timescale]], timescale)
                self.assertEqual(records[-1], (0, True, b""))
            # The client's first AEAD it shares: AES-SIV-CMAC-512 here; none shared: an empty AEAD
            # record and no cookies.
            agreed = ke_records(self.ports["ke"], self.pki[0], aeads=(17, 15))
            self.assertEqual([body for kind, _, body in agreed if kind == 4], [struct.pack("!H", 17)])
            none = ke_records(self.ports["ke"], self.pki[0], aeads=(30,))
            self.assertEqual([body for kind, _, body in none if kind == 4], [b""])
            self.assertFalse([kind for kind, _, _ in none if kind == 5])

            # chronyd keyed at the UTC listener is sent to the UTC port and measures true UTC, not
            # the smear (a quarter of a second off at this hour).
            shift = simulated_minus_system(self.ports["utc"])
            finished, measured, output = chronyd_result(
                self, chronyd_nts(self.ports, self.pki[0], shift, self.dump, ke="ke_utc"))
            self.assertLess(abs(measured), 0.001, f"chronyd over NTS via the UTC KE listener: {measured:+.6f} s\n{output}")
            values = harness.scrape(server.metrics_url)
            self.assertGreaterEqual(harness.total(values, "smeard_nts_requests_total", timescale="utc", outcome="ok"), 3)
            self.assertEqual(harness.total(values, "smeard_nts_requests_total", timescale="google"), 0)

            # Its cookies are for UTC: on the smeared listener they get a NAK, counted as a pin
            # violation, and never smeared time.
            c2s, _, cookies = read_dump(self.dump)
            unique_id = os.urandom(32)
            reply = harness.request(("127.0.0.1", self.ports["google"]), nts_request(c2s, cookies[0], unique_id))
            self.assertIsNotNone(reply)
            self.assertEqual((harness.decode(reply)["stratum"], harness.decode(reply)["refid"]), (0, b"NTSN"))
            self.assertEqual(fields(reply), [(UNIQUE_ID, unique_id, 48)])
            values = harness.scrape(server.metrics_url)
            self.assertEqual(harness.total(values, "smeard_nts_requests_total", timescale="google", outcome="nak"), 1)
            self.assertEqual(harness.total(values, "smeard_pinning_violations_total", timescale="google"), 1, values)
            server.stop()

    def test_a_renewed_certificate_is_served_without_a_restart_and_a_bad_one_is_refused(self):
        import ssl
        own = Path(tempfile.mkdtemp(prefix="own-", dir=self.directory))
        ca, certificate, key = self.pki[0], own / "tls.crt", own / "tls.key"
        shutil.copy(self.pki[1], certificate)
        shutil.copy(self.pki[2], key)
        der = lambda pem: ssl.PEM_cert_to_DER_cert(Path(pem).read_text())
        served = lambda: served_certificate(self.ports["ke"])
        with self.smeard(self.key_a, (ca, certificate, key)) as server:
            self.assertEqual(served(), der(certificate))

            def replace(path, source):  # whole files swapped in, as the kubelet updates a Secret
                Path(f"{path}.new").write_text(Path(source).read_text())
                os.replace(f"{path}.new", path)

            # Renewed in place, as cert-manager does: the new pair is served without a signal.
            renewed = make_pki(tempfile.mkdtemp(prefix="renewed-", dir=self.directory))
            replace(key, renewed[2])
            replace(certificate, renewed[1])
            harness.wait_for(lambda: served() == der(renewed[1]), timeout=10, step=1)  # within the KE rate limit
            self.assertEqual(served(), der(renewed[1]), server.log())
            self.assertIn("NTS", server.events("config_reloaded")[-1]["reason"])
            self.assertEqual(sum(1 for kind, _, _ in ke_records(self.ports["ke"], renewed[0]) if kind == 5), 8)

            # A key that does not match is refused, naming the key's own line; the renewed pair serves on.
            failed = len(server.events("config_reload_failed"))
            replace(key, self.pki[2])
            harness.wait_for(lambda: len(server.events("config_reload_failed")) > failed, timeout=10)
            problem = server.events("config_rejected")[-1]["problem"]
            self.assertRegex(problem, r":13:\d+: nts\.private_key: ")
            self.assertTrue(problem.endswith(f"{key}: no private key matching the certificate in {certificate}"), problem)
            self.assertEqual(served(), der(renewed[1]))
            self.assertEqual(sum(1 for kind, _, _ in ke_records(self.ports["ke"], renewed[0]) if kind == 5), 8)
            server.stop()

    def test_cookies_outlive_the_server_that_sealed_them_but_not_the_key_file(self):
        with self.smeard(self.key_a) as first:
            self.synchronize(first)
            first.stop()
        c2s, s2c, cookies = read_dump(self.dump)
        self.assertGreaterEqual(len(cookies), 4, "chronyd kept cookies to dump")
        google = ("127.0.0.1", self.ports["google"])

        # Another server holding the same key file: chronyd needs no new NTS-KE session.
        with self.smeard(self.key_a) as second:
            values = self.synchronize(second)
            self.assertEqual(harness.total(values, "smeard_nts_ke_sessions_total"), 0, "no NTS-KE: the cookies worked")
            self.assertGreaterEqual(harness.total(values, "smeard_nts_requests_total", outcome="ok"), 3)

            unique_id = os.urandom(32)
            request = nts_request(c2s, cookies[-1], unique_id)
            reply = harness.request(google, request)
            self.assertIsNotNone(reply, "an untampered request with a cookie of the first server")
            self.assertEqual(harness.decode(reply)["stratum"], 1)
            self.assertEqual(fields(reply)[0][:2], (UNIQUE_ID, unique_id))
            fresh = [body for kind, body, _ in open_reply(s2c, reply) if kind == COOKIE]
            self.assertEqual(len(fresh), 1, "one fresh cookie for the one spent")
            self.assertLessEqual(len(reply), len(request))

            # Tampered: the header, the cookie, the authenticator. Each gets an NTS NAK, or nothing.
            cookie_at = fields(request)[1][2] + 4
            for name, tamper in [("header", flip(45)), ("cookie", flip(cookie_at + 30)),
                                 ("authenticator", flip(len(request) - 3))]:
                with self.subTest(tampered=name):
                    reply = harness.request(google, nts_request(c2s, cookies[0], unique_id, tamper))
                    if reply is not None:
                        decoded = harness.decode(reply)
                        self.assertEqual((decoded["stratum"], decoded["refid"]), (0, b"NTSN"), decoded)
                        self.assertEqual(fields(reply), [(UNIQUE_ID, unique_id, 48)], "a NAK carries only the id")
            values = harness.scrape(second.metrics_url)
            self.assertGreaterEqual(harness.total(values, "smeard_nts_requests_total", outcome="nak")
                                    + harness.total(values, "smeard_nts_requests_total", outcome="malformed"), 3)

            # The fleet's secret is replaced and the server reloaded: the old cookies are refused.
            Path(second.config).write_text(Path(second.config).read_text().replace(self.key_a, self.key_b))
            second.process.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: second.events("config_reloaded"), timeout=5)
            reply = harness.request(google, nts_request(c2s, cookies[1], unique_id))
            self.assertIsNotNone(reply)
            self.assertEqual((harness.decode(reply)["stratum"], harness.decode(reply)["refid"]), (0, b"NTSN"))

            # Rewritten in place, as the kubelet updates a mounted Secret: taken without a signal.
            reloads = len(second.events("config_reloaded"))
            Path(self.key_b).write_text(os.urandom(32).hex() + "\n")
            harness.wait_for(lambda: len(second.events("config_reloaded")) > reloads, timeout=5)
            self.assertIn("NTS", second.events("config_reloaded")[-1]["reason"])

            # A bad key file on reload is refused, and the one in force stays.
            bad = harness.write_file(self.directory, "cookie-bad.key", "0011\n")
            Path(second.config).write_text(Path(second.config).read_text().replace(self.key_b, bad))
            second.process.send_signal(signal.SIGHUP)
            harness.wait_for(lambda: second.events("config_reload_failed"), timeout=5)
            problems = [e["problem"] for e in second.events("config_rejected")]
            self.assertIn(f"{bad}:1: 4 hex digits; at least 64 are needed (openssl rand -hex 32)", problems)
            second.stop()

        # chronyd itself, holding only refused cookies, is NAKed and goes back to NTS-KE.
        with self.smeard(self.key_b) as third:
            values = self.synchronize(third)
            self.assertGreaterEqual(harness.total(values, "smeard_nts_requests_total", outcome="nak"), 1)
            self.assertEqual(harness.total(values, "smeard_nts_ke_sessions_total", outcome="ok"), 1)
            third.stop()

    def test_a_bad_certificate_or_cookie_key_stops_the_start_naming_the_file(self):
        good = self.smeard(self.key_a)
        checked = harness.run([harness.binary(harness.SMEARD), "--check-config", good.config])
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn(", NTS on 2 KE listeners", checked.stdout)
        good.close()
        bad_key = harness.write_file(self.directory, "short.key", "abcd\n")
        server = self.smeard(bad_key)
        checked = harness.run([harness.binary(harness.SMEARD), "--check-config", server.config])
        self.assertEqual(checked.returncode, 1)
        self.assertIn(f"{bad_key}:1: 4 hex digits", checked.stderr)
        with self.assertRaises(AssertionError) as failed:
            server.start()
        self.assertIn(f"{bad_key}:1: 4 hex digits", str(failed.exception))
        server.close()
        ca, _, key = self.pki
        text = config(self.ports, (ca, ca, key), self.key_a, harness.free_tcp_port())
        server = harness.Smeard(addresses=[f"127.0.0.1:{self.ports['utc']}"], text=text)
        with self.assertRaises(AssertionError) as failed:
            server.start()
        self.assertIn("no private key matching the certificate", str(failed.exception))
        server.close()


if __name__ == "__main__":
    unittest.main()
