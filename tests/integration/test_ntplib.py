"""Python's ntplib (Debian's python3-ntplib) against smeard, NTP versions 2 to 4, IPv4 and IPv6."""

import struct
import unittest

import harness

try:
    import ntplib
except ImportError:  # the pyenv python on PATH lacks it; run with /usr/bin/python3
    ntplib = None

REFID = "SMRD"  # not in ntplib's table of well-known refids, so it shows up verbatim


class NtplibTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if ntplib is None:
            raise AssertionError("import ntplib failed: run with /usr/bin/python3 (apt-get install python3-ntplib)")
        port = harness.free_udp_port()
        cls.server = harness.Smeard([f"127.0.0.1:{port}", f"[::1]:{port}"], refid=REFID)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        stopped = cls.server.stop()
        if stopped["requests"] != stopped["replies"] or stopped["dropped"] != "0":
            raise AssertionError(f"every request here deserves a reply: {stopped}")

    def test_versions_2_3_4_over_ipv4_and_ipv6(self):
        client = ntplib.NTPClient()
        for host in ("127.0.0.1", "::1"):
            for version in (2, 3, 4):
                with self.subTest(host=host, version=version):
                    stats = harness.best_of(
                        lambda: client.request(host, version=version, port=self.server.port, timeout=2),
                        delay=lambda stats: stats.delay)
                    self.assertEqual(stats.version, version)
                    self.assertEqual(stats.mode, 4)
                    self.assertEqual(stats.stratum, 1)
                    self.assertEqual(stats.leap, 0)
                    self.assertLess(abs(stats.offset), 0.001)
                    self.assertGreaterEqual(stats.delay, 0)
                    self.assertLess(stats.delay, 0.1)
                    refid = harness.served_refid(REFID)
                    self.assertEqual(struct.pack("!I", stats.ref_id).rstrip(b"\0").decode(), refid)
                    # ntplib knows LOCL as ntpd's local clock driver.
                    self.assertEqual(ntplib.ref_id_to_text(stats.ref_id, stats.stratum),
                                     "uncalibrated local clock" if refid == "LOCL"
                                     else f"Unidentified reference source '{refid}'")
                    self.assertLessEqual(stats.recv_time, stats.tx_time)


if __name__ == "__main__":
    unittest.main()
