"""Several sources, one selection, against real peers: a SOCK refclock (datagrams in gpsd's format,
sent by this test) beside two real chronyd upstreams, and reloads that change the sources while a
client queries smeard ten times a second.

- The refclock 37 s wrong (a TAI/UTC mix-up) is a falseticker, named as such, and smeard serves
  the upstreams' time within 1 ms at their stratum + 1; made right it is selected (stratum 1);
  silenced, the upstreams take over with no LI=3 reply and no step.
- A reload that changes one upstream's poll, removes one and adds another: no LI=3 reply, the
  served offset within 1 ms throughout, the unchanged upstream kept with its state.

The chronyd upstreams serve this machine's own clock (local stratum 2, -x: they never touch it),
so the true offset of everything here is 0.
"""

import json
import os
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import harness

SOCK_MAGIC = 0x534F434B
TOLERANCE = 0.001  # seconds: what the served time may be off the upstreams' (this clock's)


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class SockSender:
    """Sends a chrony SOCK sample once a second, as gpsd does: the system clock now and the
    reference's offset from it."""

    def __init__(self, path, offset):
        self.offset = offset
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.connect(path)
        self.running = threading.Event()
        self.running.set()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_event.is_set():
            if self.running.is_set():
                now = time.time()
                self.socket.send(struct.pack("=qqdiiii", int(now), int((now % 1) * 1e6), self.offset, 0, 0, 0,
                                             SOCK_MAGIC))
            self.stop_event.wait(1.0)

    def close(self):
        self.stop_event.set()
        self.thread.join(5)
        self.socket.close()


def config(directory, port, metrics, reference):
    # A current leap table: TAI-UTC is what names a 37 s offset a TAI/UTC mix-up.
    leap_file = harness.write_file(directory, "leap-seconds.list", harness.leap_seconds_list(time.time() + 180 * 86400))
    lines = ["listeners:", f'  - address: "127.0.0.1:{port}"', "    timescale: utc",
             "timescales:", "  utc:", "    smear: none", "reference:"]
    lines += [f"  {line}" for line in reference]
    lines += ["workers: 1", f'metrics: {{listen: "127.0.0.1:{metrics}"}}', f"leapdb: {{files: [{leap_file}]}}", ""]
    return "\n".join(lines)


def status(daemon):
    with urllib.request.urlopen(daemon.metrics_url + "/status", timeout=5) as response:
        return json.loads(response.read())


def source_row(daemon, name):
    return next((s for s in status(daemon)["sources"] if s["name"] == name), None)


class Sources(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="smeard-sources-")
        self.addCleanup(shutil.rmtree, self.directory, True)

    def chronyd(self):
        server = harness.Chronyd(self.directory).start()
        self.addCleanup(server.stop)
        return server

    def smeard(self, reference):
        port, metrics = harness.free_udp_port(), harness.free_tcp_port()
        daemon = harness.Smeard([f"127.0.0.1:{port}"], text=config(self.directory, port, metrics, reference))
        daemon.metrics_url = f"http://127.0.0.1:{metrics}"
        daemon.reconfigure = lambda reference: harness.write_file(
            daemon.directory, "smeard.yaml", config(self.directory, port, metrics, reference))
        self.addCleanup(daemon.close)
        daemon.start()
        return daemon

    def wait_for_state(self, daemon, name, state, timeout):
        row = harness.wait_for(lambda: (lambda r: r if r and r["state"] == state else None)(source_row(daemon, name)),
                               timeout, step=0.2)
        self.assertIsNotNone(row, f"{name} never became {state}: {source_row(daemon, name)}\n{daemon.log()}")
        return row

    def test_a_refclock_37_s_wrong_beside_two_upstreams(self):
        a, b = self.chronyd(), self.chronyd()
        path = os.path.join(self.directory, "chrony.ttyS0.sock")
        name = f"SOCK({path})"
        daemon = self.smeard(["sources:",
                              f"  - {{type: sock, path: {path}}}",
                              f'  - {{type: upstream, servers: ["{a.address}", "{b.address}"], poll: 1, minsources: 2}}',
                              "holdover: 60"])
        sender = SockSender(path, -37.0)
        self.addCleanup(sender.close)

        # The wrong refclock may not be served while the upstreams start: they outvote it.
        row = self.wait_for_state(daemon, name, "falseticker", 40)
        self.assertIn("TAI/UTC mix-up", row["why"])
        self.assertTrue(daemon.events("source_state"), daemon.log())
        served = harness.best_of(lambda: query(daemon.port), lambda f: f["delay"])
        self.assertEqual((served["leap"], served["stratum"], served["refid"]), (0, 3, b"\x7f\x00\x00\x01"), served)
        self.assertLess(abs(served["offset"]), TOLERANCE + served["delay"] / 2, served)
        self.assertEqual(status(daemon)["reference"]["type"], "sock+upstream")
        # Never served wrong: it was never selected.
        self.assertFalse([e for e in daemon.events("reference_selection") if "SOCK" in e.get("to", "")],
                         daemon.log())
        log(f"  37 s wrong: a falseticker ({row['why']}); served {served['offset'] * 1e6:+.0f} us at stratum 3")

        # Made right, it is confirmed by the upstreams and selected: stratum 1.
        sender.offset = 0.0
        self.wait_for_state(daemon, name, "selected", 15)
        served = harness.wait_for(lambda: (lambda f: f if f["stratum"] == 1 else None)(query(daemon.port)), 5)
        self.assertEqual((served["leap"], served["stratum"], served["refid"]), (0, 1, b"SOCK"), served)
        self.assertFalse(daemon.events("source_jump_refused"), daemon.log())

        # Silenced, the upstreams take over: no LI=3, no step.
        querier = harness.Querier(daemon.port)
        time.sleep(2)
        sender.running.clear()
        upstream_selected = lambda: (status(daemon)["reference"]["selected"] or "").startswith("upstream(")  # noqa: E731
        self.assertTrue(harness.wait_for(upstream_selected, 15), daemon.log())
        time.sleep(3)
        querier.check(self, daemon, "refclock silenced", TOLERANCE, strata={1, 3})
        self.assertEqual(query(daemon.port)["stratum"], 3)
        changes = status(daemon)["reference"]["selection_changes"]
        self.assertGreaterEqual(changes, 2, daemon.log())
        self.assertIn(f'smeard_reference_selection_changes_total{{type="sock+upstream"}} {changes}',
                      metrics_text(daemon))
        text = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", daemon.metrics_url]).stdout
        self.assertIn("Selected source : upstream(", text)

    def test_a_reload_under_traffic_keeps_what_did_not_change(self):
        a, b, c, d = self.chronyd(), self.chronyd(), self.chronyd(), self.chronyd()

        def reference(entries):
            return ["sources:"] + [f'  - {{type: upstream, servers: ["{s.address}"], poll: {p}}}' for s, p in entries] + [
                "holdover: 60"]

        daemon = self.smeard(reference([(a, 1), (b, 1), (d, 1)]))
        self.assertTrue(harness.wait_for(lambda: status(daemon)["reference"]["stage"] == "synchronized", 40),
                        daemon.log())
        harness.wait_for(lambda: all((source_row(daemon, s.address) or {}).get("reach") == 255 for s in (a, b, d)), 20)
        querier = harness.Querier(daemon.port)
        time.sleep(2)
        # a's poll changes, b stays, d goes, c comes.
        daemon.reconfigure(reference([(a, 2), (b, 1), (c, 1)]))
        daemon.process.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: daemon.events("config_reloaded"), 10), daemon.log())
        # b was kept: its reach register went on, where a new source starts from 0 (a's did).
        self.assertGreaterEqual(bin(source_row(daemon, b.address)["reach"]).count("1"), 6, status(daemon)["sources"])
        self.assertLessEqual(bin(source_row(daemon, a.address)["reach"]).count("1"), 2, status(daemon)["sources"])
        self.assertIsNone(source_row(daemon, d.address))
        harness.wait_for(lambda: (source_row(daemon, c.address) or {}).get("state") in ("selected", "candidate"), 30)
        time.sleep(2)
        querier.check(self, daemon, "reload under traffic", TOLERANCE, strata={3})
        self.assertIn((source_row(daemon, c.address) or {}).get("state"), ("selected", "candidate"), daemon.log())
        self.assertEqual(len(status(daemon)["sources"]), 3)


def query(port):
    reply = harness.exchange(port)
    assert reply is not None, "no reply"
    return reply


def metrics_text(daemon):
    with urllib.request.urlopen(daemon.metrics_url + "/metrics", timeout=5) as response:
        return response.read().decode()


if __name__ == "__main__":
    unittest.main()
