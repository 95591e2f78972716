"""deploy/systemd/smeard.service: systemd-analyze verify accepts it (with ExecStart pointing at
the binary built here), systemd-analyze security rates its exposure, and it keeps the promises
the README makes: port 123 with CAP_NET_BIND_SERVICE alone, as an unprivileged user, reload by
SIGHUP, the filesystem read-only."""

import os
import re
import signal
import socket
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
        # verify runs man(1) on each Documentation= page: the pages built beside this smeard.
        cls.manpath = os.path.join(cls.directory, "man")
        built = Path(harness.binary(harness.SMEARD)).resolve().parents[1] / "deploy/man"
        for page, section in (("smeard.8", "8"), ("smeard.yaml.5", "5"), ("smearctl.1", "1")):
            os.makedirs(os.path.join(cls.manpath, f"man{section}"), exist_ok=True)
            if (built / page).exists():
                os.symlink(built / page, os.path.join(cls.manpath, f"man{section}", page))

    def test_systemd_analyze_verify_accepts_it(self):
        result = harness.run([self.analyze, "verify", self.unit], env=dict(os.environ, MANPATH=self.manpath))
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
        self.assertEqual(d["ExecReload"], ["/bin/kill -HUP $MAINPID", "/bin/sleep 1"])
        self.assertIn("--foreground", d["ExecStart"][0])
        self.assertIn("--check-config", d["ExecStartPre"][0])
        self.assertTrue(d["SystemCallFilter"][0].startswith("@system-service"))
        self.assertEqual(set(d["RestrictAddressFamilies"][0].split()), {"AF_INET", "AF_INET6", "AF_UNIX"})
        self.assertEqual(d["Type"], ["notify"])
        # The SOCK refclock's directory, and bound before gpsd connects to it (README: systemd).
        self.assertEqual(d["RuntimeDirectory"], ["smeard"])
        self.assertEqual(d["Before"], ["gpsd.service"])


class NotifyProtocol(unittest.TestCase):
    """Type=notify as systemd runs it: NOTIFY_SOCKET names a datagram socket (a path, or "@name"
    in the abstract namespace), and smeard reports READY=1 once it serves, RELOADING=1 and
    READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM."""

    def receive(self, manager):
        try:
            return manager.recv(4096).decode()
        except socket.timeout:
            self.fail("smeard sent the service manager nothing within 5 s")

    def test_ready_reloading_stopping(self):
        directory = tempfile.mkdtemp(prefix="smeard-notify-")
        self.addCleanup(shutil.rmtree, directory, True)
        for name in (os.path.join(directory, "notify"), f"@smeard-test-{os.getpid()}"):
            with self.subTest(socket=name), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
                manager.bind("\0" + name[1:] if name.startswith("@") else name)
                manager.settimeout(5)
                server = harness.Smeard(env={"NOTIFY_SOCKET": name})
                self.addCleanup(server.close)
                server.start()
                ready = self.receive(manager)
                self.assertEqual(ready.splitlines(), ["READY=1", "STATUS=serving 1 listeners"])
                reply = harness.request(("127.0.0.1", server.port), harness.ntp_request())
                self.assertIsNotNone(reply, "READY=1 came before smeard answered")
                server.process.send_signal(signal.SIGHUP)
                self.assertEqual(self.receive(manager), "RELOADING=1")
                self.assertEqual(self.receive(manager).splitlines()[0], "READY=1")
                server.stop()
                self.assertEqual(self.receive(manager), "STOPPING=1")
                self.assertNotIn("notify_failed", server.log())

    def test_an_unusable_socket_is_a_warning(self):
        with harness.Smeard(env={"NOTIFY_SOCKET": "/nonexistent/notify"}) as server:
            self.assertTrue(harness.wait_for(lambda: server.events("notify_failed"), 5), server.log())
            self.assertIn("/nonexistent/notify", server.events("notify_failed")[0]["problem"])
            reply = harness.request(("127.0.0.1", server.port), harness.ntp_request())
            self.assertIsNotNone(reply)
            server.stop()


if __name__ == "__main__":
    unittest.main()
