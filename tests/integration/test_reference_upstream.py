"""Upstream NTP servers as the reference, against real chronyd servers on loopback ports: smeard
selects the servers that agree, rejects a falseticker (a chronyd run by faketime 2 s off),
serves stratum upstream + 1 within a millisecond of them, goes to LI=3 / stratum 16 once the
servers are gone for longer than `holdover`, and recovers when they return. A smeared upstream
(a second smeard rehearsing a leap) is refused with a log line; a drift file makes a restart
lock faster than a cold start."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from datetime import datetime, timezone

import harness

try:
    import ntplib
except ImportError:  # the pyenv python on PATH lacks it; run with /usr/bin/python3
    ntplib = None


def upstream_config(port, servers, metrics=None, minsources=2, holdover=3, drift_file=None):
    lines = ["listeners:", f'  - address: "127.0.0.1:{port}"', "    timescale: utc",
             "timescales:", "  utc:", "    smear: none",
             "reference:", "  type: upstream",
             "  servers: [" + ", ".join(f'"{s}"' for s in servers) + "]",
             f"  minsources: {minsources}", "  poll: 1", f"  holdover: {holdover}"]
    if drift_file:
        lines.append(f"  drift_file: {drift_file}")
    lines += ["workers: 1", f'metrics: {{listen: "{metrics}"}}' if metrics else "metrics: {listen: off}", ""]
    return "\n".join(lines)


def wait_for(predicate, timeout, step=0.2):
    """harness.wait_for, and how many seconds it took."""
    start = time.monotonic()
    value = harness.wait_for(predicate, timeout, step)
    return value, time.monotonic() - start


def ntplib_offset(port):
    """ntplib's offset to 127.0.0.1:port, the least delayed of five."""
    client = ntplib.NTPClient()
    return harness.best_of(lambda: client.request("127.0.0.1", port=port, version=4, timeout=1),
                           lambda r: r.delay).offset


class Upstream(unittest.TestCase):
    def setUp(self):
        if ntplib is None:
            self.fail("import ntplib failed: run with /usr/bin/python3 (apt-get install python3-ntplib)")
        self.directory = tempfile.mkdtemp(prefix="smeard-upstream-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.chronyds = []

    def chronyd(self, offset=None):
        server = harness.Chronyd(self.directory, offset).start()
        self.chronyds.append(server)
        self.addCleanup(server.stop)
        return server

    def smeard(self, text):
        port = harness.free_udp_port()
        daemon = harness.Smeard([f"127.0.0.1:{port}"], text=text.replace("PORT", str(port)))
        self.addCleanup(daemon.close)
        return daemon.start()

    def test_majority_falseticker_holdover_and_recovery(self):
        good = [self.chronyd(), self.chronyd()]
        liar = self.chronyd("+2s")
        metrics = f"127.0.0.1:{harness.free_tcp_port()}"
        daemon = self.smeard(upstream_config("PORT", [good[0].address, good[1].address, liar.address], metrics))

        locked, waited = wait_for(lambda: daemon.events("upstream_locked"), 40)
        self.assertTrue(locked, daemon.log())
        print(f"\ncold start with 3 servers: locked after {locked[0]['after_s']} s (frequency "
              f"{locked[0]['frequency_ppm']} ppm)")
        synchronized, _ = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 10)
        self.assertTrue(synchronized, daemon.log())
        # Stratum 2 servers make smeard 3; its refid names the selected server.
        self.assertEqual(synchronized["stratum"], 3, synchronized)
        self.assertEqual(synchronized["refid_raw"], socket.inet_aton("127.0.0.1"), synchronized)
        self.assertLess(synchronized["root_delay"], 0.005, synchronized)
        self.assertLess(synchronized["root_dispersion"], 0.005, synchronized)

        falsetickers = daemon.events("falseticker")
        self.assertEqual([e["server"] for e in falsetickers], [liar.address], daemon.log())
        self.assertEqual(daemon.events("source_refused"), [], daemon.log())

        # Within a millisecond of the good servers, as ntplib sees them both.
        ours, theirs = ntplib_offset(daemon.port), ntplib_offset(good[0].port)
        print(f"smeard {ours * 1e6:+.1f} us, chronyd {theirs * 1e6:+.1f} us against the system clock")
        self.assertLess(abs(ours - theirs), 0.001)

        # The sources as chronyc shows them, in smearctl status and the metrics.
        status = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", f"http://{metrics}", "--json"])
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        sources = {s["name"]: s for s in json.loads(status.stdout)["sources"]}
        states = sorted(sources[s.address]["state"] for s in good)
        self.assertEqual(states, ["candidate", "selected"], sources)
        self.assertEqual(sources[liar.address]["state"], "falseticker", sources)
        self.assertIn("outside what the majority agree on", sources[liar.address]["why"], sources)
        self.assertEqual(sources[good[0].address]["stratum"], 2, sources)
        print(harness.run([harness.binary(harness.SMEARCTL), "status", "--url", f"http://{metrics}"]).stdout)
        with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5) as r:
            text = r.read().decode()
        self.assertIn(f'smeard_source_state{{type="upstream",source="{liar.address}",address="{liar.address}",'
                      f'state="falseticker"}} 1', text)
        self.assertIn('smeard_reference_stage{type="upstream",stage="synchronized"} 1', text)

        # All gone: holdover (3 s from the last update), then unsynchronized.
        for server in self.chronyds:
            server.stop()
        stopped_at = time.monotonic()
        lost, waited = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 3 and h, 15, 0.1)
        self.assertTrue(lost, daemon.log())
        self.assertEqual(lost["stratum"], 16, lost)
        print(f"servers gone: LI=3 / stratum 16 after {waited:.1f} s (holdover 3 s)")
        self.assertGreater(waited, 2.0)
        self.assertLess(waited, 6.0)
        self.assertTrue(any(e["stage"] == "unsynchronized" for e in daemon.events("reference_stage")), daemon.log())
        self.assertGreater(time.monotonic() - stopped_at, 2.0)

        # They return: smeard recovers by itself.
        for server in self.chronyds:
            server.start()
        back, waited = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 30)
        self.assertTrue(back, daemon.log())
        self.assertEqual(back["stratum"], 3, back)
        print(f"servers back: synchronized again after {waited:.1f} s")
        self.assertLess(abs(ntplib_offset(daemon.port) - ntplib_offset(good[1].port)), 0.001)
        daemon.stop()

    def test_smeared_upstream_is_refused(self):
        good = [self.chronyd(), self.chronyd()]
        # A second smeard rehearsing a leap in 45 s, smeared linearly over the minute around it:
        # one listener names the smear in its refid (ntpd's 254.x.y.z), one hides it.
        hidden, marked = harness.free_udp_port(), harness.free_udp_port()
        leap_at = datetime.fromtimestamp(int(time.time()) + 45, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        rehearsal = f'rehearsal: {{leap_at: "{leap_at}", sign: "+"}}'
        smearing = harness.Smeard([f"127.0.0.1:{hidden}", f"127.0.0.1:{marked}"], text="\n".join([
            "listeners:", f'  - address: "127.0.0.1:{hidden}"', "    timescale: hidden",
            f'  - address: "127.0.0.1:{marked}"', "    timescale: marked",
            "timescales:",
            f"  hidden: {{smear: {{profile: linear, window: 60, anchor: center}}, refid: reference, {rehearsal}}}",
            f"  marked: {{smear: {{profile: linear, window: 60, anchor: center}}, refid: ntpd, {rehearsal}}}",
            "reference: {type: system, unsynchronized: {local_stratum: 2}}",
            "metrics: {listen: off}", ""]))
        self.addCleanup(smearing.close)
        smearing.start()

        servers = [good[0].address, good[1].address, f"127.0.0.1:{hidden}", f"127.0.0.1:{marked}"]
        daemon = self.smeard(upstream_config("PORT", servers))
        refused, waited = wait_for(lambda: len({e["server"] for e in daemon.events("source_refused")}) >= 2
                                   and daemon.events("source_refused"), 60)
        self.assertTrue(refused, daemon.log())
        why = {e["server"]: e["why"] for e in refused}
        print(f"\nrefused after {waited:.1f} s: " + "; ".join(f"{k}: {v}" for k, v in why.items()))
        self.assertRegex(why[f"127.0.0.1:{marked}"], r"^its refid 254\.x\.y\.z \(ntpd's leap smear\) says it serves smeared time")
        self.assertRegex(why[f"127.0.0.1:{hidden}"],
                         r"^it drifts -?\d+\.\d ppm against the other servers: it smears, or its clock is broken$")
        self.assertEqual(set(why), {f"127.0.0.1:{hidden}", f"127.0.0.1:{marked}"})
        # The smear never reached the served time.
        served, _ = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 10)
        self.assertTrue(served, daemon.log())
        self.assertLess(abs(ntplib_offset(daemon.port) - ntplib_offset(good[0].port)), 0.001)
        self.assertEqual(served["stratum"], 3)
        daemon.stop()
        smearing.stop()

    def test_drift_file_restart_locks_faster_than_a_cold_start(self):
        server = self.chronyd()
        drift = os.path.join(self.directory, "smeard.drift")
        text = upstream_config("PORT", [server.address], minsources=1, drift_file=drift)

        def lock_time():
            daemon = self.smeard(text)
            locked, _ = wait_for(lambda: daemon.events("upstream_locked"), 40)
            self.assertTrue(locked, daemon.log())
            daemon.stop()
            return locked[0]

        cold = lock_time()
        self.assertEqual(cold["from_drift_file"], "false")
        with open(drift) as f:
            stored = f.read()
        self.assertRegex(stored, r"^-?\d+\.\d{6} \d+\.\d{6}\n$")
        warm = lock_time()
        self.assertEqual(warm["from_drift_file"], "true")
        print(f"\ncold start locked after {cold['after_s']} s, restart with the drift file after {warm['after_s']} s "
              f"(stored: {stored.strip()} ppm)")
        self.assertLess(float(warm["after_s"]), float(cold["after_s"]) - 2)

        # A damaged drift file is named and ignored: the start is cold, not refused.
        with open(drift, "w") as f:
            f.write("fast\n")
        daemon = self.smeard(text)
        ignored, _ = wait_for(lambda: daemon.events("drift_file_ignored"), 5)
        self.assertTrue(ignored, daemon.log())
        self.assertEqual(ignored[0]["problem"], f"{drift}:1: frequency (ppm): expected a number")
        daemon.stop()

    def test_a_server_that_cannot_be_resolved_is_vacant_and_retried(self):
        # A name that does not resolve (yet) does not stop the start: its association stays
        # vacant, the name is resolved again later, and the other servers serve meanwhile.
        server = self.chronyd()
        metrics = f"127.0.0.1:{harness.free_tcp_port()}"
        daemon = self.smeard(upstream_config("PORT", [server.address, "no-such-host.invalid"], metrics, minsources=1))
        failed, _ = wait_for(lambda: daemon.events("upstream_resolve_failed"), 40)
        self.assertTrue(failed, daemon.log())
        self.assertEqual(failed[0]["server"], "no-such-host.invalid", failed)
        synchronized, _ = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, 40)
        self.assertTrue(synchronized, daemon.log())
        with urllib.request.urlopen(f"http://{metrics}/status", timeout=5) as r:
            rows = {s["name"]: s for s in json.loads(r.read())["sources"]}
        vacant = rows["no-such-host.invalid"]
        self.assertIsNone(vacant["address"], rows)
        self.assertEqual(vacant["state"], "unreachable", rows)
        self.assertEqual(vacant["why"], "its name does not resolve: " + failed[0]["error"], rows)
        self.assertEqual(rows[server.address]["state"], "selected", rows)
        with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5) as r:
            self.assertIn('smeard_source_vacant{type="upstream",source="no-such-host.invalid"} 1', r.read().decode())
        daemon.stop()

if __name__ == "__main__":
    unittest.main()
