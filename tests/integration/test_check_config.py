"""`smeard --check-config` is the start without the sockets: every configuration it accepts
starts, and every one the start refuses it refuses, with the same problem named at the same
file and line. It takes nothing a running smeard holds (a SOCK refclock's socket, a stored NTS
session)."""

import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import harness

LEAP_FILE = Path(__file__).resolve().parents[1] / "unit/leapdb/fixtures/leap-seconds.list"


def fnv1a(name):
    """The NTS cookie id of a timescale (nts::timescale_id): FNV-1a, 32 bits."""
    value = 2166136261
    for byte in name.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def numbered(text):
    return "\n".join(f"{n:3}  {line}" for n, line in enumerate(text.splitlines(), 1))


class CheckIsTheStart(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.TemporaryDirectory(prefix="smeard-itest-")
        self.addCleanup(self.directory.cleanup)
        self.port = harness.free_udp_port()

    def config(self, timescales=None, reference=None, extra=""):
        timescales = timescales or {"utc": "{smear: none}"}
        name = next(iter(timescales))
        lines = ["listeners:", f'  - address: "127.0.0.1:{self.port}"', f"    timescale: {name}", "timescales:"]
        lines += [f"  {n}: {spec}" for n, spec in timescales.items()]
        lines += ["reference:"] + [f"  {line}" for line in (reference or ["type: system",
                                                                           "unsynchronized: {local_stratum: 1}"])]
        lines += ["metrics: {listen: off}", "workers: 1"]
        return "\n".join(lines) + "\n" + extra

    def both(self, text):
        path = harness.write_file(self.directory.name, "smeard.yaml", text)
        checked = harness.run([harness.binary(harness.SMEARD), "--check-config", path], timeout=10)
        try:
            started = harness.run([harness.binary(harness.SMEARD), "--config", path], timeout=10)
        except subprocess.TimeoutExpired:
            started = None  # it served: only a configuration --check-config accepted may
        return path, checked, started

    def assert_both_refuse(self, text, line, key, fragment):
        path, checked, started = self.both(text)
        context = f"\n{numbered(text)}\n--check-config printed:\n{checked.stdout}{checked.stderr}"
        self.assertIsNotNone(started, "the start served" + context)
        context += f"\nthe start printed:\n{started.stderr}"
        pattern = re.compile(re.escape(f"{path}:{line}:") + r"\d+: " + re.escape(f"{key}: ") + r".*" + re.escape(fragment))
        for name, result in (("--check-config", checked), ("the start", started)):
            self.assertEqual(result.returncode, 1, f"{name}{context}")
            self.assertRegex(result.stderr, pattern, f"{name}{context}")
        self.assertEqual(checked.stdout, "", context)
        print(f"\n  both refuse: {pattern.search(checked.stderr).group(0)}")

    def test_a_rehearsal_within_a_smear_window_of_a_real_leap(self):
        text = self.config({"rehearse": '{smear: google, rehearsal: {leap_at: "2017-01-01T06:00:00Z"}}'},
                           extra=f"leapdb: {{files: [{LEAP_FILE}]}}\n")
        self.assert_both_refuse(text, 5, "timescales.rehearse.rehearsal.leap_at",
                                "the leap at the end of 2016-12-31 and the leap at 2017-01-01T06:00:00Z are closer "
                                "than the 'google' smear window (86400 s)")

    def test_two_timescales_with_one_nts_cookie_id(self):
        first, second = "ts412789", "ts649192"
        self.assertEqual(fnv1a(first), fnv1a(second))
        text = self.config({first: "{smear: none}", second: "{smear: google}"})
        self.assert_both_refuse(text, 6, f"timescales.{second}", f"its NTS cookie id is the same as {first}'s")

    def test_a_sock_refclock_in_a_missing_directory(self):
        text = self.config(reference=["type: sock", "path: /nonexistent/dir/x.sock"])
        self.assert_both_refuse(text, 8, "reference.path", "/nonexistent/dir")

    def test_a_user_smeard_cannot_become(self):
        text = self.config(extra="user: no-such-user-here\n")
        fragment = "no user 'no-such-user-here'" if os.geteuid() == 0 else "cannot change user without root"
        self.assert_both_refuse(text, 11, "user", fragment)

    def test_an_xdp_interface_that_does_not_exist_is_a_warning_as_the_start_falls_back(self):
        text = self.config().replace(f'"127.0.0.1:{self.port}"',
                                     f'"127.0.0.1:{self.port}"\n    xdp: {{interface: smeard-none7}}', 1)
        path = harness.write_file(self.directory.name, "smeard.yaml", text)
        checked = harness.run([harness.binary(harness.SMEARD), "--check-config", path], timeout=10)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertRegex(checked.stderr, re.escape(f"{path}:3:") + r"\d+: listeners\[0\]\.xdp\.interface: no interface "
                         r"named smeard-none7")
        with harness.Smeard(addresses=[f"127.0.0.1:{self.port}"], text=text) as server:
            self.assertEqual(harness.header(server.port)["stratum"], 1)
            [fallback] = server.events("xdp_fallback")
            self.assertEqual(fallback["reason"], "no_interface")
            server.stop()

    def test_what_it_accepts_starts(self):
        text = self.config({"utc": "{smear: none}", "google": "{smear: google}"},
                           extra=f"leapdb: {{files: [{LEAP_FILE}]}}\n")
        path = harness.write_file(self.directory.name, "smeard.yaml", text)
        checked = harness.run([harness.binary(harness.SMEARD), "--check-config", path], timeout=10)
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertRegex(checked.stdout, rf"^{re.escape(path)}: ok \(1 listeners, 2 timescales, 27 leaps\)\n$")
        with harness.Smeard(addresses=[f"127.0.0.1:{self.port}"], text=text) as server:
            self.assertEqual(harness.header(server.port)["stratum"], 1)
            server.stop()


class CheckTakesNothing(unittest.TestCase):
    def test_a_running_smeards_sock_socket_and_stored_nts_sessions_are_left_alone(self):
        with tempfile.TemporaryDirectory(prefix="smeard-itest-") as directory:
            sock = os.path.join(directory, "refclock.sock")
            dump = os.path.join(directory, "nts")
            os.mkdir(dump)
            port = harness.free_udp_port()
            text = "\n".join([
                "listeners:", f'  - address: "127.0.0.1:{port}"', "    timescale: utc",
                "timescales: {utc: {smear: none}}",
                "reference:", "  sources:",
                f"    - {{type: sock, path: {sock}}}",
                "    - {type: upstream, servers: [{server: 127.0.0.1, nts: true}], nts_dump_dir: " + dump + "}",
                "  minsources: 1",
                "metrics: {listen: off}", "workers: 1", ""])
            with harness.Smeard(addresses=[f"127.0.0.1:{port}"], text=text) as server:
                bound = os.stat(sock)
                # A session stored by an earlier run: the check must not consume it.
                session = os.path.join(dump, "127.0.0.1_4460.nts")
                Path(session).write_text("stored\n")
                checked = harness.run([harness.binary(harness.SMEARD), "--check-config", server.config], timeout=10)
                self.assertEqual(checked.returncode, 0, checked.stderr)
                after = os.stat(sock)
                self.assertEqual((after.st_dev, after.st_ino), (bound.st_dev, bound.st_ino),
                                 "the check replaced the running smeard's socket")
                self.assertEqual(Path(session).read_text(), "stored\n")
                self.assertIsNone(server.process.poll())
                server.stop()

    def test_an_shm_segment_is_never_created(self):
        """Run as root, creating unit 0 would leave a 0600 root segment the service's user cannot
        attach: the check attaches a segment that exists and creates none."""
        unit = 9
        key = 0x4E545030 + unit

        def exists():
            with open("/proc/sysvipc/shm") as table:
                return any(line.split()[0] == str(key) for line in list(table)[1:])

        if exists():
            self.skipTest(f"SHM key {key:#x} is in use on this machine")
        with tempfile.TemporaryDirectory(prefix="smeard-itest-") as directory:
            text = "\n".join(["listeners:", f'  - address: "127.0.0.1:{harness.free_udp_port()}"',
                              "    timescale: utc", "timescales: {utc: {smear: none}}",
                              f"reference: {{type: shm, unit: {unit}}}", "metrics: {listen: off}", ""])
            path = harness.write_file(directory, "smeard.yaml", text)
            checked = harness.run([harness.binary(harness.SMEARD), "--check-config", path], timeout=10)
            self.assertEqual(checked.returncode, 0, checked.stderr)
            self.assertFalse(exists(), "--check-config created the segment")


if __name__ == "__main__":
    unittest.main()
