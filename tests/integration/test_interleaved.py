"""Interleaved mode (RFC 9769) with a real client: chronyd with `xleave`, as a daemon that never
touches the clock (-x), asks smeard on two listeners, one per timescale, and `chronyc ntpdata`
must report `Interleaved : Yes` for both, and over NTS `Authenticated : Yes` as well. With
`interleaved: false` the same chronyd stays in basic mode. The offsets it measures stay within
100 µs: the same clock on both sides."""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness

CONFIG = """\
listeners:
  - address: "127.0.0.1:{smeared}"
    timescale: smeared
  - address: "127.0.0.1:{utc}"
    timescale: utc
timescales:
  smeared:
    smear: google
  utc:
    smear: none
reference:
  type: system
  refid: GPS
  unsynchronized: {{local_stratum: 1}}
workers: 2
metrics: {{listen: "127.0.0.1:{metrics}"}}
{extra}"""


class ChronydClient:
    """chronyd polling one smeard listener every second (minpoll 0) in interleaved mode, with a
    command socket for chronyc; -x: it never touches the clock. One per listener: chronyd takes
    two servers on one address as one source."""

    def __init__(self, directory, port, options="", directives=()):
        self.socket = os.path.join(directory, f"chronyd-{port}.sock")
        conf = os.path.join(directory, f"chronyd-{port}.conf")
        lines = [f"server 127.0.0.1 port {port} minpoll 0 maxpoll 0 xleave iburst {options}", *directives,
                 "port 0", f"bindcmdaddress {self.socket}", "cmdport 0", f"pidfile {directory}/client-{port}.pid",
                 f"driftfile {directory}/client-{port}.drift", ""]
        with open(conf, "w") as f:
            f.write("\n".join(lines))
        # -u root: chronyd would drop to _chrony and then could not make its socket in our directory.
        self.process = subprocess.Popen([harness.tool("chronyd", "chrony"), "-x", "-d", "-u", "root", "-f", conf],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)

    def ntpdata(self):
        result = subprocess.run([harness.tool("chronyc", "chrony"), "-h", self.socket, "-n", "ntpdata"],
                                capture_output=True, text=True, timeout=10)
        return result.stdout + result.stderr

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


def report(text):
    """chronyc ntpdata's one block as {field: value}."""
    return dict(re.findall(r"^(\w[\w ]*?)\s*:\s*(.*)$", text, re.M))


class InterleavedTest(unittest.TestCase):
    def serve(self, extra=""):
        smeared, utc, metrics = harness.free_udp_port(), harness.free_udp_port(), harness.free_tcp_port()
        server = harness.Smeard([f"127.0.0.1:{smeared}", f"127.0.0.1:{utc}"],
                                text=CONFIG.format(smeared=smeared, utc=utc, metrics=metrics, extra=extra))
        server.start()
        self.addCleanup(server.close)
        clients = {port: ChronydClient(server.directory, port) for port in (smeared, utc)}
        for client in clients.values():
            self.addCleanup(client.stop)
        return server, clients, f"http://127.0.0.1:{metrics}"

    def wait_for_reports(self, clients, interleaved):
        """Each chronyd's report once it has had six replies and shows `interleaved`."""
        deadline = time.monotonic() + 30
        while True:
            blocks = {port: report(client.ntpdata()) for port, client in clients.items()}
            if all(int(b.get("Total RX", "0")) >= 6 and (b.get("Interleaved") == "Yes") == interleaved
                   for b in blocks.values()):
                return blocks
            if time.monotonic() > deadline:
                self.fail(f"chronyc ntpdata after 30 s:\n{blocks}")
            time.sleep(0.5)

    def test_chronyd_xleave_is_answered_in_interleaved_mode_on_both_timescales(self):
        server, clients, metrics = self.serve()
        blocks = self.wait_for_reports(clients, interleaved=True)
        for port, block in blocks.items():
            with self.subTest(port=port):
                self.assertEqual(int(block["Remote port"]), port, block)
                self.assertEqual(block["Mode"], "Server", block)
                self.assertEqual(block["Stratum"], "1", block)
                # The same clock on both sides: about no offset, and no more than the round trip.
                self.assertLess(abs(float(block["Offset"].split()[0])), 0.0001, block)
        values = harness.scrape(metrics)
        self.assertGreater(harness.total(values, "smeard_interleaved_replies_total"), 0)
        self.assertGreater(harness.total(values, "smeard_tx_timestamps_total"), 0)

    def test_chronyd_xleave_over_nts_is_answered_in_interleaved_mode(self):
        # NTS (RFC 8915) authenticates the interleaved reply's transmit timestamp as any other.
        from test_nts import make_pki
        directory = tempfile.mkdtemp(prefix="smeard-xleave-nts-")
        self.addCleanup(shutil.rmtree, directory, True)
        ca, certificate, key = make_pki(directory)
        cookie_key = harness.write_file(directory, "cookie.key", os.urandom(32).hex() + "\n")
        ke = harness.free_tcp_port()
        nts = (f"nts:\n  certificate: {certificate}\n  private_key: {key}\n  cookie_key_file: {cookie_key}\n"
               f"  listeners:\n    - {{address: \"127.0.0.1:{ke}\", timescale: smeared}}\n")
        smeared, utc, metrics = harness.free_udp_port(), harness.free_udp_port(), harness.free_tcp_port()
        server = harness.Smeard([f"127.0.0.1:{smeared}", f"127.0.0.1:{utc}"],
                                text=CONFIG.format(smeared=smeared, utc=utc, metrics=metrics, extra=nts),
                                ready_events={"nts_ke_listening": 1})
        server.start()
        self.addCleanup(server.close)
        client = ChronydClient(server.directory, smeared, f"nts ntsport {ke}",
                               [f"ntstrustedcerts {ca}", f"ntsdumpdir {directory}"])
        self.addCleanup(client.stop)
        block = self.wait_for_reports({smeared: client}, interleaved=True)[smeared]
        self.assertEqual(block["Authenticated"], "Yes", block)
        self.assertLess(abs(float(block["Offset"].split()[0])), 0.0001, block)
        values = harness.scrape(f"http://127.0.0.1:{metrics}")
        self.assertGreater(harness.total(values, "smeard_interleaved_replies_total", timescale="smeared"), 0)
        self.assertEqual(harness.total(values, "smeard_nts_requests_total", outcome="nak"), 0)

    def test_interleaved_false_keeps_chronyd_in_basic_mode(self):
        server, clients, metrics = self.serve("interleaved: false\n")
        blocks = self.wait_for_reports(clients, interleaved=False)
        for block in blocks.values():
            self.assertEqual(block["Interleaved"], "No", block)
        self.assertEqual(harness.total(harness.scrape(metrics), "smeard_interleaved_replies_total"), 0)


if __name__ == "__main__":
    unittest.main()
