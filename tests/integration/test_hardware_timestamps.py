"""`hardware_timestamps` on a veth pair between two network namespaces. veth stamps in software
only, so whether the interface is named or found by "*", smeard must start, log the fallback
with its reason, show software mode in /status and as smeard_hardware_timestamps, and serve a
real client (ntpdig, from the other namespace, through the veth) as before. A name that is not an
interface is an operator's typo: --check-config and the start both fail, naming file, line and key.

Needs root (ip netns), ip (iproute2) and ntpdig (ntpsec-ntpdig):
    cd tests/integration && /usr/bin/python3 -m unittest -v test_hardware_timestamps
"""

import json
import os
import re
import subprocess
import unittest
from pathlib import Path

import harness

SERVER_ADDRESS = "10.231.77.1"
CLIENT_ADDRESS = "10.231.77.2"
METRICS = "127.0.0.1:9466"  # inside the server's namespace
SOFTWARE_REASON = re.compile(
    r"^(?P<interface>\S+): the driver (has no hardware timestamps \(ethtool: software only\)|"
    r"does not say what it can stamp \(.*\)); using software stamps$")


def ip(*args):
    done = harness.run([harness.tool("ip", "iproute2"), *args])
    if done.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Namespaces:
    """A server and a client namespace joined by a veth pair; all gone again on close()."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.server, self.client = f"smeard-hw-s{tag}", f"smeard-hw-c{tag}"
        self.veth = f"hwts-s{tag}"  # at most 15 characters
        peer = f"hwts-c{tag}"
        for namespace in (self.server, self.client):
            ip("netns", "add", namespace)
            ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        ip("link", "add", self.veth, "type", "veth", "peer", "name", peer)
        for namespace, interface, address in ((self.server, self.veth, SERVER_ADDRESS),
                                              (self.client, peer, CLIENT_ADDRESS)):
            ip("link", "set", interface, "netns", namespace)
            ip("netns", "exec", namespace, "ip", "addr", "add", f"{address}/24", "dev", interface)
            ip("netns", "exec", namespace, "ip", "link", "set", interface, "up")

    def run(self, namespace, args, timeout=20):
        return harness.run([harness.tool("ip", "iproute2"), "netns", "exec", namespace, *args], timeout=timeout)

    def get(self, path):
        """smeard's metrics endpoint, from inside the server's namespace."""
        script = ("import sys, urllib.request; "
                  "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        done = self.run(self.server, ["/usr/bin/python3", "-c", script, f"http://{METRICS}{path}"])
        if done.returncode != 0:
            raise AssertionError(f"GET {path}: {done.stderr}")
        return done.stdout

    def close(self):
        for namespace in (self.server, self.client):
            subprocess.run([harness.tool("ip", "iproute2"), "netns", "del", namespace],
                           capture_output=True, timeout=20)


def config(hardware_timestamps):
    return harness.config_text([f"{SERVER_ADDRESS}:123"], refid="GPS", workers=1, metrics=METRICS) + \
        f"hardware_timestamps: {hardware_timestamps}\n"


class HardwareTimestampsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("ip netns needs root")
        cls.ntpdig = harness.tool("ntpdig", "ntpsec-ntpdig")
        cls.namespaces = Namespaces()

    @classmethod
    def tearDownClass(cls):
        cls.namespaces.close()

    def smeard(self, hardware_timestamps):
        ns = self.namespaces
        return harness.Smeard(addresses=[f"{SERVER_ADDRESS}:123"], text=config(hardware_timestamps),
                              wrapper=[harness.tool("ip", "iproute2"), "netns", "exec", ns.server])

    def check_software_fallback(self, daemon):
        ns = self.namespaces
        logged = daemon.events("hardware_timestamps")
        self.assertEqual(len(logged), 1, daemon.log())  # once, for the veth only (never lo)
        self.assertEqual(logged[0]["interface"], ns.veth)
        self.assertEqual(logged[0]["mode"], "software")
        self.assertEqual(logged[0]["level"], "warning")
        match = SOFTWARE_REASON.match(logged[0]["reason"])
        self.assertIsNotNone(match, logged[0]["reason"])
        self.assertEqual(match["interface"], ns.veth)

        rows = json.loads(ns.get("/status"))["hardware_timestamps"]
        self.assertEqual([(r["interface"], r["mode"], r["reason"]) for r in rows],
                         [(ns.veth, "software", logged[0]["reason"])])
        self.assertGreater(rows[0]["ifindex"], 0)
        metrics = ns.get("/metrics")
        self.assertIn(f'smeard_hardware_timestamps{{interface="{ns.veth}",mode="software"}} 1\n', metrics)
        self.assertNotIn('mode="hardware"', metrics)

        # A real client through the veth still gets time, from this machine's clock.
        done = ns.run(ns.client, [self.ntpdig, "-j", "-p", "4", "-g", "10", "-t", "2", SERVER_ADDRESS])
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr + daemon.log())
        reply = json.loads(done.stdout)
        self.assertEqual(reply["stratum"], 1)
        self.assertLess(abs(reply["offset"]), 0.05, reply)

    def test_named_veth_falls_back_to_software_stamps(self):
        with self.smeard(f"[{self.namespaces.veth}]") as daemon:
            self.check_software_fallback(daemon)
            daemon.stop()

    def test_every_interface_skips_loopback_and_falls_back_on_veth(self):
        with self.smeard('"*"') as daemon:
            self.check_software_fallback(daemon)
            daemon.stop()

    def test_an_interface_that_is_not_there_is_an_error(self):
        ns = self.namespaces
        daemon = self.smeard(f"[{ns.veth}, nope0]")
        try:
            lines = Path(daemon.config).read_text().splitlines()
            line = next(i for i, text in enumerate(lines, 1) if text.startswith("hardware_timestamps:"))
            column = lines[line - 1].index("nope0") + 1
            expected = f"{daemon.config}:{line}:{column}: hardware_timestamps[1]: " \
                       "no network interface named 'nope0' (ip link lists those there are)"
            checked = ns.run(ns.server, [harness.binary(harness.SMEARD), "--check-config", daemon.config])
            self.assertEqual(checked.returncode, 1, checked.stdout + checked.stderr)
            self.assertIn(expected, checked.stderr)
            started = ns.run(ns.server, [harness.binary(harness.SMEARD), "--config", daemon.config])
            self.assertEqual(started.returncode, 1, started.stderr)
            failed = [harness.parse_log_line(l) for l in started.stderr.splitlines()
                      if "event=hardware_timestamps_failed" in l]
            self.assertEqual([f["problem"] for f in failed], [expected], started.stderr)
            self.assertNotIn("event=listening", started.stderr)
        finally:
            daemon.close()


if __name__ == "__main__":
    unittest.main()
