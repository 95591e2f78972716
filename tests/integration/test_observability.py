"""Observability end to end: a real Prometheus scrapes a running smeard; every PromQL
expression in the Grafana dashboard and in the alert rules returns data; the smear offset
Prometheus stores agrees with what a client measures; /healthz, /readyz and smearctl status;
promtool checks and unit-tests the rules."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import ntplib
import yaml

import harness
import test_nts

DEPLOY = harness.REPO / "deploy"
FIXTURES = harness.REPO / "tests/unit/leapdb/fixtures"


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def dashboard_expressions():
    dashboard = json.loads((DEPLOY / "grafana/smeard.json").read_text())
    exprs = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # $timescale is a Grafana variable whose "All" value is the regex .*
            exprs.append(target["expr"].replace("$timescale", ".*"))
    return exprs


def rule_expressions():
    rules = yaml.safe_load((DEPLOY / "prometheus/rules.yaml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


def without_threshold(expr):
    """The measured side of an alert condition: `A > 0.001` -> `A`, which must return data
    whether or not the alert fires."""
    match = re.match(r"^(.*\S)\s+(==|!=|>=|<=|>|<)\s+[0-9.*\s]+$", expr)
    return match.group(1) if match else expr


class Observability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ntp = sorted({harness.free_udp_port(), harness.free_udp_port()})
        while len(cls.ntp) < 2:
            cls.ntp = sorted({harness.free_udp_port(), harness.free_udp_port()})
        cls.metrics_port = harness.free_tcp_port()
        cls.ke_port = harness.free_tcp_port()
        cls.directory = tempfile.mkdtemp(prefix="smeard-prometheus-")
        ca, certificate, key = test_nts.make_pki(cls.directory)
        cookie_key = harness.write_file(cls.directory, "cookie.key", os.urandom(32).hex() + "\n")
        config = "\n".join([
            "listeners:",
            # An AF_XDP path on an interface that does not exist: it serves through sockets, and
            # the fallback's metrics exist for the rules that read them.
            f'  - {{address: "127.0.0.1:{cls.ntp[0]}", timescale: google, xdp: {{interface: smeard-none0}}}}',
            f'  - {{address: "127.0.0.1:{cls.ntp[1]}", timescale: utc}}',
            "timescales:",
            "  google: {smear: google}",
            "  utc: {smear: none}",
            "clients:",
            "  - {networks: [127.0.0.2/32], timescale: utc}",
            "reference: {type: simulated, start: \"2016-12-31T18:00:00Z\", rate: 1}",
            "workers: 1",
            f"leapdb: {{files: [{FIXTURES / 'leap-seconds.list'}]}}",
            f'metrics: {{listen: "127.0.0.1:{cls.metrics_port}"}}',
            f"nts: {{certificate: {certificate}, private_key: {key}, cookie_key_file: {cookie_key},",
            f'      listeners: [{{address: "127.0.0.1:{cls.ke_port}", timescale: google}}]}}', ""])
        cls.smeard = harness.Smeard(addresses=[f"127.0.0.1:{p}" for p in cls.ntp], text=config,
                                    ready_events={"nts_ke_listening": 1}).start()
        # Traffic of every kind: both timescales, a KoD for a pinned client, a mixed client.
        for port in cls.ntp:
            ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2)
        for source in ("127.0.0.2", "127.0.0.3"):  # pinned to utc; unpinned, on both
            for port in cls.ntp:
                cls._from(source, port)
        # NTS: a key establishment, a client that speaks no TLS, a request whose cookie no key opens.
        assert any(kind == 5 for kind, _, _ in test_nts.ke_records(cls.ke_port, ca))
        with socket.create_connection(("127.0.0.1", cls.ke_port), timeout=5) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            try:
                plain.recv(100)  # an alert, or a reset
            except ConnectionResetError:
                pass
        harness.request(("127.0.0.1", cls.ntp[0]), test_nts.nts_request(os.urandom(32), os.urandom(104), os.urandom(32)))
        cls.web_port = harness.free_tcp_port()
        prometheus_config = harness.write_file(cls.directory, "prometheus.yml", "\n".join([
            "global: {scrape_interval: 1s, evaluation_interval: 1s}",
            f"rule_files: [{DEPLOY / 'prometheus/rules.yaml'}]",
            "scrape_configs:",
            "  - job_name: smeard",
            f"    static_configs: [{{targets: ['127.0.0.1:{cls.metrics_port}']}}]", ""]))
        cls.prometheus = subprocess.Popen(
            [harness.tool("prometheus", "prometheus"), f"--config.file={prometheus_config}",
             f"--storage.tsdb.path={cls.directory}/data", f"--web.listen-address=127.0.0.1:{cls.web_port}",
             "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            preexec_fn=harness._die_with_parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            samples = cls.query("count_over_time(smeard_up[1m])")
            if samples and float(samples[0]["value"][1]) >= 4:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("Prometheus did not collect 4 scrapes of smeard within 30 s")

    @classmethod
    def _from(cls, source, port):
        harness.request(("127.0.0.1", port), harness.ntp_request(), timeout=1, source=source)

    @classmethod
    def tearDownClass(cls):
        cls.prometheus.terminate()
        try:
            cls.prometheus.wait(10)
        except subprocess.TimeoutExpired:
            cls.prometheus.kill()
        cls.smeard.close()
        shutil.rmtree(cls.directory, ignore_errors=True)

    @classmethod
    def query(cls, expr):
        url = f"http://127.0.0.1:{cls.web_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            status, body = http_get(url)
        except (urllib.error.URLError, ConnectionError):
            return []
        if status != 200:
            raise AssertionError(f"Prometheus refused {expr!r}: {body}")
        return json.loads(body)["data"]["result"]

    def test_every_dashboard_expression_returns_data(self):
        exprs = dashboard_expressions()
        self.assertGreaterEqual(len(exprs), 15)
        for expr in exprs:
            with self.subTest(expr=expr):
                self.assertTrue(self.query(expr), f"no data for {expr}")

    def test_every_rule_expression_returns_data(self):
        exprs = rule_expressions()
        self.assertEqual(len(exprs), 16)
        for expr in exprs:
            with self.subTest(expr=expr):
                self.assertTrue(self.query(without_threshold(expr)), f"no data for {without_threshold(expr)}")

    def test_stored_smear_offset_matches_what_a_client_measures(self):
        stored = self.query('smeard_smear_offset_seconds{timescale="google"}')
        self.assertEqual(len(stored), 1)
        stored_at, stored_value = float(stored[0]["value"][0]), float(stored[0]["value"][1])
        smeared = harness.best_of(lambda: ntplib.NTPClient().request("127.0.0.1", port=self.ntp[0], timeout=2),
                                  delay=lambda r: r.delay)
        utc = harness.best_of(lambda: ntplib.NTPClient().request("127.0.0.1", port=self.ntp[1], timeout=2),
                              delay=lambda r: r.delay)
        measured = smeared.offset - utc.offset
        # The google smear moves 11.6 us per second: allow for the seconds between scrape and query.
        drift = abs(time.time() - stored_at) * 1.2e-5
        self.assertLess(abs(stored_value - measured), 0.001 + drift, (stored_value, measured))
        self.assertLess(stored_value, -0.2)  # around 18:00 on the leap day: about -0.25 s

    def test_counters_reflect_the_traffic(self):
        kod = self.query('smeard_kod_sent_total{code="DENY"} > 0')
        self.assertEqual([s["metric"]["timescale"] for s in kod], ["google"])
        mixed = self.query("sum(smeard_mixed_clients_total)")
        self.assertGreaterEqual(float(mixed[0]["value"][1]), 1)
        served = self.query('sum(smeard_responses_total{version="4"})')
        self.assertGreaterEqual(float(served[0]["value"][1]), 3)
        sessions = {s["metric"]["outcome"]: float(s["value"][1]) for s in self.query("smeard_nts_ke_sessions_total > 0")}
        self.assertEqual(sessions, {"ok": 1, "tls_failed": 1})
        naks = self.query('smeard_nts_requests_total{outcome="nak"} > 0')
        self.assertEqual([(s["metric"]["timescale"], s["value"][1]) for s in naks], [("google", "1")])
        left = self.query("(smeard_nts_certificate_expiry_timestamp_seconds - time()) / 86400")
        self.assertGreater(float(left[0]["value"][1]), 365, "the test certificate is valid until 2099")

    def test_health_readiness_and_status(self):
        base = f"http://127.0.0.1:{self.metrics_port}"
        self.assertEqual(http_get(base + "/healthz"), (200, "ok\n"))
        self.assertEqual(http_get(base + "/readyz"), (200, "ready\n"))
        self.assertEqual(http_get(base + "/nope")[0], 404)
        result = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", base])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Next leap       : 2017-01-01T00:00:00.000000000Z (+1 s)", result.stdout)
        self.assertRegex(result.stdout, r"google\s+google\s+on\s+-0\.2")
        self.assertRegex(result.stdout, r"NTS             : 2 KE sessions \(1 ok\), 8 cookies issued, cookie key age \d+ s of 86400 s")
        self.assertIn("NTS certificate : expires 2099-", result.stdout)
        status = json.loads(harness.run([harness.binary(harness.SMEARCTL), "status", "--url", base, "--json"]).stdout)
        self.assertTrue(status["ready"])
        self.assertEqual([t["name"] for t in status["timescales"]], ["google", "utc"])
        self.assertEqual(status["leap_table"]["leaps"], 27)
        for args, expected in (([], "ok\n"), (["--ready"], "ready\n")):
            result = harness.run([harness.binary(harness.SMEARCTL), "health", "--url", base, *args])
            self.assertEqual((result.returncode, result.stdout), (0, expected), result.stderr)

    def test_an_expired_leap_table_is_not_ready(self):
        ntp_port, metrics_port = harness.free_udp_port(), harness.free_tcp_port()
        text = harness.config_text([f"127.0.0.1:{ntp_port}"], metrics=f"127.0.0.1:{metrics_port}")
        text += f"leapdb: {{files: [{FIXTURES / 'leap-seconds.list'}]}}\n"  # expired on 2026-06-28
        with harness.Smeard(addresses=[f"127.0.0.1:{ntp_port}"], text=text) as server:
            status, body = http_get(f"http://127.0.0.1:{metrics_port}/readyz")
            self.assertEqual(status, 503)
            self.assertEqual(body, "not ready: the leap table expired on 2026-06-28T00:00:00.000000000Z\n")
            result = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", f"http://127.0.0.1:{metrics_port}"])
            self.assertEqual(result.returncode, 3)
            self.assertIn("Ready           : NO", result.stdout)
            # What a container's HEALTHCHECK or exec probe sees: alive, not ready.
            url = f"http://127.0.0.1:{metrics_port}"
            self.assertEqual(harness.run([harness.binary(harness.SMEARCTL), "health", "--url", url]).returncode, 0)
            ready = harness.run([harness.binary(harness.SMEARCTL), "health", "--ready", "--url", url])
            self.assertEqual((ready.returncode, ready.stdout), (1, body))
            server.stop()

    def test_json_logs_and_smear_transitions(self):
        ntp_port = harness.free_udp_port()
        text = "\n".join([
            "listeners:", f'  - {{address: "127.0.0.1:{ntp_port}", timescale: google}}',
            "timescales: {google: {smear: google}}",
            # Two seconds before the google smear of the 2016 leap begins (noon UTC).
            "reference: {type: simulated, start: \"2016-12-31T11:59:58Z\", rate: 1}",
            f"leapdb: {{files: [{FIXTURES / 'leap-seconds.list'}]}}",
            "workers: 1", "metrics: {listen: off}", "log_format: json", ""])
        with tempfile.TemporaryDirectory() as directory:
            config = harness.write_file(directory, "smeard.yaml", text)
            process = subprocess.Popen([harness.binary(harness.SMEARD), "--config", config], stderr=subprocess.PIPE,
                                       text=True, preexec_fn=harness._die_with_parent)
            events = []
            deadline = time.monotonic() + 10
            try:
                for line in process.stderr:
                    events.append(json.loads(line))  # every line is one JSON object
                    if events[-1]["event"] == "smear_started" or time.monotonic() > deadline:
                        break
            finally:
                process.terminate()
                process.wait(10)
                process.stderr.close()
        started = [e for e in events if e["event"] == "smear_started"]
        self.assertEqual(len(started), 1, events)
        self.assertEqual(started[0]["timescale"], "google")
        self.assertLess(abs(float(started[0]["offset_s"])), 0.0001)  # a smear begins at zero
        self.assertTrue(all({"time", "level", "event"} <= set(e) for e in events))

    def test_promtool_checks_and_unit_tests_the_rules(self):
        promtool = harness.tool("promtool", "prometheus")
        check = harness.run([promtool, "check", "rules", str(DEPLOY / "prometheus/rules.yaml")])
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertIn("SUCCESS: 16 rules found", check.stdout)
        unit = harness.run([promtool, "test", "rules", "rules_test.yaml"], cwd=DEPLOY / "prometheus")
        self.assertEqual(unit.returncode, 0, unit.stdout + unit.stderr)
        self.assertIn("SUCCESS", unit.stdout)


if __name__ == "__main__":
    unittest.main()
