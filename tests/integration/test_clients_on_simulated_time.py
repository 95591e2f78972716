"""Clients nobody here wrote measure what smeard serves on a simulated reference: a smear in the
middle of its window (chronyd under faketime, ntpdig), the 2036-02-07 NTP era rollover
(ntplib, ntpdig, chronyd) and a date past 2043 (chronyd).

chronyd runs under faketime with its clock moved by exactly what the true-UTC listener serves
minus the system clock (measured with ntplib first), so the offset it prints is the served
timescale minus simulated true UTC: the smear itself. faketime does not move kernel receive
timestamps; chronyd checks them against its own clock and uses its own reading instead, which
is why this works (smeard's own timestamps are kernel ones, so smeard is never faked here).

ntpdig (ntpsec 1.2) and ntplib read every timestamp in era 0 (1900-2036): past the rollover
they report the served instant minus exactly 2^32 s, which is what the wire carries. chronyd
resolves the era against its own clock, so it must see no jump at all."""

import json
import os
import re
import subprocess
import time
import unittest

import ntplib

import harness
from test_timescales import FIXTURES, expected_offset, rfc3339, unix

INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"
ERA = 2**32
ROLLOVER = unix("2036-02-07T06:28:16Z")
WRONG_BY = re.compile(r"^(\S+) System clock wrong by (-?\d+\.\d+) seconds", re.M)


def config(listeners, start, leap_file=None):
    """listeners: [(address, profile)]; one timescale per profile, named after it."""
    lines = ["listeners:"]
    for address, profile in listeners:
        lines += [f'  - address: "{address}"', f"    timescale: {profile}"]
    lines.append("timescales:")
    for profile in sorted({p for _, p in listeners}):
        lines.append(f"  {profile}: {{smear: {profile}}}")
    lines += ["reference:", "  type: simulated", f'  start: "{start}"', "  rate: 1", "  refid: GPS",
              "workers: 1", "metrics: {listen: off}"]
    if leap_file:
        lines += ["leapdb:", "  files:", f"    - {FIXTURES / leap_file}"]
    return "\n".join(lines) + "\n"


def daemon(listeners, start, leap_file=None):
    return harness.Smeard(addresses=[a for a, _ in listeners], text=config(listeners, start, leap_file))


def simulated_minus_system(port):
    """Served true UTC minus the system clock, in seconds (read in era 0), from the
    least-delayed of five ntplib samples."""
    reply = harness.best_of(lambda: ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2),
                            delay=lambda r: r.delay)
    return reply.offset


def chronyd_under_faketime(port, shift, samples=4):
    """Starts chronyd -Q with its clock moved by `shift` seconds; returns the process."""
    chronyd = harness.tool("chronyd", "chrony")
    faketime = harness.tool("faketime", "faketime")
    directive = f"server 127.0.0.1 port {port} iburst maxsamples {samples}"
    return subprocess.Popen([faketime, "-f", f"{shift:+.9f}", chronyd, "-Q", "-f", "/dev/null", "-t", "20", directive],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def chronyd_result(test, run):
    """chronyd's clock when it finished (POSIX seconds) and the offset it measured."""
    output = run.communicate(timeout=40)[0]
    test.assertEqual(run.returncode, 0, output)
    found = WRONG_BY.findall(output)
    test.assertEqual(len(found), 1, f"no 'System clock wrong by' line:\n{output}")
    return unix(found[0][0]), float(found[0][1]), output


class Chronyd(unittest.TestCase):
    def test_chronyd_measures_smears_mid_window_as_the_profiles_say(self):
        # Inserted 2016 and deleted 2029 leaps, each six hours before or after midnight:
        # linear and cosine before it, chrony's quadratic after it.
        nights = [("leap-seconds.list", "2017-01-01T00:00:00Z", +1, -6 * 3600, ["google", "ntpd"]),
                  ("negative-leap.list", "2029-07-01T00:00:00Z", -1, +6 * 3600, ["google", "chrony"])]
        for leap_file, midnight, sign, at, profiles in nights:
            leap = unix(midnight)
            with self.subTest(leap_file=leap_file):
                ports = {name: harness.free_udp_port() for name in ["none"] + profiles}
                listeners = [(f"127.0.0.1:{port}", name) for name, port in ports.items()]
                with daemon(listeners, rfc3339(leap + at), leap_file) as server:
                    shift = simulated_minus_system(ports["none"])
                    runs = {name: chronyd_under_faketime(ports[name], shift) for name in ["none"] + profiles}
                    for name, run in runs.items():
                        finished, measured, output = chronyd_result(self, run)
                        # chronyd's samples span its last four seconds; the smear moves < 50 us in them.
                        wanted = expected_offset(name, finished - 2, leap, sign)
                        self.assertGreater(abs(wanted) if name != "none" else 1, 0.2, "a smear well under way")
                        self.assertLess(abs(measured - wanted), 0.001,
                                        f"{name}: chronyd measured {measured:+.6f} s, the profile says {wanted:+.6f} s\n"
                                        f"{output}")
                    stopped = server.stop()
                    self.assertEqual(stopped["replies"], stopped["requests"], stopped)

    def test_chronyd_sees_no_jump_across_the_2036_era_rollover(self):
        port = harness.free_udp_port()
        with daemon([(f"127.0.0.1:{port}", "none")], "2036-02-07T06:28:13Z", "leap-seconds.list"):
            shift = simulated_minus_system(port)  # still era 0 here
            run = chronyd_under_faketime(port, shift, samples=6)
            started = time.time() + shift
            finished, measured, output = chronyd_result(self, run)
            self.assertLess(started, ROLLOVER - 0.5, "chronyd began before the rollover")
            self.assertGreaterEqual(finished, ROLLOVER + 1, f"and finished after it:\n{output}")
            self.assertLess(abs(measured), 0.001, output)

    def test_chronyd_is_served_2100_not_a_frozen_2043(self):
        port = harness.free_udp_port()
        with daemon([(f"127.0.0.1:{port}", "none")], "2100-01-01T00:00:00Z", "leap-seconds.list"):
            # 2100 is era 1: ntplib's era-0 reading is 2^32 s early.
            shift = simulated_minus_system(port) + ERA
            run = chronyd_under_faketime(port, shift)
            finished, measured, output = chronyd_result(self, run)
            self.assertTrue(output.lstrip().startswith("2100-01-01T00:00:0"), output)
            self.assertLess(abs(measured), 0.001, output)


class Ntplib(unittest.TestCase):
    def test_the_wire_carries_era_1_seconds_from_the_rollover_on(self):
        port = harness.free_udp_port()
        with daemon([(f"127.0.0.1:{port}", "none")], "2036-02-07T06:28:14Z", "leap-seconds.list") as server:
            before = simulated_minus_system(port)
            self.assertLess(time.time() + before, ROLLOVER, "asked before the rollover")
            harness.wait_for(lambda: time.time() + before > ROLLOVER + 0.5, timeout=5)
            after = simulated_minus_system(port)
            reply = ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2)
            # Era 1 second 0 is the rollover: the served instant minus 2^32 s, to the sample.
            self.assertLess(abs(after - (before - ERA)), 0.001, (before, after))
            self.assertLess(reply.tx_timestamp, 60, reply.tx_timestamp)
            self.assertEqual((reply.leap, reply.stratum), (0, 1))
            # smearctl resolves the era against its own clock, which is within 68 years.
            shown = harness.run([harness.binary(harness.SMEARCTL), "query", f"127.0.0.1:{port}"])
            self.assertEqual(shown.returncode, 0, shown.stderr)
            self.assertRegex(shown.stdout, r"server time\s+2036-02-07T06:28:(1[6-9]|2\d)\.")
            server.stop()


class NtpdigInPrivateNetwork(unittest.TestCase):
    """Runs only inside the namespace, where smeard owns port 123 on 127.0.0.1 to 127.0.0.3."""

    @classmethod
    def setUpClass(cls):
        cls.ntpdig_path = harness.tool("ntpdig", "ntpsec-ntpdig")
        harness.loopback_up()

    def ntpdig(self, host):
        result = harness.run([self.ntpdig_path, "-j", "-p", "4", "-g", "10", "-t", "2", host])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        return json.loads(result.stdout)

    def test_ntpdig_measures_a_smear_mid_window(self):
        leap = unix("2017-01-01T00:00:00Z")
        listeners = [("127.0.0.1:123", "none"), ("127.0.0.2:123", "google"), ("127.0.0.3:123", "ntpd")]
        with daemon(listeners, rfc3339(leap - 5 * 3600), "leap-seconds.list") as server:
            utc = self.ntpdig("127.0.0.1")
            self.assertEqual(utc["leap"], "add-leap", utc)  # true UTC announces the leap on its last day
            for address, name in listeners[1:]:
                host = address.rsplit(":", 1)[0]
                with self.subTest(profile=name):
                    reply = self.ntpdig(host)
                    true_now = time.time() + float(utc["offset"])
                    measured = float(reply["offset"]) - float(utc["offset"])
                    wanted = expected_offset(name, true_now, leap, +1)
                    self.assertGreater(abs(wanted), 0.2)
                    self.assertLess(abs(measured - wanted), 0.001,
                                    f"{name}: ntpdig measured {measured:+.6f} s, the profile says {wanted:+.6f} s")
                    self.assertEqual((reply["leap"], reply["stratum"]), ("no-leap", 1), reply)
            server.stop()

    def test_ntpdig_reads_era_1_as_exactly_one_era_early(self):
        with daemon([("127.0.0.1:123", "none")], "2036-02-07T06:28:14Z", "leap-seconds.list") as server:
            before = self.ntpdig("127.0.0.1")
            self.assertTrue(before["time"].startswith("2036-02-07T06:28:1"), before)
            shift = float(before["offset"])
            harness.wait_for(lambda: time.time() + shift > ROLLOVER + 0.5, timeout=5)
            after = self.ntpdig("127.0.0.1")
            self.assertTrue(after["time"].startswith("1900-01-01T00:00:0"), after)
            self.assertLess(abs(float(after["offset"]) - (shift - ERA)), 0.001, (before, after))
            self.assertEqual((after["leap"], after["stratum"]), ("no-leap", 1), after)
            server.stop()


class Ntpdig(unittest.TestCase):
    def test_ntpdig_in_a_private_network_namespace(self):
        harness.tool("ntpdig", "ntpsec-ntpdig")
        result = harness.run_in_private_network(__file__, timeout=120)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        self.assertRegex(output, r"Ran 2 tests.*\n+OK", output)


def load_tests(loader, tests, pattern):
    if INSIDE:
        return loader.loadTestsFromTestCase(NtpdigInPrivateNetwork)
    suite = unittest.TestSuite()
    for case in (Chronyd, Ntplib, Ntpdig):
        suite.addTests(loader.loadTestsFromTestCase(case))
    return suite


if __name__ == "__main__":
    unittest.main()
