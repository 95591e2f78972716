"""Leap files in the daemon and in smearctl: load at start, reload on change and SIGHUP, keep
the old table when a new one is bad, log expiry; `smearctl leap show` and `leap check`."""

import calendar
import json
import shutil
import signal
import time
import unittest
from pathlib import Path

import harness

FIXTURES = harness.REPO / "tests/unit/leapdb/fixtures"
DEBIAN = ["/usr/share/zoneinfo/leap-seconds.list", "/usr/share/zoneinfo/leapseconds",
          "/usr/share/zoneinfo/right/UTC"]


def wait_for(server, event, count=1, timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(server.events(event)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    found = server.events(event)
    if len(found) < count:
        raise AssertionError(f"no {count}x event={event} within {timeout} s; log:\n{server.log()}")
    return found[count - 1]


class Daemon(unittest.TestCase):
    def setUp(self):
        self.port = harness.free_udp_port()
        self.leaps = Path(harness.tempfile.mkdtemp(prefix="smeard-leaps-"))
        self.addCleanup(shutil.rmtree, self.leaps, True)

    def config(self, files):
        text = harness.config_text([f"127.0.0.1:{self.port}"], workers=1)
        return text + "leapdb:\n  files:\n" + "".join(f"    - {f}\n" for f in files)

    def place(self, fixture, name):
        shutil.copyfile(FIXTURES / fixture, self.leaps / name)
        return str(self.leaps / name)

    def assert_serving(self, server):
        reply = harness.request(("127.0.0.1", self.port), harness.ntp_request())
        self.assertIsNotNone(reply, server.log())

    def test_load_reload_on_change_and_sighup_and_keep_the_old_table_on_errors(self):
        a = self.place("leap-seconds.list", "a.list")
        b = self.place("leapseconds", "b")
        with harness.Smeard(addresses=[f"127.0.0.1:{self.port}"], text=self.config([a, b])) as server:
            loaded = wait_for(server, "leap_table_loaded")
            self.assertEqual(loaded["reason"], "start")
            self.assertEqual((loaded["leaps"], loaded["tai_utc"], loaded["last_leap"], loaded["hash"]),
                             ("27", "37", "2016-12-31", "ok"))
            self.assertEqual(loaded["expires"], "2026-06-28T00:00:00.000000000Z")

            # A damaged file: rejected with file, line and reason; the table stays; still serving.
            self.place("tampered.list", "a.list")
            rejected = wait_for(server, "leap_file_rejected")
            self.assertTrue(rejected["problem"].startswith(f"{a}:34: #h (hash): mismatch"), rejected)
            failed = wait_for(server, "leap_load_failed")
            self.assertEqual(failed["reason"], "changed on disk")
            self.assertEqual(failed["kept"], f"the previous table from {a}")
            self.assert_serving(server)

            # SIGHUP rereads even without a change, and is refused the same way.
            server.process.send_signal(signal.SIGHUP)
            self.assertEqual(wait_for(server, "leap_load_failed", 2)["reason"], "SIGHUP")

            # Two sources that disagree are refused, naming the first differing leap.
            self.place("leap-seconds.list", "a.list")
            self.place("disagreeing-leapseconds", "b")
            wait_for(server, "leap_load_failed", 3)
            self.assertTrue(any("leap 2015-06-30: first difference" in e["problem"]
                                for e in server.events("leap_file_rejected")), server.log())

            # A good new pair is taken: a negative leap announced for 2029.
            self.place("negative-leap.list", "a.list")
            self.place("negative-leapseconds", "b")
            loaded = wait_for(server, "leap_table_loaded", 2)
            self.assertEqual(loaded["reason"], "changed on disk")
            self.assertEqual((loaded["leaps"], loaded["next_leap"]), ("28", "2029-06-30 -1"))
            self.assert_serving(server)
            server.stop()

    def test_a_bad_file_at_start_stops_smeard_with_file_and_line(self):
        a = self.place("jump-of-two.list", "a.list")
        path = harness.write_file(self.leaps, "smeard.yaml", self.config([a]))
        result = harness.run([harness.binary(harness.SMEARD), "--config", path], timeout=10)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(f"{a}:33: TAI-UTC: moves from 36 to 38 at 2016-12-31", result.stderr)
        self.assertIn("event=leap_load_failed reason=start", result.stderr)

    def test_a_missing_file_at_start_stops_smeard(self):
        path = harness.write_file(self.leaps, "smeard.yaml", self.config([str(self.leaps / "nope.list")]))
        result = harness.run([harness.binary(harness.SMEARD), "--config", path], timeout=10)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("nope.list: file: cannot read", result.stderr)

    def test_expired_and_expiring_tables_are_logged(self):
        expired = self.place("leap-seconds.list", "expired.list")  # expired on 2026-06-28
        with harness.Smeard(addresses=[f"127.0.0.1:{self.port}"], text=self.config([expired])) as server:
            event = wait_for(server, "leap_table_expired")
            self.assertEqual(event["expires"], "2026-06-28T00:00:00.000000000Z")
            server.stop()
        in_ten_days = calendar.timegm(time.gmtime()) // 86400 * 86400 + 10 * 86400
        soon = harness.write_file(self.leaps, "soon.list", harness.leap_seconds_list(in_ten_days))
        with harness.Smeard(addresses=[f"127.0.0.1:{self.port}"], text=self.config([soon])) as server:
            event = wait_for(server, "leap_table_expiring")
            self.assertIn(event["days_left"], ("9", "10"))
            self.assertFalse(server.events("leap_table_expired"))
            server.stop()


class Smearctl(unittest.TestCase):
    def smearctl(self, *args):
        return harness.run([harness.binary(harness.SMEARCTL), *args], timeout=10)

    def test_show_json_of_debian_files(self):
        for path in DEBIAN:
            result = self.smearctl("leap", "show", path, "--json")
            self.assertEqual(result.returncode, 0, result.stderr)
            table = json.loads(result.stdout)
            self.assertEqual(set(table), {"leaps", "expires", "last_update", "hash", "source"})
            self.assertEqual(table["source"], path)
            self.assertEqual(len(table["leaps"]), 27)
            self.assertEqual(table["leaps"][0], {"date": "1972-06-30", "tai_utc": 11, "sign": 1})
            self.assertEqual(table["leaps"][-1], {"date": "2016-12-31", "tai_utc": 37, "sign": 1})
        listed = json.loads(self.smearctl("leap", "show", DEBIAN[0], "--json").stdout)
        self.assertEqual(listed["hash"], "ok")
        self.assertTrue(listed["expires"].endswith("Z"))
        self.assertEqual(json.loads(self.smearctl("leap", "show", DEBIAN[2], "--json").stdout)["hash"], "n/a")

    def test_show_several_and_negative(self):
        result = self.smearctl("leap", "show", str(FIXTURES / "negative-leap.list"),
                               str(FIXTURES / "negative-right-UTC-v4"), "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        tables = json.loads(result.stdout)
        self.assertEqual(len(tables), 2)
        for table in tables:
            self.assertEqual(table["leaps"][-1], {"date": "2029-06-30", "tai_utc": 36, "sign": -1})
        text = self.smearctl("leap", "show", str(FIXTURES / "negative-leap.list")).stdout
        self.assertIn("2029-06-30  36       -", text)

    def test_show_a_damaged_file_still_shows_it(self):
        result = self.smearctl("leap", "show", str(FIXTURES / "tampered.list"), "--json")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(json.loads(result.stdout)["hash"], "mismatch")
        self.assertIn("tampered.list:34: #h (hash): mismatch", result.stderr)

    def test_check(self):
        # Debian's own files, whatever tzdata release is installed: checked ten days before
        # and three days after the expiry the file itself states.
        expiry_ntp = next(int(l.split()[1]) for l in Path(DEBIAN[0]).read_text().splitlines() if l.startswith("#@"))
        expiry = expiry_ntp - harness.NTP_EPOCH_OFFSET
        stamp = lambda unix: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))
        ok = self.smearctl("leap", "check", *DEBIAN, "--at", stamp(expiry - 10 * 86400))
        self.assertEqual(ok.returncode, 0, ok.stdout)
        self.assertIn("ok: 3 files agree; 27 leaps; TAI-UTC 37", ok.stdout)
        self.assertIn(f"warning: {DEBIAN[0]}: expires on {stamp(expiry)[:10]}", ok.stdout)

        expired = self.smearctl("leap", "check", DEBIAN[0], "--at", stamp(expiry + 3 * 86400))
        self.assertEqual(expired.returncode, 1)
        self.assertEqual(expired.stdout.strip().splitlines()[-1],
                         f"{DEBIAN[0]}: expired on {stamp(expiry)[:-1]}.000000000Z")

        bad = self.smearctl("leap", "check", str(FIXTURES / "leap-seconds.list"),
                            str(FIXTURES / "disagreeing-leapseconds"), str(FIXTURES / "missing-expiry.list"),
                            "--at", "2026-01-01T00:00:00Z")
        self.assertEqual(bad.returncode, 1)
        problems = bad.stdout.strip().splitlines()
        self.assertEqual(len(problems), 2, bad.stdout)
        self.assertTrue(problems[0].endswith("missing-expiry.list: #@ (expiry): missing: the file must state when it "
                                             "expires"), problems)
        self.assertIn("leap 2015-06-30: first difference", problems[1])

    def test_usage(self):
        self.assertEqual(self.smearctl("leap", "show").returncode, 2)
        self.assertEqual(self.smearctl("leap", "check", "x", "--at", "yesterday").returncode, 2)
        self.assertEqual(self.smearctl("leap", "frobnicate").returncode, 2)


if __name__ == "__main__":
    unittest.main()
