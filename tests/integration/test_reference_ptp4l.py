"""A `system` source with `ptp4l:` beside an upstream, against a real ptp4l: a master and a
free-running, slave-only ptp4l on a veth pair between two network namespaces (ptp.Pair).

- While the slave is UNCALIBRATED (following the master, never locking: it may not steer this
  clock) the system source is refused with ptp4l's state as the reason, in /status, in
  `smearctl status` and in an event=ptp4l_state line; the upstream serves: LI=0, its stratum + 1,
  its address as the refid, its time within 1 ms.
- The master killed, the slave goes LISTENING and smeard says so; a client querying all along
  sees no LI=3 reply and no step.
- SLAVE, which that ptp4l never reaches, comes from a fake ptp4l replaying the reply recorded from
  it, edited to SLAVE (ptp.FakePtp4l): after a reload that points `ptp4l:` there, ptp4l's verdict
  is synchronized and the system source is judged by the kernel's own account alone.

smeard asks ptp4l from an abstract Unix socket, which belongs to a network namespace: it has to
run in the slave's. So the outer test starts the pair and runs this file again in the slave's
namespace (ip netns exec), where the checks run with a chronyd upstream on that namespace's
loopback. Both ptp4l run with `free_running 1`, chronyd with -x: nothing here steers this
machine's clock. The chronyd serves this clock, so the true offset of everything here is 0.

Needs root, ip (iproute2), ptp4l and pmc (linuxptp) and chronyd (chrony):
    cd tests/integration && /usr/bin/python3 -m unittest -v test_reference_ptp4l
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import harness
import ptp

INSIDE = os.environ.get("SMEARD_ITEST_PTP4L_NS") == "1"
TOLERANCE = 0.001  # seconds: what the served time may be off the upstream's (this clock's)
UNCALIBRATED_WHY = "ptp4l port 1 is UNCALIBRATED: not yet locked to a master"
LISTENING_WHY = "ptp4l port 1 is LISTENING: no master announces itself"
KERNEL_WHY = "the kernel says the clock is unsynchronized"
LISTENING_WITHIN = 20  # seconds from the master's death: ptp4l needs 6 to 7, smeard a poll more
LOCK_TIMEOUT = 30  # seconds for an upstream on loopback to lock (it takes 6 to 14)
INNER_TIMEOUT = 150  # seconds for the run inside the namespace; it takes about 45


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def query(daemon):
    """One NTP exchange with smeard (harness.exchange), which must answer."""
    reply = harness.exchange(daemon.port)
    assert reply is not None, f"no reply\n{daemon.log()}"
    return reply


def config(directory, port, metrics, ptp4l, upstream):
    # A current leap table, so that nothing about the leap data stands in the way.
    leap_file = harness.write_file(directory, "leap-seconds.list",
                                   harness.leap_seconds_list(time.time() + 180 * 86400))
    return "\n".join([
        "listeners:", f'  - {{address: "127.0.0.1:{port}", timescale: utc}}',
        "timescales:", "  utc: {smear: none}",
        "reference:", "  sources:",
        f"    - {{type: system, ptp4l: {ptp4l}}}",
        f'    - {{type: upstream, servers: ["{upstream}"], poll: 1}}',
        "  holdover: 60",
        "workers: 1", f'metrics: {{listen: "127.0.0.1:{metrics}"}}', f"leapdb: {{files: [{leap_file}]}}", ""])


def status(daemon):
    with urllib.request.urlopen(daemon.metrics_url + "/status", timeout=5) as response:
        return json.loads(response.read())


def source_row(daemon, name):
    return next((s for s in status(daemon)["sources"] if s["name"] == name), None)


def metrics_text(daemon):
    with urllib.request.urlopen(daemon.metrics_url + "/metrics", timeout=5) as response:
        return response.read().decode()


def smearctl_status(daemon):
    done = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", daemon.metrics_url])
    assert done.returncode == 0, f"smearctl status: exit {done.returncode}: {done.stderr}\n{daemon.log()}"
    return done.stdout


def ptp4l_events(daemon, path):
    return [e for e in daemon.events("ptp4l_state") if e.get("ptp4l") == path]


class Ptp4lInTheSlaveNamespace(unittest.TestCase):
    """Runs only inside the slave's network namespace, where ptp4l's slave answers."""

    def setUp(self):
        self.directory = tempfile.mkdtemp(prefix="smeard-ptp4l-")
        self.addCleanup(shutil.rmtree, self.directory, True)
        self.slave_socket = os.environ["SMEARD_ITEST_PTP4L_SOCKET"]
        self.master_pid = int(os.environ["SMEARD_ITEST_PTP4L_MASTER_PID"])

    def smeard(self, upstream):
        port, metrics = harness.free_udp_port(), harness.free_tcp_port()
        daemon = harness.Smeard([f"127.0.0.1:{port}"],
                                text=config(self.directory, port, metrics, self.slave_socket, upstream))
        daemon.metrics_url = f"http://127.0.0.1:{metrics}"
        daemon.reconfigure = lambda ptp4l: harness.write_file(
            daemon.directory, "smeard.yaml", config(self.directory, port, metrics, ptp4l, upstream))
        self.addCleanup(daemon.close)
        daemon.start()
        return daemon

    def wait_for_row(self, daemon, name, accept, timeout, what):
        row = harness.wait_for(lambda: (lambda r: r if r and accept(r) else None)(source_row(daemon, name)),
                               timeout, step=0.2)
        self.assertIsNotNone(row, f"{name} never {what} within {timeout} s: {source_row(daemon, name)}\n"
                                  f"{daemon.log()}")
        return row

    def test_refused_while_ptp4l_is_not_slave_and_the_upstream_serves(self):
        started = time.monotonic()
        upstream = harness.Chronyd(self.directory).start()
        self.addCleanup(upstream.stop)
        daemon = self.smeard(upstream.address)

        # The slave starts LISTENING and goes UNCALIBRATED once it picked the master (about 11 s
        # after it started): refused throughout, with ptp4l's state as the reason.
        row = self.wait_for_row(daemon, "system", lambda r: r["state"] == "refused" and "UNCALIBRATED" in r["why"],
                                ptp.START_TIMEOUT, "was refused for UNCALIBRATED")
        self.assertEqual(row["why"], UNCALIBRATED_WHY, daemon.log())
        seen = [(e["port_state"], e["synchronized"]) for e in ptp4l_events(daemon, self.slave_socket)]
        self.assertEqual({state for state, _ in seen} - {"unknown", "LISTENING", "UNCALIBRATED"}, set(), daemon.log())
        self.assertEqual({synchronized for _, synchronized in seen}, {"false"}, daemon.log())
        log(f"  smeard says UNCALIBRATED {time.monotonic() - started:.1f} s after this run started, having seen "
            f"{' then '.join(state for state, _ in seen)}, refused throughout")
        # A source ptp4l refuses is not waited for at start: the upstream is selected once locked.
        selected = harness.wait_for(lambda: (lambda r: r if r["stage"] == "synchronized" else None)(
            status(daemon)["reference"]), LOCK_TIMEOUT)
        self.assertTrue(selected, f"{status(daemon)['reference']}\n{daemon.log()}")
        self.assertEqual(selected["selected"], f"upstream({upstream.address})", daemon.log())
        self.assertEqual(source_row(daemon, upstream.address)["state"], "selected", daemon.log())
        self.assertEqual(source_row(daemon, "system")["why"], UNCALIBRATED_WHY, daemon.log())
        log(f"  UNCALIBRATED: system refused; the upstream selected {time.monotonic() - started:.1f} s after "
            f"this run started")
        served = harness.best_of(lambda: query(daemon), lambda f: f["delay"])
        self.assertEqual((served["leap"], served["stratum"], served["refid"]), (0, 3, b"\x7f\x00\x00\x01"),
                         f"{served}\n{daemon.log()}")
        self.assertLess(abs(served["offset"]), TOLERANCE + served["delay"] / 2, f"{served}\n{daemon.log()}")
        log(f"  UNCALIBRATED: served LI=0 stratum 3 refid 127.0.0.1, {served['offset'] * 1e6:+.0f} us off "
            f"(round trip {served['delay'] * 1e6:.0f} us)")
        text = smearctl_status(daemon)
        self.assertRegex(text, re.compile(r"^refused\s+system\s.*  " + re.escape(UNCALIBRATED_WHY) + "$", re.M),
                         f"{text}\n{daemon.log()}")
        self.assertRegex(text, re.compile(r"^selected\s+" + re.escape(upstream.address) + r"\s+2\s", re.M),
                         f"{text}\n{daemon.log()}")
        self.assertIn('smeard_source_state{type="system",source="system",state="refused"} 1', metrics_text(daemon),
                      daemon.log())
        events = ptp4l_events(daemon, self.slave_socket)
        self.assertTrue(events, daemon.log())
        self.assertEqual((events[-1]["source"], events[-1]["port_state"], events[-1]["synchronized"],
                          events[-1]["why"]), ("system", "UNCALIBRATED", "false", UNCALIBRATED_WHY), daemon.log())

        # The master dies: LISTENING, and the upstream serves on, never LI=3.
        querier = harness.Querier(daemon.port, interval=0.15)
        time.sleep(1)
        os.kill(self.master_pid, signal.SIGKILL)
        killed = time.monotonic()
        row = self.wait_for_row(daemon, "system", lambda r: "LISTENING" in r["why"], LISTENING_WITHIN,
                                "named LISTENING")
        took = time.monotonic() - killed
        self.assertEqual((row["state"], row["why"]), ("refused", LISTENING_WHY), daemon.log())
        self.assertEqual(ptp.pmc_port_state(self.slave_socket), "LISTENING", daemon.log())
        log(f"  master killed: smeard says LISTENING {took:.1f} s later")
        time.sleep(1)
        querier.check(self, daemon, "master killed", TOLERANCE, strata={3})
        text = smearctl_status(daemon)
        self.assertRegex(text, re.compile(r"^refused\s+system\s.*  " + re.escape(LISTENING_WHY) + "$", re.M),
                         f"{text}\n{daemon.log()}")
        self.assertEqual(ptp4l_events(daemon, self.slave_socket)[-1]["port_state"], "LISTENING", daemon.log())

        # SLAVE, from a fake ptp4l replaying the recorded reply edited to SLAVE: ptp4l is content,
        # and the system source is what the kernel says it is.
        fake_path = os.path.join(self.directory, "fake-ptp4l.sock")
        fake = ptp.FakePtp4l(fake_path, ptp.fixture_replies("slave")).start()
        self.addCleanup(fake.close)
        querier = harness.Querier(daemon.port, interval=0.15)
        daemon.reconfigure(fake_path)
        daemon.process.send_signal(signal.SIGHUP)
        self.assertTrue(harness.wait_for(lambda: daemon.events("config_reloaded"), 10), daemon.log())
        synchronized = harness.wait_for(
            lambda: [e for e in ptp4l_events(daemon, fake_path) if e["synchronized"] == "true"], 10)
        self.assertTrue(synchronized, f"no synchronized ptp4l_state for {fake_path}\n{daemon.log()}")
        self.assertEqual((synchronized[0]["source"], synchronized[0]["port_state"], synchronized[0]["why"]),
                         ("system", "SLAVE", ""), daemon.log())
        self.assertIn(ptp.PORT_DATA_SET, fake.requests, daemon.log())
        kernel_synchronized = harness.kernel_clock()[0]
        if kernel_synchronized:
            row = self.wait_for_row(daemon, "system", lambda r: r["state"] in ("selected", "candidate"), 10,
                                    "was usable")
        else:
            row = self.wait_for_row(daemon, "system", lambda r: "ptp4l" not in r["why"], 10, "stopped naming ptp4l")
            self.assertEqual((row["state"], row["why"]), ("unreachable", KERNEL_WHY), daemon.log())
        self.assertNotIn("ptp4l", row["why"], daemon.log())
        log(f"  fake ptp4l at SLAVE: ptp4l_state synchronized=true; system is {row['state']}"
            + (f" ({row['why']})" if row["why"] else ""))
        # The upstream was kept through the reload and served throughout; with a synchronized
        # kernel the system source may take over (stratum 1).
        time.sleep(2)
        querier.check(self, daemon, "reload to the fake ptp4l", TOLERANCE,
                      strata={3, 1} if kernel_synchronized else {3})
        kept = source_row(daemon, upstream.address)
        self.assertIn(kept["state"], {"selected", "candidate"} if kernel_synchronized else {"selected"}, daemon.log())
        # Kept, not opened afresh: its reach register went on through the reload.
        self.assertGreaterEqual(bin(kept["reach"]).count("1"), 6, f"{kept}\n{daemon.log()}")
        daemon.stop()
        log(f"  {time.monotonic() - started:.1f} s in the slave's namespace")


class Ptp4lReference(unittest.TestCase):
    def test_in_the_slave_namespace_of_a_ptp4l_pair(self):
        why = ptp.unavailable()
        if why is not None:
            self.fail(f"this test needs root, ip netns and linuxptp: {why}")
        harness.tool("chronyd", "chrony")
        started = time.monotonic()
        with ptp.Pair() as pair:
            pair.start_master()
            pair.start_slave()
            # At once, not once the slave is UNCALIBRATED: the upstream's lock then overlaps the
            # slave's 11 s to UNCALIBRATED, which the run inside waits for.
            log("")
            try:
                output = self.run_inside(pair)
            finally:
                # Before the pair deletes the namespace: whatever the inner run left there (a
                # chronyd, were it killed on a timeout). Every process there is this test's.
                self.kill_every_process_in(pair.namespaces["slave"])
            self.assertRegex(output, re.compile(r"test_refused_while_ptp4l_is_not_slave_and_the_upstream_serves "
                                                r"\(.*?\) \.\.\.[\s\S]*?^ok$", re.M), output)
            self.assertRegex(output, r"Ran 1 test in .*\n+OK\n", output)
            self.assertIsNotNone(pair.processes["master"].poll(), "the master ptp4l was not killed")
        log(f"  {time.monotonic() - started:.1f} s in all")

    def run_inside(self, pair):
        """Runs this file again in the slave's network namespace; its output, once it passed."""
        env = dict(os.environ, SMEARD_ITEST_PTP4L_NS="1", SMEARD_ITEST_PTP4L_SOCKET=pair.slave_socket,
                   SMEARD_ITEST_PTP4L_MASTER_PID=str(pair.processes["master"].pid),
                   SMEARD=harness.binary(harness.SMEARD), SMEARCTL=harness.binary(harness.SMEARCTL))
        script = os.path.abspath(__file__)
        command = [harness.tool("ip", "iproute2"), "netns", "exec", pair.namespaces["slave"], sys.executable, script,
                   "-v"]
        try:
            result = harness.run(command, timeout=INNER_TIMEOUT, env=env, cwd=os.path.dirname(script))
        except subprocess.TimeoutExpired as e:
            partial = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr or ""
            self.fail(f"inside the slave's namespace: not done after {INNER_TIMEOUT} s:\n{partial}")
        output = result.stdout + result.stderr
        log(output.rstrip())
        self.assertEqual(result.returncode, 0, f"inside the slave's namespace:\n{output}\n"
                                               f"ptp4l's slave:\n{pair.log('slave')}")
        return output

    @staticmethod
    def kill_every_process_in(namespace):
        found = subprocess.run([harness.tool("ip", "iproute2"), "netns", "pids", namespace],
                               capture_output=True, text=True, timeout=10)
        for pid in found.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def load_tests(loader, tests, pattern):
    return loader.loadTestsFromTestCase(Ptp4lInTheSlaveNamespace if INSIDE else Ptp4lReference)


if __name__ == "__main__":
    unittest.main()
