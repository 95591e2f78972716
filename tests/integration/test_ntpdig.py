"""ntpsec's ntpdig against smeard. ntpdig only talks to port 123, so the checks run in a private
network namespace (unshare --net) where smeard can own 127.0.0.1:123 and [::1]:123 without
touching the host's port 123. The outer test re-runs this file inside the namespace.
"""

import json
import os
import unittest

import harness

INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"


class NtpdigInPrivateNetwork(unittest.TestCase):
    """Runs only inside the namespace."""

    @classmethod
    def setUpClass(cls):
        cls.ntpdig = harness.tool("ntpdig", "ntpsec-ntpdig")
        harness.loopback_up()
        cls.server = harness.Smeard(["127.0.0.1:123", "[::1]:123"], refid="GPS", workers=1)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        cls.queries = 0

    def ntpdig_json(self, host):
        # Eight samples 10 ms apart; ntpdig reports the one with the smallest synchronization
        # distance (delay/2 + dispersion), as NTP clients do, so a busy machine does not fail this.
        result = harness.run([self.ntpdig, "-j", "-p", "8", "-g", "10", "-t", "2", host])
        type(self).queries += 8
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return json.loads(result.stdout)

    def test_ipv4_and_ipv6(self):
        for host in ("127.0.0.1", "::1"):
            with self.subTest(host=host):
                reply = self.ntpdig_json(host)
                self.assertEqual(reply["ip"], host, reply)
                self.assertEqual(reply["stratum"], 1, reply)
                self.assertEqual(reply["leap"], "no-leap", reply)
                self.assertLess(abs(float(reply["offset"])), 0.001, reply)
                self.assertIs(reply["adjusted"], False, reply)

    @classmethod
    def tearDownClass(cls):
        # Nothing else listens in this namespace: the answers must have been smeard's.
        stopped = cls.server.stop()
        if int(stopped["replies"]) < cls.queries:
            raise AssertionError(f"smeard sent {stopped['replies']} replies for {cls.queries} ntpdig samples")


class Ntpdig(unittest.TestCase):
    def test_ntpdig_in_a_private_network_namespace(self):
        harness.tool("ntpdig", "ntpsec-ntpdig")
        result = harness.run_in_private_network(__file__)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        self.assertIn("test_ipv4_and_ipv6", output)
        self.assertRegex(output, r"Ran 1 test.*\n+OK", output)


def load_tests(loader, tests, pattern):
    return loader.loadTestsFromTestCase(NtpdigInPrivateNetwork if INSIDE else Ntpdig)


if __name__ == "__main__":
    unittest.main()
