"""deploy/systemd/smeard.service: systemd-analyze verify accepts it (with ExecStart pointing at
the binary built here), systemd-analyze security rates its exposure, and it keeps the promises
the README makes: port 123 with CAP_NET_BIND_SERVICE alone, as an unprivileged user, reload by
SIGHUP, the filesystem read-only."""

import re
import shutil
import tempfile
import unittest
from pathlib import Path

import harness

UNIT = Path(__file__).resolve().parents[2] / "deploy/systemd/smeard.service"


def directives(text):
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


class SystemdUnitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.analyze = harness.tool("systemd-analyze", "systemd")
        cls.directory = tempfile.mkdtemp(prefix="smeard-unit-")
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        text = UNIT.read_text().replace("/usr/bin/smeard", harness.binary(harness.SMEARD))
        cls.unit = harness.write_file(cls.directory, "smeard.service", text)

    def test_systemd_analyze_verify_accepts_it(self):
        result = harness.run([self.analyze, "verify", self.unit])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(result.stderr.strip(), "", "systemd-analyze verify warned")

    def test_systemd_analyze_security_rates_it_ok(self):
        result = harness.run([self.analyze, "security", "--offline=true", "--no-pager", self.unit])
        found = re.search(r"Overall exposure level for smeard.service: (\d+\.\d+) (\S+)", result.stdout)
        self.assertIsNotNone(found, result.stdout + result.stderr)
        print(f"\n  systemd-analyze security: exposure {found.group(1)} {found.group(2)}")
        self.assertLessEqual(float(found.group(1)), 3.0, result.stdout)

    def test_the_unit_keeps_its_promises(self):
        d = directives(UNIT.read_text())
        self.assertEqual(d["User"], ["smeard"])
        self.assertEqual(d["AmbientCapabilities"], ["CAP_NET_BIND_SERVICE"])
        self.assertEqual(d["CapabilityBoundingSet"], ["CAP_NET_BIND_SERVICE"])
        self.assertEqual(d["NoNewPrivileges"], ["yes"])
        self.assertEqual(d["ProtectSystem"], ["strict"])
        self.assertEqual(d["PrivateTmp"], ["yes"])
        self.assertEqual(d["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertIn("--foreground", d["ExecStart"][0])
        self.assertIn("--check-config", d["ExecStartPre"][0])
        self.assertTrue(d["SystemCallFilter"][0].startswith("@system-service"))
        self.assertEqual(set(d["RestrictAddressFamilies"][0].split()), {"AF_INET", "AF_INET6", "AF_UNIX"})


if __name__ == "__main__":
    unittest.main()
