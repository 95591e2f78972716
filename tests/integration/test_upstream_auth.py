"""Authenticated upstreams against real chronyd servers on loopback.

NTS: a chronyd NTS server (its certificate from a CA the test makes with openssl) is smeard's
upstream. smeard establishes keys over TLS, verifies the certificate against its own CA file,
follows the server's NTPv4 Server and Port records, and synchronizes. A relay between them that
flips one byte of every reply makes smeard drop each one as unauthentic (counted) until the
source is unreachable. After a restart, smeard reuses the cookies it stored and does not make a
new key establishment, which chronyd's own count of NTS-KE connections shows. A certificate from
another CA is refused.

Symmetric keys: a chronyd server with a SHA256 key in its keys file. smeard with the same key
synchronizes; with the wrong secret, no reply is accepted and smeard never synchronizes."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from test_nts import make_pki

KEY_ID = 5
SHA256_SECRET = "HEX:" + "5eed" * 16


def wait_for(predicate, timeout, step=0.2):
    start = time.monotonic()
    value = harness.wait_for(predicate, timeout, step)
    return value, time.monotonic() - start


class ChronydServer:
    """chronyd serving its clock at local stratum 2 on 127.0.0.1:port, never touching the clock
    (-x); with NTS (its KE port, a certificate, and the NTPv4 server it names), or a keys file.
    Its command socket answers `chronyc serverstats`."""

    def __init__(self, directory, nts=None, keys=None, ntp_server=None):
        self.directory = directory
        self.port = harness.free_udp_port()
        self.socket = os.path.join(directory, f"chronyd-{self.port}.sock")
        lines = [f"port {self.port}", "bindaddress 127.0.0.1", "allow 127.0.0.0/8", "cmdport 0",
                 f"bindcmdaddress {self.socket}", "local stratum 2",
                 f"pidfile {directory}/chronyd-{self.port}.pid", f"driftfile {directory}/chronyd-{self.port}.drift"]
        if nts:
            certificate, key = nts
            self.ke_port = harness.free_tcp_port()
            lines += [f"ntsport {self.ke_port}", f"ntsservercert {certificate}", f"ntsserverkey {key}",
                      f"ntsdumpdir {directory}/chronyd-nts-{self.port}"]
            os.makedirs(f"{directory}/chronyd-nts-{self.port}", exist_ok=True)
            if ntp_server:
                lines.append(f"ntsntpserver {ntp_server}")
        if keys:
            lines.append(f"keyfile {keys}")
        self.conf = os.path.join(directory, f"chronyd-{self.port}.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines + [""]))
        self.process = None

    def start(self):
        # -u root: as _chrony it could neither make its socket in our directory nor read the key.
        self.process = subprocess.Popen([harness.tool("chronyd", "chrony"), "-x", "-d", "-u", "root", "-f", self.conf],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        ok = harness.wait_for(lambda: (r := harness.request(("127.0.0.1", self.port), harness.ntp_request(), 0.2))
                              and harness.decode(r)["leap"] == 0, 10)
        if not ok:
            self.stop()
            raise AssertionError(f"chronyd on port {self.port} never served LI=0")
        return self

    def stop(self):
        harness.terminate(self.process)

    def serverstats(self):
        result = subprocess.run([harness.tool("chronyc", "chrony"), "-h", self.socket, "serverstats"],
                                capture_output=True, text=True, timeout=10)
        if result.returncode != 0:
            raise AssertionError(f"chronyc serverstats failed: {result.stdout}{result.stderr}")
        stats = {}
        for line in result.stdout.splitlines():
            name, _, value = line.partition(":")
            if value.strip().isdigit():
                stats[name.strip()] = int(value)
        return stats


class Relay:
    """A UDP relay on 127.0.0.2:port to 127.0.0.1:port that can flip one byte of every reply."""

    def __init__(self, port):
        self.upstream = ("127.0.0.1", port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.2", port))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.client = None
        self.tamper = False
        self.relayed = 0
        self.flipped = 0
        self.running = True
        self.threads = [threading.Thread(target=self._forward, daemon=True),
                        threading.Thread(target=self._backward, daemon=True)]
        for t in self.threads:
            t.start()

    def _forward(self):
        self.front.settimeout(0.2)
        while self.running:
            try:
                data, self.client = self.front.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            self.back.sendto(data, self.upstream)

    def _backward(self):
        self.back.settimeout(0.2)
        while self.running:
            try:
                data, _ = self.back.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            if self.tamper:
                # A byte of the cookies sealed in the authenticator: the header stays plausible.
                data = bytearray(data)
                data[len(data) - 20] ^= 0x01
                data = bytes(data)
                self.flipped += 1
            self.relayed += 1
            if self.client:
                self.front.sendto(data, self.client)

    def close(self):
        self.running = False
        for t in self.threads:
            t.join(2)
        self.front.close()
        self.back.close()


def upstream_text(server_entry, minsources=1, extra=()):
    return "\n".join([
        "listeners:", '  - address: "127.0.0.1:PORT"', "    timescale: utc",
        "timescales:", "  utc:", "    smear: none",
        "reference:", "  type: upstream", f"  servers: [{server_entry}]", f"  minsources: {minsources}",
        "  poll: 1", "  holdover: 2", *extra,
        "workers: 1", 'metrics: {listen: "METRICS"}', ""])


class UpstreamAuthentication(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="smeard-upstream-auth-")
        self.addCleanup(shutil.rmtree, self.directory, True)

    def chronyd(self, **kwargs):
        server = ChronydServer(self.directory, **kwargs)
        self.addCleanup(server.stop)
        return server.start()

    def smeard(self, text, keys=None):
        port = harness.free_udp_port()
        self.metrics = f"127.0.0.1:{harness.free_tcp_port()}"
        text = text.replace("PORT", str(port)).replace("METRICS", self.metrics)
        if keys:
            text += f"keys: {keys}\n"
        daemon = harness.Smeard([f"127.0.0.1:{port}"], text=text)
        self.addCleanup(daemon.close)
        return daemon.start()

    def sources(self):
        status = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", f"http://{self.metrics}", "--json"])
        # 3: reachable but not ready, as an unsynchronized smeard is.
        self.assertIn(status.returncode, (0, 3), status.stdout + status.stderr)
        return json.loads(status.stdout)["sources"]

    def test_nts_upstream_tamper_and_restart(self):
        ca, certificate, key = make_pki(self.directory)
        # chronyd reads its key as itself; the directory is the test's.
        server = self.chronyd(nts=(certificate, key), ntp_server="127.0.0.2")
        relay = Relay(server.port)
        self.addCleanup(relay.close)
        dump = os.path.join(self.directory, "nts")
        os.makedirs(dump)
        entry = f'{{server: "127.0.0.1", nts: true, nts_port: {server.ke_port}, nts_ca: "{ca}"}}'
        text = upstream_text(entry, extra=[f"  nts_dump_dir: {dump}"])

        daemon = self.smeard(text)
        established, waited = wait_for(lambda: daemon.events("nts_key_established"), 20)
        self.assertTrue(established, daemon.log())
        print(f"\nNTS-KE done after {waited:.1f} s: {established[0]}")
        # The server's records moved NTP to the relay's address and chronyd's port.
        self.assertEqual(established[0]["ntp"], f"127.0.0.2:{server.port}", established)
        synchronized, waited = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 30)
        self.assertTrue(synchronized, daemon.log())
        self.assertEqual(synchronized["stratum"], 3, synchronized)
        # Replies name the server NTP really went to, so its loop detection works.
        self.assertEqual(synchronized["refid_raw"], socket.inet_aton("127.0.0.2"), synchronized)
        print(f"synchronized over NTS after {waited:.1f} s more")
        self.assertGreater(relay.relayed, 0)
        source = self.sources()[0]
        self.assertEqual(source["state"], "selected", source)
        self.assertEqual(source.get("unauthentic", 0), 0, source)
        stats = server.serverstats()
        self.assertEqual(stats["NTS-KE connections accepted"], 1, stats)
        self.assertGreater(stats["Authenticated NTP packets"], 0, stats)

        # Tampered replies: each dropped and counted, the source unreachable, nothing served from it.
        relay.tamper = True
        unreachable, waited = wait_for(
            lambda: (s := self.sources()[0])["state"] in ("unreachable", "refused") and s, 30, 0.5)
        self.assertTrue(unreachable, daemon.log())
        print(f"one byte flipped in every reply: {unreachable['state']} after {waited:.1f} s, "
              f"{unreachable.get('unauthentic')} replies dropped as unauthentic of {relay.flipped} flipped")
        self.assertGreater(unreachable.get("unauthentic", 0), 0, unreachable)
        self.assertGreaterEqual(relay.flipped, unreachable["unauthentic"])
        metrics = harness.scrape(f"http://{self.metrics}")
        self.assertGreater(harness.total(metrics, "smeard_source_unauthentic_replies_total"), 0)
        lost, _ = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 3 and h, 15)
        self.assertTrue(lost, daemon.log())

        # Honest again: back in sync, then a restart reuses the stored cookies.
        relay.tamper = False
        back, _ = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 40)
        self.assertTrue(back, daemon.log())
        accepted = server.serverstats()["NTS-KE connections accepted"]
        daemon.stop()
        stored = os.listdir(dump)
        self.assertEqual(len(stored), 1, stored)
        self.assertEqual(os.stat(os.path.join(dump, stored[0])).st_mode & 0o077, 0, "the session file is private")

        daemon = self.smeard(text)
        loaded, _ = wait_for(lambda: daemon.events("nts_session_loaded"), 10)
        self.assertTrue(loaded, daemon.log())
        self.assertGreater(int(loaded[0]["cookies"]), 0, loaded)
        again, waited = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 30)
        self.assertTrue(again, daemon.log())
        print(f"restart: synchronized after {waited:.1f} s on {loaded[0]['cookies']} stored cookies")
        self.assertEqual(daemon.events("nts_key_established"), [], daemon.log())
        self.assertEqual(server.serverstats()["NTS-KE connections accepted"], accepted)
        self.assertEqual(os.listdir(dump), [], "a loaded session is removed until smeard stops")
        daemon.stop()

    def test_nts_certificate_from_another_ca_is_refused(self):
        _, certificate, key = make_pki(self.directory)
        other = os.path.join(self.directory, "other")
        os.makedirs(other)
        other_ca, _, _ = make_pki(other)
        server = self.chronyd(nts=(certificate, key))
        entry = f'{{server: "127.0.0.1", nts: true, nts_port: {server.ke_port}, nts_ca: "{other_ca}"}}'
        daemon = self.smeard(upstream_text(entry))
        failed, _ = wait_for(lambda: daemon.events("nts_key_establishment_failed"), 20)
        self.assertTrue(failed, daemon.log())
        self.assertIn("certificate", failed[0]["error"], failed)
        print(f"\nanother CA: {failed[0]['error']}")
        stats = server.serverstats()
        self.assertEqual(stats["NTS-KE connections accepted"], 1, stats)  # the handshake, refused by smeard
        self.assertEqual(stats["Authenticated NTP packets"], 0, stats)
        self.assertEqual(harness.header(daemon.port)["leap"], 3)
        daemon.stop()

    def test_a_bad_ca_file_or_dump_directory_is_named_at_start(self):
        not_pem = os.path.join(self.directory, "not-a-ca.pem")
        with open(not_pem, "w") as f:
            f.write("not a certificate\n")
        cases = [
            (f'{{server: "127.0.0.1", nts: true, nts_ca: "{not_pem}"}}', [],
             r"smeard\.yaml:9:\d+: reference\.servers\[0\]\.nts_ca: .*not-a-ca\.pem: no CA certificate could be loaded"),
            ('{server: "127.0.0.1", nts: true}', [f"  nts_dump_dir: {not_pem}"],
             r"smeard\.yaml:\d+:\d+: reference\.nts_dump_dir: .*not-a-ca\.pem: not a directory"),
        ]
        for entry, extra, expected in cases:
            config = os.path.join(self.directory, "smeard.yaml")
            with open(config, "w") as f:
                f.write(upstream_text(entry, extra=extra).replace("PORT", str(harness.free_udp_port()))
                        .replace("METRICS", f"127.0.0.1:{harness.free_tcp_port()}"))
            result = subprocess.run([harness.binary(harness.SMEARD), "--config", config], capture_output=True,
                                    text=True, timeout=20)
            self.assertNotEqual(result.returncode, 0, result.stderr)
            self.assertRegex(result.stderr, expected)

    def test_symmetric_key_right_and_wrong(self):
        chrony_keys = os.path.join(self.directory, "chrony.keys")
        with open(chrony_keys, "w") as f:
            f.write(f"{KEY_ID} SHA256 {SHA256_SECRET}\n")
        server = self.chronyd(keys=chrony_keys)
        entry = f'{{server: "127.0.0.1:{server.port}", key: {KEY_ID}}}'

        right = os.path.join(self.directory, "right.keys")
        with open(right, "w") as f:
            f.write(f"{KEY_ID} SHA256 {SHA256_SECRET}\n")
        os.chmod(right, 0o600)
        daemon = self.smeard(upstream_text(entry), keys=right)
        synchronized, waited = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 30)
        self.assertTrue(synchronized, daemon.log())
        print(f"\nkeyed upstream: synchronized after {waited:.1f} s")
        source = self.sources()[0]
        self.assertEqual(source["state"], "selected", source)
        self.assertEqual(source.get("unauthentic", 0), 0, source)
        daemon.stop()

        wrong = os.path.join(self.directory, "wrong.keys")
        with open(wrong, "w") as f:
            f.write(f"{KEY_ID} SHA256 HEX:{'0bad' * 16}\n")
        os.chmod(wrong, 0o600)
        daemon = self.smeard(upstream_text(entry), keys=wrong)
        time.sleep(8)
        source = self.sources()[0]
        print(f"wrong key: {source['state']}, {source.get('unauthentic', 0)} replies dropped as unauthentic")
        self.assertNotEqual(source["state"], "selected", source)
        self.assertEqual(daemon.events("upstream_locked"), [], daemon.log())
        self.assertEqual(harness.header(daemon.port)["leap"], 3)
        daemon.stop()


if __name__ == "__main__":
    unittest.main()
