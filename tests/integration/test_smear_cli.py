"""smearctl smear, unsmear and plot: the numbers each preset serves around the 2016-12-31 leap
and a negative one, the inverse (also of what a running smeard served, asked with ntplib), and
a plot an operator can read."""

import calendar
import json
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone
from pathlib import Path

import ntplib

import harness

FIXTURES = harness.REPO / "tests/unit/leapdb/fixtures"


def smearctl(*args):
    return harness.run([harness.binary(harness.SMEARCTL), *args], timeout=30)


def at(profile, leap, time, *extra):
    result = smearctl("smear", "--profile", profile, "--leap", leap, "--at", time, "--json", *extra)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 1, rows
    return rows[0]


class Smear(unittest.TestCase):
    def test_known_values(self):
        self.assertAlmostEqual(at("google", "2016-12-31", "2016-12-31T18:00:00Z")["offset_s"], -21600 / 86401, places=9)
        self.assertAlmostEqual(at("aws", "2016-12-31", "2016-12-31T18:00:00Z")["offset_s"], -21600 / 86401, places=9)
        self.assertAlmostEqual(at("chrony", "2016-12-31", "2017-01-01T06:00:00Z")["offset_s"], 0.76112128, places=9)
        self.assertEqual(at("ntpd", "2016-12-31", "2016-12-31T12:00:00Z")["offset_s"], -0.5)
        self.assertAlmostEqual(at("google-2016", "2016-12-31", "2016-12-31T19:00:00Z")["offset_s"],
                               -18000 / 72001, places=9)
        self.assertAlmostEqual(at("ntpsec", "2016-12-31", "2016-12-31T18:00:00Z")["offset_s"], -0.75, places=9)

    def test_negative_leap_mirrors(self):
        self.assertAlmostEqual(at("google", "2029-06-30", "2029-06-30T18:00:00Z", "--sign", "-")["offset_s"],
                               21600 / 86399, places=9)
        self.assertAlmostEqual(at("chrony", "2029-06-30", "2029-07-01T06:00:00Z", "--sign", "-")["offset_s"],
                               -0.76112128, places=9)

    def test_row_fields_and_a_range(self):
        result = smearctl("smear", "--profile", "google", "--leap", "2016-12-31", "--from", "2016-12-31T00:00:00Z",
                          "--to", "2017-01-02T00:00:00Z", "--step", "3600", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = json.loads(result.stdout)
        self.assertEqual(len(rows), 49)
        for row in rows:
            self.assertEqual(set(row), {"time", "offset_s", "frequency_ppm", "progress", "leap"})
            self.assertTrue(row["time"].endswith("Z"))
            self.assertEqual(row["leap"], 0)
        offsets = [r["offset_s"] for r in rows]
        self.assertEqual(offsets[0], 0)
        self.assertEqual(offsets[-1], 0)
        # The last hour before the leap, then the step of true UTC past the inserted second.
        self.assertAlmostEqual(min(offsets), -39600 / 86401, places=9)
        self.assertAlmostEqual(rows[24]["offset_s"], 43200 / 86401, places=9)
        progress = [r["progress"] for r in rows]
        self.assertEqual(progress, sorted(progress))
        self.assertAlmostEqual(rows[18]["frequency_ppm"], -1e6 / 86401, places=6)

    def test_true_utc_announces_the_leap(self):
        self.assertEqual(at("none", "2016-12-31", "2016-12-31T00:00:00Z")["leap"], 1)
        self.assertEqual(at("none", "2016-12-31", "2016-12-30T23:59:59Z")["leap"], 0)
        self.assertEqual(at("none", "2029-06-30", "2029-06-30T12:00:00Z", "--sign", "-")["leap"], 2)

    def test_leap_file_and_custom_profiles(self):
        row = at("linear:window=600,anchor=end", "2016-12-31", "2016-12-31T23:55:00Z")
        self.assertAlmostEqual(row["offset_s"], -0.5, places=9)
        result = smearctl("smear", "--profile", "google", "--leap-file", "/usr/share/zoneinfo/leap-seconds.list",
                          "--at", "2015-06-30T18:00:00Z", "--json")
        self.assertAlmostEqual(json.loads(result.stdout)[0]["offset_s"], -21600 / 86401, places=9)

    def test_text_output(self):
        result = smearctl("smear", "--profile", "ntpd", "--leap", "2016-12-31", "--at", "2016-12-31T12:00:00Z")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("2016-12-31T12:00:00.000000000Z  -0.500000000", result.stdout)

    def test_errors(self):
        cases = [
            ["smear", "--profile", "google", "--leap", "2016-12-30", "--at", "2016-12-31T00:00:00Z"],
            ["smear", "--profile", "gogle", "--leap", "2016-12-31", "--at", "2016-12-31T00:00:00Z"],
            ["smear", "--profile", "google", "--leap", "2016-12-31"],
            ["smear", "--profile", "google", "--leap", "2016-12-31", "--at", "noon"],
            ["smear", "--leap", "2016-12-31", "--at", "2016-12-31T00:00:00Z"],
            ["unsmear", "--profile", "google", "--leap", "2016-12-31"],
            ["plot", "--profile", "google", "--leap", "2016-12-31"],
        ]
        for args in cases:
            result = smearctl(*args)
            self.assertEqual(result.returncode, 2, (args, result.stderr))
            self.assertTrue(result.stderr.startswith("smearctl: "), result.stderr)
        damaged = smearctl("smear", "--profile", "google", "--leap-file", str(FIXTURES / "tampered.list"),
                           "--at", "2016-12-31T00:00:00Z")
        self.assertEqual(damaged.returncode, 1)
        self.assertIn("tampered.list:34: #h (hash): mismatch", damaged.stderr)


class Unsmear(unittest.TestCase):
    def test_round_trip_through_the_leap_second(self):
        # Google's smeared midnight is the middle of the inserted second.
        self.assertEqual(smearctl("unsmear", "--profile", "google", "--leap", "2016-12-31",
                                  "2017-01-01T00:00:00Z").stdout.strip(), "2016-12-31T23:59:60.500000000Z")
        # Six hours in, true UTC is ahead by -offset.
        row = at("google", "2016-12-31", "2016-12-31T18:00:00Z")
        self.assertEqual(smearctl("unsmear", "--profile", "google", "--leap", "2016-12-31",
                                  "2016-12-31T17:59:59.750002893Z").stdout.strip(), "2016-12-31T18:00:00.000000000Z")
        self.assertAlmostEqual(row["offset_s"], -0.249997107, places=9)
        # Outside the smear, smeared time is true UTC.
        self.assertEqual(smearctl("unsmear", "--profile", "ntpd", "--leap", "2016-12-31",
                                  "2017-03-01T00:00:00Z").stdout.strip(), "2017-03-01T00:00:00.000000000Z")

    def test_unsmearing_what_a_server_served_gives_its_true_utc(self):
        # A smeared listener and a true-UTC one on a simulated reference mid-smear: the smeared
        # transmit time, unsmeared, is what the true-UTC listener serves at that instant.
        nights = [("leap-seconds.list", "2016-12-31T18:00:00Z", ["google", "ntpd"]),
                  ("leap-seconds.list", "2017-01-01T06:00:00Z", ["chrony"]),
                  ("negative-leap.list", "2029-06-30T15:00:00Z", ["google", "ntpsec"])]
        for leap_file, start, profiles in nights:
            ports = {name: harness.free_udp_port() for name in ["none"] + profiles}
            lines = ["listeners:"]
            for name, port in ports.items():
                lines += [f'  - address: "127.0.0.1:{port}"', f"    timescale: {name}"]
            lines += ["timescales:"] + [f"  {name}: {{smear: {name}}}" for name in ports]
            lines += ["reference:", "  type: simulated", f'  start: "{start}"', "  rate: 1",
                      "workers: 1", "metrics: {listen: off}", "leapdb:", "  files:", f"    - {FIXTURES / leap_file}"]
            with harness.Smeard(addresses=[f"127.0.0.1:{p}" for p in ports.values()], text="\n".join(lines) + "\n"):
                ask = lambda port: ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2)
                utc = harness.best_of(lambda: ask(ports["none"]), delay=lambda r: r.delay)
                for name in profiles:
                    with self.subTest(start=start, profile=name):
                        smeared = harness.best_of(lambda: ask(ports[name]), delay=lambda r: r.delay)
                        served = smeared.tx_time
                        # The system clock read served - offset then; true UTC was that plus utc's offset.
                        true_then = served - smeared.offset + utc.offset
                        result = smearctl("unsmear", "--profile", name, "--leap-file", str(FIXTURES / leap_file),
                                          rfc3339_of(served))
                        self.assertEqual(result.returncode, 0, result.stderr)
                        unsmeared = seconds_of(result.stdout.strip())
                        self.assertGreater(abs(served - unsmeared), 0.1, "a smear well under way")
                        self.assertLess(abs(unsmeared - true_then), 0.001,
                                        f"{name}: served {rfc3339_of(served)}, unsmeared {result.stdout.strip()}, "
                                        f"true UTC then {rfc3339_of(true_then)}")


def rfc3339_of(seconds):
    whole = int(seconds // 1)
    return datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{int((seconds - whole) * 1e9):09d}Z"


def seconds_of(text):
    stamp, fraction = text.rstrip("Z").split(".")
    return calendar.timegm(datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").timetuple()) + int(fraction) / 1e9


class Plot(unittest.TestCase):
    def test_svg_with_axes_and_legend(self):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "smear.svg"
            profiles = ["google", "ntpd", "chrony", "linear:window=3600,anchor=center"]
            args = ["plot", "--leap", "2016-12-31", "--out", str(out)]
            for p in profiles:
                args += ["--profile", p]
            result = smearctl(*args)
            self.assertEqual(result.returncode, 0, result.stderr)
            root = ElementTree.parse(out).getroot()
        ns = {"svg": "http://www.w3.org/2000/svg"}
        curves = root.findall("svg:polyline[@class='curve']", ns)
        self.assertEqual([c.get("data-label") for c in curves], profiles)
        for curve in curves:
            points = curve.get("points").split()
            self.assertGreater(len(points), 1000)
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("offset (seconds)", texts)
        self.assertIn("hours from the leap (true UTC midnight)", texts)
        self.assertEqual([t.text for t in root.findall("svg:text[@class='legend']", ns)], profiles)
        self.assertTrue(any("2016-12-31 (inserted)" in (t or "") for t in texts))


if __name__ == "__main__":
    unittest.main()
