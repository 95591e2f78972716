"""The system clock as the reference: replies claim what the kernel says about its clock and no
more. Whether the kernel here says synchronized (something disciplines the clock) or not (as on
most test machines), the header fields, /readyz, the metrics and what chronyd makes of the
server must follow it; a local stratum is served only when configured."""

import re
import subprocess
import unittest
import urllib.error
import urllib.request

import harness

MAX_DISPERSION = 16.0  # RFC 5905 MAXDISP: what an unsynchronized reply claims


def server(local_stratum=None):
    port, metrics = harness.free_udp_port(), harness.free_tcp_port()
    text = harness.config_text([f"127.0.0.1:{port}"], refid="PPS", workers=1, metrics=f"127.0.0.1:{metrics}",
                               local_stratum=local_stratum)
    daemon = harness.Smeard([f"127.0.0.1:{port}"], text=text)
    daemon.metrics_url = f"http://127.0.0.1:{metrics}"
    return daemon


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def header(daemon):
    reply = harness.request(("127.0.0.1", daemon.port), harness.ntp_request())
    assert reply is not None, "no reply"
    fields = harness.decode(reply)
    fields["root_dispersion"] = int.from_bytes(reply[8:12], "big") / 65536
    return fields


class SystemReference(unittest.TestCase):
    def test_replies_follow_the_kernel(self):
        synchronized, max_error, _ = harness.kernel_clock()
        with server() as daemon:
            fields = header(daemon)
            status, body = get(daemon.metrics_url + "/readyz")
            metrics = get(daemon.metrics_url + "/metrics")[1]
            if synchronized:
                self.assertEqual((fields["leap"], fields["stratum"], fields["refid"]), (0, 1, b"PPS"), fields)
                # The kernel's maximum error, plus what 15 ppm adds within the second since it was read.
                self.assertGreaterEqual(fields["root_dispersion"], max_error - 0.0001)
                self.assertLess(fields["root_dispersion"], max_error + 0.002)
                self.assertEqual(status, 200, body)
                self.assertIn('smeard_reference_stage{type="system",stage="synchronized"} 1', metrics)
            else:
                # Never stratum 1 with zero dispersion: unsynchronized, and every field says so.
                self.assertEqual((fields["leap"], fields["stratum"], fields["refid"]), (3, 16, b""), fields)
                self.assertEqual(fields["root_dispersion"], MAX_DISPERSION)
                self.assertEqual(status, 503)
                self.assertIn("not ready: the reference (system) is unsynchronized", body)
                self.assertIn('smeard_reference_stage{type="system",stage="unsynchronized"} 1', metrics)
                self.assertIn('smeard_source_state{type="system",source="system",state="unreachable"} 1', metrics)
                self.assertTrue(daemon.events("system_clock_unsynchronized"), daemon.log())
                stage = daemon.events("reference_stage")
                self.assertEqual([e["stage"] for e in stage], ["unsynchronized"], daemon.log())
            daemon.stop()

    def test_chronyd_will_not_synchronize_to_an_unsynchronized_server(self):
        if harness.kernel_clock()[0]:
            self.skipTest("the kernel clock here is synchronized; test_replies_follow_the_kernel covers it")
        chronyd = harness.tool("chronyd", "chrony")
        with server() as daemon:
            run = harness.run([chronyd, "-Q", "-f", "/dev/null", "-t", "8",
                               f"server 127.0.0.1 port {daemon.port} iburst maxsamples 4"], timeout=30)
            output = run.stdout + run.stderr
            self.assertIsNone(re.search(r"System clock wrong by", output), output)
            self.assertIn("Timeout reached", output)
            # It was answered, and refused what it was told.
            stopped = daemon.stop()
            self.assertGreaterEqual(int(stopped["replies"]), 2, stopped)

    def test_a_local_stratum_is_served_only_when_configured(self):
        synchronized = harness.kernel_clock()[0]
        with server(local_stratum=7) as daemon:
            fields = header(daemon)
            status, body = get(daemon.metrics_url + "/readyz")
            if synchronized:
                self.assertEqual((fields["leap"], fields["stratum"], fields["refid"]), (0, 1, b"PPS"), fields)
            else:
                # chrony's `local stratum 7`: the local clock, named 127.127.1.1, ready to serve.
                self.assertEqual((fields["leap"], fields["stratum"], fields["refid"]), (0, 7, bytes([127, 127, 1, 1])))
                self.assertLess(fields["root_dispersion"], 0.01)  # 15 ppm since smeard started
                self.assertIn('smeard_reference_stage{type="system",stage="local"} 1',
                              get(daemon.metrics_url + "/metrics")[1])
            self.assertEqual(status, 200, body)
            status_text = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", daemon.metrics_url]).stdout
            self.assertRegex(status_text, r"Reference\s+: system, (synchronized|LOCAL)")
            self.assertRegex(status_text, r"\n(selected|unreachable)\s+system\s+0\s+1\s+")
            daemon.stop()


if __name__ == "__main__":
    unittest.main()
