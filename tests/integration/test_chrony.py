"""chronyd, as a client, measures smeard's clock against the same system clock: ~0 offset.

chronyd -Q only prints the offset. In that mode (checked with strace on chrony 4.3) it opens
no command port, no NTP server port and no pidfile, and -f /dev/null keeps it from reading
/etc/chrony/chrony.conf, so it cannot clash with a chronyd the system may be running. An
explicit `pidfile` directive would make it worse: it drops to the _chrony user and then
cannot remove the file.
"""

import re
import subprocess
import unittest

import harness

WRONG_BY = re.compile(r"System clock wrong by (-?\d+\.\d+) seconds")


class ChronyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chronyd = harness.tool("chronyd", "chrony")
        port = harness.free_udp_port()
        cls.server = harness.Smeard([f"127.0.0.1:{port}", f"[::1]:{port}"])
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    def test_chronyd_measures_under_a_millisecond_over_ipv4_and_ipv6(self):
        # Both in parallel: each takes about four seconds (iburst, four samples).
        runs = {}
        for host in ("127.0.0.1", "::1"):
            directive = f"server {host} port {self.server.port} iburst maxsamples 4"
            runs[host] = subprocess.Popen([self.chronyd, "-Q", "-f", "/dev/null", "-t", "20", directive],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)
        outputs = {host: run.communicate(timeout=40)[0] for host, run in runs.items()}
        for host, run in runs.items():
            with self.subTest(host=host):
                output = outputs[host]
                self.assertEqual(run.returncode, 0, output)
                found = WRONG_BY.findall(output)
                self.assertEqual(len(found), 1, f"no 'System clock wrong by' line:\n{output}")
                self.assertLess(abs(float(found[0])), 0.001, output)

        stopped = self.server.stop()
        # The samples came from smeard (at least one per chronyd), and each request got its reply.
        self.assertGreaterEqual(int(stopped["replies"]), 2, stopped)
        self.assertEqual(stopped["replies"], stopped["requests"], stopped)


if __name__ == "__main__":
    unittest.main()
