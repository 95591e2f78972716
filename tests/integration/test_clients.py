"""Top talkers and the metrics endpoint's guards, on a real smeard with real clients.

Clients from several loopback addresses send to two listeners (two timescales) with a strict
rate limit; /status and `smearctl clients` must rank the heavy one first on its timescale only,
with the requests, kisses of death and rate-limited requests the clients themselves counted.
A flood of one-off source addresses (many more than the workers' tables hold) must not push
the heavy talkers out. The metrics endpoint refuses a peer outside metrics.allow, while a real
Prometheus inside it scrapes; and a peer holding max_connections_per_address sessions is
refused one more while another address is still served."""

import calendar
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import ntplib

import harness

SMEARCTL = harness.SMEARCTL


def burst(source, port, count):
    """Sends `count` requests from `source` at once, then reads the replies: how many were time
    and how many a KoD RATE (stratum 0, refid RATE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((source, 0))
        for _ in range(count):
            s.sendto(harness.ntp_request(), ("127.0.0.1", port))
        s.settimeout(0.5)
        time_replies = kods = 0
        try:
            while True:
                fields = harness.decode(s.recv(4096))
                if fields["stratum"] == 0 and fields["refid"] == b"RATE":
                    kods += 1
                else:
                    time_replies += 1
        except socket.timeout:
            pass
    return time_replies, kods


def status(metrics_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/status", timeout=5) as response:
        return json.loads(response.read())


def clients_of(status_json, timescale):
    return next(t["clients"] for t in status_json["timescales"] if t["name"] == timescale)


def flood(port, count):
    """One request from each of `count` addresses 127.2.0.1 upwards, never answered back to."""
    payload = harness.ntp_request()
    for i in range(count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((f"127.2.{(i + 1) >> 8 & 255}.{(i + 1) & 255}", 0))
            s.sendto(payload, ("127.0.0.1", port))


class TopTalkers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.environ.get("SMEARD_ITEST_NETNS") == "1":
            raise unittest.SkipTest("run outside, not again in MetricsGuards' private network")
        cls.ntp = [harness.free_udp_port(), harness.free_udp_port()]
        while cls.ntp[0] == cls.ntp[1]:
            cls.ntp[1] = harness.free_udp_port()
        cls.metrics_port = harness.free_tcp_port()
        config = "\n".join([
            "listeners:",
            f'  - {{address: "127.0.0.1:{cls.ntp[0]}", timescale: utc}}',
            f'  - {{address: "127.0.0.1:{cls.ntp[1]}", timescale: google}}',
            "timescales:",
            "  utc: {smear: none}",
            "  google: {smear: google}",
            "reference: {type: system, unsynchronized: {local_stratum: 1}}",
            "workers: 2",
            # One answer a minute after a burst of 4; never leaked: every request over the
            # limit is a KoD RATE (at most one a minute) or dropped.
            "ratelimit: {interval: 6, burst: 4, leak: 0}",
            f'metrics: {{listen: "127.0.0.1:{cls.metrics_port}"}}', ""])
        cls.smeard = harness.Smeard(addresses=[f"127.0.0.1:{p}" for p in cls.ntp], text=config).start()
        # utc: a heavy talker, a middling one and a real client (ntplib) asking twice.
        cls.sent = {"127.0.0.2": 150, "127.0.0.3": 20}
        cls.seen = {source: burst(source, cls.ntp[0], n) for source, n in cls.sent.items()}
        for _ in range(2):
            ntplib.NTPClient().request("127.0.0.1", port=cls.ntp[0], version=4, timeout=2)
        # google: another heavy talker, and the middling one again.
        cls.google_sent = {"127.0.0.5": 60, "127.0.0.3": 3}
        cls.google_seen = {source: burst(source, cls.ntp[1], n) for source, n in cls.google_sent.items()}

    @classmethod
    def tearDownClass(cls):
        cls.smeard.close()

    def check_row(self, row, address, sent, seen):
        time_replies, kods = seen
        self.assertEqual(row["address"], address)
        self.assertEqual(row["requests"], sent)
        self.assertEqual(row["kod"], kods)
        # Over the limit: everything not answered with time (leak 0).
        self.assertEqual(row["rate_limited"], sent - time_replies)
        seen_at = calendar.timegm(time.strptime(row["last_seen"], "%Y-%m-%dT%H:%M:%SZ"))
        self.assertLess(abs(seen_at - time.time()), 120)

    def test_heaviest_first_per_timescale_with_the_counts_clients_saw(self):
        s = status(self.metrics_port)
        utc = clients_of(s, "utc")
        self.assertEqual([r["address"] for r in utc], ["127.0.0.2", "127.0.0.3", "127.0.0.1"], utc)
        # The burst of 4 answered, then one KoD RATE, the rest dropped.
        self.assertEqual(self.seen["127.0.0.2"], (4, 1))
        self.check_row(utc[0], "127.0.0.2", 150, self.seen["127.0.0.2"])
        self.check_row(utc[1], "127.0.0.3", 20, self.seen["127.0.0.3"])
        self.assertEqual(utc[2]["requests"], 2)
        self.assertEqual((utc[2]["kod"], utc[2]["rate_limited"]), (0, 0))
        google = clients_of(s, "google")
        self.assertEqual([r["address"] for r in google], ["127.0.0.5", "127.0.0.3"], google)
        self.check_row(google[0], "127.0.0.5", 60, self.google_seen["127.0.0.5"])
        self.check_row(google[1], "127.0.0.3", 3, self.google_seen["127.0.0.3"])

    def test_smearctl_clients_prints_the_table_and_json(self):
        harness.binary(SMEARCTL)
        url = f"http://127.0.0.1:{self.metrics_port}"
        shown = harness.run([SMEARCTL, "clients", "--url", url, "--top", "1", "--timescale", "google"])
        self.assertEqual(shown.returncode, 0, shown.stderr)
        lines = shown.stdout.splitlines()
        self.assertEqual(lines[0], "Timescale google: 1 heaviest client")
        self.assertEqual(lines[1].split()[:4], ["Address", "Requests", "KoD", "Rate-limited"])
        self.assertEqual(lines[2].split()[:4], ["127.0.0.5", "60", str(self.google_seen["127.0.0.5"][1]),
                                                str(60 - self.google_seen["127.0.0.5"][0])])
        self.assertEqual(len(lines), 3)
        as_json = harness.run([SMEARCTL, "clients", "--url", url, "--json"])
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        parsed = json.loads(as_json.stdout)
        self.assertEqual(sorted(t["timescale"] for t in parsed), ["google", "utc"])
        utc = next(t["clients"] for t in parsed if t["timescale"] == "utc")
        self.assertEqual(len(utc), 3)  # of the default 10
        self.assertEqual((utc[0]["address"], utc[0]["requests"]), ("127.0.0.2", 150))
        unknown = harness.run([SMEARCTL, "clients", "--url", url, "--timescale", "tai"])
        self.assertEqual(unknown.returncode, 1)
        self.assertIn("no timescale named 'tai' (it serves: google, utc)", unknown.stderr)
        bad = harness.run([SMEARCTL, "clients", "--url", url, "--top", "0"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--top takes a number of clients from 1 to 100", bad.stderr)

    def test_z_a_flood_of_one_off_addresses_does_not_push_the_heavy_talkers_out(self):
        # 20000 addresses against two workers' tables of 4096 records each.
        before = status(self.metrics_port)
        flood(self.ntp[0], 20000)
        flood(self.ntp[1], 5000)
        after = harness.wait_for(lambda: (lambda s: s if sum(t["requests"] for t in s["traffic"]) >=
                                          sum(t["requests"] for t in before["traffic"]) + 25000 else None)(
                                              status(self.metrics_port)), 10)
        self.assertIsNotNone(after, "smeard did not count the flood")
        self.assertEqual(clients_of(after, "utc")[:2], clients_of(before, "utc")[:2])
        self.assertEqual(clients_of(after, "google")[:1], clients_of(before, "google")[:1])
        # /status lists at most 100 a timescale; the rest of utc's are flood addresses now.
        utc = clients_of(after, "utc")
        self.assertEqual(len(utc), 100)
        self.assertTrue(all(r["address"].startswith("127.2.") and r["requests"] == 1 for r in utc[3:]), utc[3:6])


class MetricsGuards(unittest.TestCase):
    """metrics.allow and max_connections_per_address, in a private network namespace where
    127.0.0.0/8 is all ours."""

    def setUp(self):
        if os.environ.get("SMEARD_ITEST_NETNS") != "1":
            return
        harness.loopback_up()

    def test_in_private_network(self):
        if os.environ.get("SMEARD_ITEST_NETNS") == "1":
            self.skipTest("the inner run does the work")
        ran = harness.run_in_private_network(__file__, timeout=120)
        self.assertEqual(ran.returncode, 0, ran.stdout + ran.stderr)
        self.assertIn("OK", ran.stderr)

    def start(self, metrics_lines):
        self.metrics_port = harness.free_tcp_port()
        address = f"127.0.0.1:{harness.free_udp_port()}"
        config = harness.config_text([address], workers=1).replace(
            "metrics: {listen: off}", f'metrics:\n  listen: "127.0.0.1:{self.metrics_port}"\n' + metrics_lines)
        smeard = harness.Smeard(addresses=[address], text=config)
        self.addCleanup(smeard.close)
        return smeard.start()

    def refused(self, source):
        """True when a connection from `source` is closed before any answer to a whole request."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((source, 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", self.metrics_port))
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                return s.recv(100) == b""
            except (ConnectionResetError, BrokenPipeError):
                return True

    def refusals(self, reason):
        return harness.total(harness.scrape(f"http://127.0.0.1:{self.metrics_port}"),
                             "smeard_metrics_connections_refused_total", reason=reason)

    def test_only_allowed_networks_connect(self):
        if os.environ.get("SMEARD_ITEST_NETNS") != "1":
            self.skipTest("runs inside test_in_private_network")
        self.start("  allow: [127.0.0.1/32, 10.0.0.0/8]\n")
        self.assertTrue(self.refused("127.0.0.2"))
        self.assertTrue(self.refused("127.0.0.3"))
        curl = harness.run(["curl", "-sS", "--interface", "127.0.0.2", f"http://127.0.0.1:{self.metrics_port}/metrics"])
        self.assertNotEqual(curl.returncode, 0)
        # A real Prometheus, from 127.0.0.1, scrapes.
        directory = tempfile.mkdtemp(prefix="smeard-prometheus-")
        self.addCleanup(shutil.rmtree, directory, True)
        web = harness.free_tcp_port()
        config = harness.write_file(directory, "prometheus.yml", "\n".join([
            "global: {scrape_interval: 1s}", "scrape_configs:", "  - job_name: smeard",
            f"    static_configs: [{{targets: ['127.0.0.1:{self.metrics_port}']}}]", ""]))
        prometheus = subprocess.Popen(
            [harness.tool("prometheus", "prometheus"), f"--config.file={config}", f"--storage.tsdb.path={directory}/data",
             f"--web.listen-address=127.0.0.1:{web}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=harness._die_with_parent)
        self.addCleanup(harness.terminate, prometheus, 10)

        def refused_as_prometheus_sees_it():
            query = urllib.parse.urlencode({"query": 'smeard_metrics_connections_refused_total{reason="not_allowed"}'})
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/v1/query?{query}", timeout=2) as r:
                    result = json.loads(r.read())["data"]["result"]
            except OSError:
                return None
            return result and float(result[0]["value"][1])

        self.assertEqual(harness.wait_for(refused_as_prometheus_sees_it, 30, 0.5), 3)
        self.assertEqual(self.refusals("not_allowed"), 3)
        self.assertEqual(self.refusals("per_address"), 0)

    def test_one_address_holds_at_most_its_share_of_sessions(self):
        if os.environ.get("SMEARD_ITEST_NETNS") != "1":
            self.skipTest("runs inside test_in_private_network")
        self.start("  max_connections_per_address: 2\n")
        held = []
        for _ in range(2):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.3", 0))
            s.connect(("127.0.0.1", self.metrics_port))
            held.append(s)
        self.addCleanup(lambda: [s.close() for s in held])
        time.sleep(0.2)  # accepted: the server holds both sessions, waiting for a request
        self.assertTrue(self.refused("127.0.0.3"))
        curl = harness.run(["curl", "-sS", "--interface", "127.0.0.4", f"http://127.0.0.1:{self.metrics_port}/healthz"])
        self.assertEqual((curl.returncode, curl.stdout), (0, "ok\n"), curl.stderr)
        # A held session, once answered, frees its place.
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", held[0].recv(100))
        time.sleep(0.2)
        self.assertFalse(self.refused("127.0.0.3"))
        self.assertEqual(self.refusals("per_address"), 1)
        self.assertEqual(self.refusals("not_allowed"), 0)


if __name__ == "__main__":
    unittest.main()
