"""Timescales end to end: smeared and true UTC side by side from one daemon, measured with a
real client (ntplib) and checked against the profiles' formulas written out here
independently; pinning and KoD DENY; the mixed-client detector; sticky mode; a rehearsal leap
in real time; reload under load; two daemons agreeing.

Offsets are measured the way an operator would: the NTP offset of a smeared listener minus
that of the true-UTC listener, both asked at (nearly) the same moment."""

import calendar
import json
import math
import signal
import socket
import sys
import threading
import time
import unittest
from datetime import datetime, timezone

import ntplib

import harness

FIXTURES = harness.REPO / "tests/unit/leapdb/fixtures"


def unix(text):
    return calendar.timegm(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timetuple())


def rfc3339(seconds):
    whole = math.floor(seconds)
    stamp = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{int(round((seconds - whole) * 1e9)):09d}Z"


# --- the profiles, independently: offset (smeared minus true UTC) at a true-UTC instant u ---

def expected_offset(profile, u, leap, sign):
    """u and leap (the midnight after the changed second) in POSIX seconds; u outside the
    changed second itself."""
    after = u >= leap
    # SI seconds between two POSIX instants on either side of the leap.
    def si(a, b):
        return (b - a) + (sign if a < leap <= b else 0)
    if profile == "none":
        return 0.0
    if profile == "google":
        begin, length = leap - 43200, 86400 + sign
    elif profile in ("ntpd", "ntpsec"):
        begin, length = leap - 86400, 86400 - (1 if sign < 0 else 0)
    elif profile == "chrony":
        begin, length = leap, 62500
    if u < begin:
        fraction = 0.0
    else:
        e = min(si(begin, u), length)
        x = e / length
        if profile in ("google", "ntpsec"):
            fraction = x
        elif profile == "ntpd":
            fraction = (1 - math.cos(math.pi * x)) / 2
        else:
            fraction = 2 * x * x if x <= 0.5 else 1 - 2 * (1 - x) ** 2
    return sign * ((1.0 if after else 0.0) - fraction)


def ntp_query(port, source="127.0.0.1", version=4):
    return ntplib.NTPClient().request("127.0.0.1", port=port, version=version, timeout=2)


def best_offset(port):
    """The offset from the sample with the least delay, as NTP clients choose."""
    return harness.best_of(lambda: ntp_query(port), delay=lambda r: r.delay, count=5)


def raw_query(port, source, version=4):
    """One request from a chosen 127.0.0.x source address; the decoded reply or None."""
    reply = harness.request(("127.0.0.1", port), harness.ntp_request(version=version), timeout=1.0, source=source)
    return harness.decode(reply) if reply is not None else None


def config(listeners, timescales, reference=None, leap_files=(), extra=""):
    """listeners: [(port, timescale)]; timescales: {name: yaml mapping text}."""
    lines = ["listeners:"]
    for port, name in listeners:
        lines += [f'  - address: "127.0.0.1:{port}"', f"    timescale: {name}"]
    lines.append("timescales:")
    for name, body in timescales.items():
        lines.append(f"  {name}: {body}")
    lines += (reference or ["reference: {type: system, refid: GPS, unsynchronized: {local_stratum: 1}}"])
    lines.append("workers: 1")
    lines.append("metrics: {listen: off}")
    if leap_files:
        lines += ["leapdb:", "  files:"] + [f"    - {f}" for f in leap_files]
    return "\n".join(lines) + "\n" + extra


def daemon(text, ports):
    return harness.Smeard(addresses=[f"127.0.0.1:{p}" for p in ports], text=text)


def ports(count):
    chosen = set()
    while len(chosen) < count:
        chosen.add(harness.free_udp_port())
    return sorted(chosen)


class SimulatedLeapNight(unittest.TestCase):
    PROFILES = ["google", "ntpd", "ntpsec", "chrony", "none"]

    def check_night(self, leap_file, leap, sign, instants):
        p = ports(len(self.PROFILES))
        timescales = {name: f"{{smear: {name}, refid: {'chrony' if name == 'chrony' else 'ntpd'}}}"
                      for name in self.PROFILES}
        listeners = list(zip(p, self.PROFILES))
        port = dict((name, port) for port, name in listeners)
        for instant in instants:
            with self.subTest(instant=rfc3339(instant)):
                reference = ["reference:", "  type: simulated", f"  start: \"{rfc3339(instant)}\"", "  rate: 1",
                             "  refid: GPS"]
                text = config(listeners, timescales, reference, [str(FIXTURES / leap_file)])
                with daemon(text, p) as server:
                    self.assertTrue(server.events("reference_simulated"), "a simulated clock is logged loudly")
                    utc = best_offset(port["none"])
                    true_now = time.time() + utc.offset
                    for name in self.PROFILES:
                        reply = utc if name == "none" else best_offset(port[name])
                        measured = reply.offset - utc.offset
                        wanted = expected_offset(name, true_now, leap, sign)
                        self.assertLess(abs(measured - wanted), 0.001,
                                        f"{name} at {rfc3339(true_now)}: served {measured:+.6f} s, profile {wanted:+.6f} s")
                        in_window = abs(wanted) > 1e-6 and abs(wanted - sign) > 1e-6 and name != "none"
                        # LI: 0 whenever smeared; true UTC announces the leap during its last day.
                        if name == "none":
                            announced = leap - 86400 <= true_now < leap
                            self.assertEqual(reply.leap, (1 if sign > 0 else 2) if announced else 0)
                        else:
                            self.assertEqual(reply.leap, 0)
                        # refid: marked by its convention while smearing, else the reference's.
                        if name == "chrony" and in_window:
                            self.assertEqual(reply.ref_id, 0x7F7F01FF)
                        elif name != "none" and in_window:
                            self.assertEqual(reply.ref_id >> 24, 0xFE, name)
                            fixed = reply.ref_id & 0xFFFFFF
                            fixed = fixed - (1 << 24) if fixed & 0x800000 else fixed
                            self.assertLess(abs(fixed / 2**22 - wanted), 0.01, name)
                        elif name == "none":
                            self.assertEqual(reply.ref_id, 0x47505300)
                    server.stop()

    def test_inserted_second_2016(self):
        leap = unix("2017-01-01T00:00:00Z")
        instants = [leap - 86400 * 2, leap - 18 * 3600, leap - 12 * 3600, leap - 6 * 3600, leap - 1800,
                    leap + 2, leap + 6 * 3600, leap + 11 * 3600, leap + 13 * 3600, leap + 16 * 3600, leap + 20 * 3600]
        self.check_night("leap-seconds.list", leap, +1, instants)

    def test_deleted_second_2029(self):
        leap = unix("2029-07-01T00:00:00Z")
        instants = [leap - 18 * 3600, leap - 12 * 3600, leap - 6 * 3600, leap + 2, leap + 6 * 3600, leap + 13 * 3600]
        self.check_night("negative-leap.list", leap, -1, instants)

    def test_true_utc_repeats_an_inserted_second_and_skips_a_deleted_one(self):
        cases = [("leap-seconds.list", "2016-12-31T23:59:59.400000000Z", 1, "23:59:59", 1),
                 ("negative-leap.list", "2029-06-30T23:59:58.400000000Z", -1, "00:00:00", 2)]
        for fixture, start, sign, shown, li in cases:
            with self.subTest(fixture=fixture):
                p = ports(1)
                reference = ["reference:", "  type: simulated", f"  start: \"{start}\"", "  rate: 1"]
                with daemon(config([(p[0], "utc")], {"utc": "{smear: none}"}, reference, [str(FIXTURES / fixture)]),
                            p) as server:
                    started = time.monotonic()
                    time.sleep(max(0.0, 0.85 - (time.monotonic() - started)))
                    reply = raw_query(p[0], "127.0.0.1")
                    served = reply["transmit"]
                    label = datetime.fromtimestamp(served, timezone.utc).strftime("%H:%M:%S")
                    # Inserted: 0.85+ s after 23:59:59.4 it is the second 23:59:59 again;
                    # deleted: 23:59:59 never comes, it is already midnight.
                    self.assertEqual(label, shown)
                    self.assertEqual(reply["leap"], li if sign > 0 else 0)
                    server.stop()


class Policy(unittest.TestCase):
    def setUp(self):
        self.p = ports(2)
        self.timescales = {"smeared": "{smear: google}", "utc": "{smear: none}"}
        self.listeners = [(self.p[0], "smeared"), (self.p[1], "utc")]

    def test_pinned_clients_get_kod_deny_or_nothing(self):
        pins = "clients:\n  - networks: [127.0.0.2/32, \"::ffff:127.0.0.5\"]\n    timescale: utc\n"
        with daemon(config(self.listeners, self.timescales, extra=pins), self.p) as server:
            ok = raw_query(self.p[1], "127.0.0.2")
            self.assertEqual(ok["stratum"], 1)
            denied = raw_query(self.p[0], "127.0.0.2")
            self.assertEqual((denied["stratum"], denied["refid"], denied["leap"]), (0, b"DENY", 3))
            self.assertEqual(raw_query(self.p[0], "127.0.0.3")["stratum"], 1)  # not pinned
            # A real client sees the kiss: smearctl names it.
            result = harness.run([harness.binary(harness.SMEARCTL), "query", f"127.0.0.1:{self.p[0]}"])
            self.assertEqual(result.returncode, 0, result.stderr)  # 127.0.0.1 is not pinned
            stopped = server.stop()
            self.assertEqual(stopped["kod_deny"], "1")
            self.assertEqual(stopped["pin_violations"], "1")
        drop = pins + "client_policy: {mismatch: drop}\n"
        with daemon(config(self.listeners, self.timescales, extra=drop), self.p) as server:
            self.assertIsNone(raw_query(self.p[0], "127.0.0.2"))
            self.assertEqual(raw_query(self.p[1], "127.0.0.2")["stratum"], 1)
            stopped = server.stop()
            self.assertIn("wrong_timescale:1", stopped["dropped"])

    def test_mixed_clients_are_noticed_logged_and_counted(self):
        with daemon(config(self.listeners, self.timescales), self.p) as server:
            for source in ("127.0.0.3", "127.0.0.4"):
                self.assertIsNotNone(raw_query(self.p[0], source))
                self.assertIsNotNone(raw_query(self.p[1], source))
            self.assertIsNotNone(raw_query(self.p[0], "127.0.0.6"))  # one timescale only
            deadline = time.monotonic() + 5
            while len(server.events("mixed_client")) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            logged = {(e["client"], e["timescale"], e["also_used"]) for e in server.events("mixed_client")}
            self.assertEqual(logged, {("127.0.0.3", "utc", "smeared"), ("127.0.0.4", "utc", "smeared")})
            self.assertEqual(server.stop()["mixed_clients"], "2")

    def test_sticky_mode(self):
        sticky = "client_policy: {sticky: 60}\n"
        with daemon(config(self.listeners, self.timescales, extra=sticky), self.p) as server:
            self.assertEqual(raw_query(self.p[1], "127.0.0.7")["stratum"], 1)
            self.assertEqual(raw_query(self.p[0], "127.0.0.7")["refid"], b"DENY")
            self.assertEqual(raw_query(self.p[1], "127.0.0.7")["stratum"], 1)  # still stuck to utc
            self.assertEqual(raw_query(self.p[0], "127.0.0.8")["stratum"], 1)  # another client sticks to smeared
            self.assertEqual(server.stop()["sticky_violations"], "1")


class RealClock(unittest.TestCase):
    def test_rehearsal_leap_observed_in_real_time(self):
        p = ports(2)
        leap_at = math.floor(time.time()) + 32  # a 60 s window: from +2 s to +62 s (61 SI seconds)
        timescales = {"rehearse": f'{{smear: {{profile: linear, window: 60, anchor: center}}, '
                                  f'rehearsal: {{leap_at: "{rfc3339(leap_at)}", sign: "+"}}}}',
                      "utc": "{smear: none}"}
        with daemon(config([(p[0], "rehearse"), (p[1], "utc")], timescales), p) as server:
            self.assertEqual(server.events("rehearsal_leap")[0]["timescale"], "rehearse")
            samples = []
            for wait_until in (leap_at - 31, leap_at - 20, leap_at - 8):
                time.sleep(max(0.0, wait_until - time.time()))
                utc = best_offset(p[1])
                smeared = best_offset(p[0])
                # The smear's progress when the smeared reply came back, not after both queries:
                # at 1/61 s a second, a loaded machine's 100 ms between them would be 1.6 ms.
                now = smeared.dest_time + utc.offset
                elapsed = now - (leap_at - 30)
                wanted = -max(0.0, elapsed) / 61
                samples.append((smeared.offset - utc.offset, wanted))
                self.assertLess(abs(smeared.offset - utc.offset - wanted), 0.001, samples)
                self.assertEqual(smeared.leap, 0)
                if elapsed > 0.01:
                    self.assertEqual(smeared.ref_id >> 24, 0xFE)
            self.assertLess(samples[-1][0], samples[0][0] - 0.2, "the smear progressed")
            server.stop()

    def test_rehearsal_offset_is_reported_from_true_utc(self):
        """An hour after a rehearsed inserted second its listener serves a second behind real UTC;
        /status and the metric say so (not 0, the offset from the rehearsal's own leap table)."""
        p, metrics_port = ports(2), harness.free_tcp_port()
        leap_at = math.floor(time.time()) - 3600
        timescales = {"rehearse": f'{{smear: {{profile: linear, window: 600, anchor: center}}, '
                                  f'rehearsal: {{leap_at: "{rfc3339(leap_at)}", sign: "+"}}}}',
                      "utc": "{smear: none}"}
        text = config([(p[0], "rehearse"), (p[1], "utc")], timescales).replace(
            "metrics: {listen: off}", f'metrics: {{listen: "127.0.0.1:{metrics_port}"}}')
        with daemon(text, p) as server:
            measured = best_offset(p[0]).offset - best_offset(p[1]).offset
            self.assertAlmostEqual(measured, -1.0, delta=0.001)
            status = json.loads(harness.run([harness.binary(harness.SMEARCTL), "status", "--json", "--url",
                                             f"http://127.0.0.1:{metrics_port}"]).stdout)
            [rehearse] = [t for t in status["timescales"] if t["name"] == "rehearse"]
            self.assertAlmostEqual(rehearse["offset_s"], measured, delta=0.001)
            self.assertEqual(rehearse["progress"], 1)
            scraped = harness.scrape(f"http://127.0.0.1:{metrics_port}")
            self.assertAlmostEqual(harness.total(scraped, "smeard_smear_offset_seconds", timescale="rehearse"), -1.0,
                                   delta=1e-6)
            server.stop()

    def test_two_daemons_agree(self):
        leap_at = math.floor(time.time()) + 600  # a rehearsal in progress makes the time non-trivial
        timescales = {"rehearse": f'{{smear: {{profile: cosine, window: 3600, anchor: center}}, '
                                  f'rehearsal: {{leap_at: "{rfc3339(leap_at)}", sign: "-"}}}}'}
        first, second = ports(2)
        with daemon(config([(first, "rehearse")], timescales), [first]) as a:
            time.sleep(1.5)  # started at different times
            with daemon(config([(second, "rehearse")], timescales), [second]) as b:
                offsets = []
                for _ in range(3):
                    x, y = best_offset(first), best_offset(second)
                    offsets.append(x.offset - y.offset)
                self.assertLess(max(abs(o) for o in offsets), 0.001, offsets)
                # And the time they agree on is the smeared one: ahead of real UTC by the smear.
                self.assertGreater(best_offset(first).offset, 0.1)
                b.stop()
            a.stop()


class Reload(unittest.TestCase):
    def test_reload_under_load_loses_no_reply_and_refuses_bad_configs(self):
        p = ports(2)
        listeners = [(p[0], "smeared"), (p[1], "utc")]
        good = {"smeared": "{smear: google}", "utc": "{smear: none}"}
        with daemon(config(listeners, good), p) as server:
            stop = threading.Event()
            counts = {"sent": 0, "lost": 0, "signatures": set()}
            lock = threading.Lock()

            def load():
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(1.0)
                    while not stop.is_set():
                        request = harness.ntp_request()
                        s.sendto(request, ("127.0.0.1", p[1]))
                        try:
                            while True:
                                reply = s.recv(1024)
                                if reply[24:32] == request[40:48]:
                                    break
                            with lock:
                                counts["sent"] += 1
                                counts["signatures"].add((reply[1], reply[12:16]))
                        except socket.timeout:
                            with lock:
                                counts["sent"] += 1
                                counts["lost"] += 1

            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            try:
                time.sleep(0.5)
                # Each configuration shows in the replies: by its refid when the kernel clock is
                # synchronized, by its local stratum (named LOCL at 1, 127.127.1.1 above) when not.
                for refid, stratum in [("PPS", 1), ("GPS", 2), ("PTP", 3), ("GPS", 2)]:
                    before = len(server.events("config_reloaded"))
                    reference = f"reference: {{type: system, refid: {refid}, unsynchronized: {{local_stratum: {stratum}}}}}"
                    harness.write_file(server.directory, "smeard.yaml", config(listeners, good, [reference]))
                    server.process.send_signal(signal.SIGHUP)
                    deadline = time.monotonic() + 5
                    while len(server.events("config_reloaded")) <= before and time.monotonic() < deadline:
                        time.sleep(0.05)
                    time.sleep(0.3)
                # A broken file is refused; the old configuration keeps serving.
                harness.write_file(server.directory, "smeard.yaml", "listeners: [\n")
                server.process.send_signal(signal.SIGHUP)
                time.sleep(1.5)
                # Moving a listener needs a restart: refused too.
                moved = config([(p[0], "smeared"), (harness.free_udp_port(), "utc")], good)
                harness.write_file(server.directory, "smeard.yaml", moved)
                time.sleep(1.5)
            finally:
                stop.set()
                for t in threads:
                    t.join()
            print(f"\nreload under load: {counts['sent']} requests, {counts['lost']} lost", file=sys.stderr)
            self.assertGreater(counts["sent"], 2000)
            self.assertEqual(counts["lost"], 0, counts)
            expected = ({(1, b"PPS\0"), (1, b"GPS\0"), (1, b"PTP\0")} if harness.kernel_clock()[0]
                        else {(1, b"LOCL"), (2, b"\x7f\x7f\x01\x01"), (3, b"\x7f\x7f\x01\x01")})
            self.assertTrue(expected <= counts["signatures"], counts["signatures"])
            self.assertTrue(server.events("config_reload_failed"), server.log())
            rejected = [e["problem"] for e in server.events("config_rejected")]
            self.assertTrue(any("smeard.yaml:2:1: YAML syntax error" in r or "YAML syntax error" in r for r in rejected),
                            rejected)
            self.assertTrue(any("only change with a restart" in r for r in rejected), rejected)
            reply = raw_query(p[1], "127.0.0.1")
            # The last good configuration: GPS, local stratum 2.
            self.assertEqual((reply["stratum"], reply["refid"]), (1, b"GPS") if harness.kernel_clock()[0] else (2, bytes([127, 127, 1, 1])))
            server.stop()


if __name__ == "__main__":
    unittest.main()
