"""The NTP SHM refclock fed by real gpsd, and chrony's SOCK refclock. The checks run in private
IPC, network and mount namespaces (unshare --ipc --net --mount) so the SysV segments, gpsd's
port and /run are this test's own; the outer test re-runs this file inside them.

gpsd (3.22) is fed by gpsfake over TCP (-t): gpsd writes no SHM samples for a pty, which is what
gpsfake uses by default ("don't talk to NTP when we're running inside the test harness"). The log
is handed to gpsfake through a FIFO and its NMEA times are computed when gpsfake reads it, one
cycle a second from then, so the NMEA time gpsd reports is the system clock to within gpsfake's
pacing (a few ms here); gpsd's own view of each sample (its TOFF reports: NMEA time against its
receive time) is what smeard's served offset is checked against.

gpsd sends chrony SOCK samples only from its PPS thread, which it runs only for serial, USB and
/dev/pps devices, never for gpsfake's pty, TCP or UDP feeds; and there is no PPS source here
(no /dev/pps*, no serial line with a DCD edge). So SOCK is checked with datagrams in gpsd's
chrony_send format, sent by this test to the path gpsd would use (/run/chrony.ttyS0.sock for a
/dev/ttyS0 opened as root).

Run (as root, or with unprivileged user namespaces):
    cd tests/integration && SMEARD=../../build/release/server/smeard \\
        SMEARCTL=../../build/release/server/smearctl python3 -m unittest -v test_reference_refclock
"""

import ctypes
import datetime
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import harness

INSIDE = os.environ.get("SMEARD_ITEST_REFCLOCK_NS") == "1"
# Seconds: reference.holdover in these tests. Longer than the 3 s the tracker takes to follow a
# jump in gpsfake's pacing (it sets aside 2 samples that disagree with its line, restarts at
# the third), so such a jump under load is not taken for a lost reference.
HOLDOVER = 5
TIMEOUT = 4  # seconds without a good sample before a refclock stops tracking (refclock.hpp)
SOCK_MAGIC = 0x534F434B


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def config(reference, metrics):
    port = harness.free_udp_port()
    lines = ["listeners:", f'  - address: "127.0.0.1:{port}"', "    timescale: utc",
             "timescales:", "  utc:", "    smear: none",
             "reference:"] + [f"  {line}" for line in reference] + [
             "workers: 1", f'metrics: {{listen: "127.0.0.1:{metrics}"}}' if metrics else "metrics: {listen: off}", ""]
    return port, "\n".join(lines)


def refclock_daemon(reference):
    metrics = harness.free_tcp_port()
    port, text = config(reference + [f"holdover: {HOLDOVER}"], metrics)
    daemon = harness.Smeard([f"127.0.0.1:{port}"], text=text)
    daemon.metrics_url = f"http://127.0.0.1:{metrics}"
    return daemon


def metrics_text(daemon):
    with urllib.request.urlopen(daemon.metrics_url + "/metrics", timeout=5) as response:
        return response.read().decode()


def query(daemon):
    """One NTP exchange: the header fields, the offset of the served time from the system clock
    and the round-trip delay, both in seconds."""
    t1 = time.time()
    reply = harness.request(("127.0.0.1", daemon.port), harness.ntp_request())
    t4 = time.time()
    assert reply is not None, "no reply"
    fields = harness.decode(reply)
    fields["offset"] = ((fields["receive"] - t1) + (fields["transmit"] - t4)) / 2
    fields["delay"] = (t4 - t1) - (fields["transmit"] - fields["receive"])
    return fields


def best_query(daemon):
    return harness.best_of(lambda: query(daemon), lambda f: f["delay"])


def last_sample(daemon, kind, source):
    """The system-clock time of the source's last good sample, from smeard's metrics."""
    found = re.search(r'^smeard_source_last_sample_timestamp_seconds\{type="%s",source="%s"\} (\S+)$'
                      % (kind, re.escape(source)), metrics_text(daemon), re.M)
    assert found, metrics_text(daemon)
    return float(found.group(1))


def stage_events(daemon):
    return [e["stage"] for e in daemon.events("reference_stage")]


def wait_until_unsynchronized(testcase, daemon, since):
    """Polls smeard until replies say LI=3, stratum 16; returns when, seconds after `since`."""
    reply = harness.wait_for(lambda: (lambda f: f if (f["leap"], f["stratum"]) == (3, 16) else None)(query(daemon)),
                     HOLDOVER + TIMEOUT + 5, step=0.05)
    testcase.assertIsNotNone(reply, daemon.log())
    return time.time() - since


# --- gpsd fed by gpsfake ---

def nmea(body):
    checksum = 0
    for byte in body.encode():
        checksum ^= byte
    return f"${body}*{checksum:02X}\r\n"


# gpsfake's feed loop takes about this much longer than the delay it sleeps per chunk; without
# allowing for it the NMEA times fall behind the system clock by ~0.5 ms a second.
GPSFAKE_LOOP_OVERHEAD = 0.0005


def nmea_log(start, cycles):
    """One GPRMC, GPGGA and GPZDA a second from `start` (Unix seconds, centisecond-aligned), as
    one gpsfake chunk each (Delay-Cookie), so gpsd sees a receiver's burst once a second."""
    chunks = []
    for i in range(cycles):
        t = datetime.datetime.fromtimestamp(round(start + i, 2), datetime.timezone.utc)
        hms = t.strftime("%H%M%S") + ".%02d" % (t.microsecond // 10000)
        chunks.append(nmea(f"GPRMC,{hms},A,4807.038,N,01131.000,E,0.0,0.0,{t.strftime('%d%m%y')},,,A") +
                      nmea(f"GPGGA,{hms},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") +
                      nmea(f"GPZDA,{hms},{t.day:02d},{t.month:02d},{t.year:04d},00,00"))
    return (f"#Delay-Cookie: @ {1 - GPSFAKE_LOOP_OVERHEAD:.4f}\n" + "@".join(chunks)).encode()


class Gpsd:
    """gpsfake running gpsd on a TCP feed of a log written as gpsfake reads it, and a client
    collecting gpsd's TOFF reports: (receive time, NMEA time minus receive time)."""

    def __init__(self, directory, cycles=600):
        self.port = harness.free_tcp_port()
        self.fifo = os.path.join(directory, "gps.nmea")
        os.mkfifo(self.fifo)
        self.output = open(os.path.join(directory, "gpsfake.log"), "w+")
        self.toff = []
        self.loaded_at = None  # time.monotonic()
        self._lock = threading.Lock()
        threading.Thread(target=self._write_log, args=(cycles,), daemon=True).start()
        gpsfake = harness.tool("gpsfake", "gpsd-clients")
        harness.tool("gpsd", "gpsd")
        # -t: TCP, for which gpsd writes SHM; -n: read without waiting for a client.
        self.process = subprocess.Popen([gpsfake, "-t", "-q", "-n", "-P", str(self.port), self.fifo],
                                        stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT,
                                        preexec_fn=harness._die_with_parent)
        self.gpsd_pid = None
        self._client = None
        threading.Thread(target=self._watch, daemon=True).start()

    def _write_log(self, cycles):
        # gpsfake's TestLoad reads the file twice, once whole and once packet by packet: the same
        # text both times. The second open must wait until gpsfake is blocked reopening the FIFO;
        # a writer that came sooner would still be read as part of the first read.
        with open(self.fifo, "wb") as fifo:  # blocks until gpsfake opens it
            self.loaded_at = time.monotonic()
            text = nmea_log(math.ceil(time.time() * 100) / 100, cycles)
            fifo.write(text)
        harness.wait_for(self._reopening, 10, step=0.01)
        with open(self.fifo, "wb") as fifo:
            fifo.write(text)

    def _reopening(self):
        """gpsfake is blocked opening a FIFO (the kernel's wait_for_partner)."""
        try:
            for task in os.listdir(f"/proc/{self.process.pid}/task"):
                with open(f"/proc/{self.process.pid}/task/{task}/wchan") as wchan:
                    if wchan.read().strip() == "wait_for_partner":
                        return True
        except OSError:
            pass
        return False

    def _watch(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                self._client = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        if self._client is None:
            return
        self._client.settimeout(None)
        self._client.sendall(b'?WATCH={"enable":true,"json":true,"pps":true};\n')
        for line in self._client.makefile("r", errors="replace"):
            try:
                report = json.loads(line)
            except ValueError:
                continue
            if report.get("class") == "TOFF":
                clock = report["clock_sec"] + report["clock_nsec"] / 1e9
                real = report["real_sec"] + report["real_nsec"] / 1e9
                with self._lock:
                    self.toff.append((clock, real - clock))

    def samples(self):
        with self._lock:
            return list(self.toff)

    def _find_gpsd(self):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/comm") as comm:
                    name = comm.read().strip()
            except OSError:
                continue
            if name == "gpsd" and int(fields[1]) == self.process.pid:
                return int(entry)
        return None

    def stop(self):
        """Stops gpsfake and its gpsd (gpsfake kills gpsd on SIGTERM); returns when both are gone."""
        self.gpsd_pid = self._find_gpsd() or self.gpsd_pid
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.gpsd_pid is not None:
            gone = harness.wait_for(lambda: not os.path.exists(f"/proc/{self.gpsd_pid}"), 5)
            if not gone:
                os.kill(self.gpsd_pid, signal.SIGKILL)
        if self._client is not None:
            self._client.close()

    def log(self):
        self.output.seek(0)
        return self.output.read()

    def close(self):
        try:
            self.stop()
        finally:
            self.output.close()


# --- SysV shared memory, for the segment-of-the-wrong-size check ---

_libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT, IPC_RMID = 0o1000, 0


def create_segment(key, size):
    shmid = _libc.shmget(ctypes.c_int(key), ctypes.c_size_t(size), ctypes.c_int(IPC_CREAT | 0o600))
    if shmid < 0:
        raise OSError(ctypes.get_errno(), "shmget")
    return shmid


class RefclocksInPrivateNamespaces(unittest.TestCase):
    """Runs only inside the namespaces."""

    @classmethod
    def setUpClass(cls):
        harness.loopback_up()
        # /run is this mount namespace's own: the SOCK paths gpsd would use live there.
        mounted = harness.run(["mount", "-t", "tmpfs", "tmpfs", "/run"])
        if mounted.returncode != 0:
            raise AssertionError(f"mount -t tmpfs tmpfs /run: {mounted.stderr}")

    def test_shm_from_gpsd(self):
        started = time.monotonic()
        directory = tempfile.mkdtemp(prefix="smeard-itest-gpsd-")
        # smeard first: it creates the segment (mode 0600, unit 0) that gpsd then attaches.
        with refclock_daemon(["type: shm", "unit: 0"]) as daemon:
            gpsd = Gpsd(directory)
            self.addCleanup(gpsd.close)
            synchronized = harness.wait_for(lambda: "synchronized" in stage_events(daemon), 30)
            self.assertTrue(synchronized, f"smeard's log:\n{daemon.log()}\ngpsfake's:\n{gpsd.log()}")
            log(f"  SHM: synchronized {time.monotonic() - started:.1f} s after smeard started "
                f"(gpsfake read the log {gpsd.loaded_at - started:.1f} s in)")
            # Enough samples for the tracker's line to have a slope.
            self.assertTrue(harness.wait_for(lambda: len(gpsd.samples()) >= 10, 20), gpsd.log())

            replies = [query(daemon) for _ in range(5)]
            for reply in replies:
                self.assertEqual((reply["leap"], reply["stratum"], reply["refid"]), (0, 1, b"SHM0"),
                                 f"{reply}\nsmeard's log:\n{daemon.log()}\ngpsd's samples: {gpsd.samples()}")
            served = best_query(daemon)
            samples = gpsd.samples()
            recent = [offset for _, offset in samples[-8:]]
            expected = sorted(recent)[len(recent) // 2]
            spread = max(recent) - min(recent)
            log(f"  SHM: gpsd's last {len(recent)} samples, NMEA time minus gpsd's receive time: "
                f"median {expected * 1e3:+.3f} ms, spread {spread * 1e3:.3f} ms")
            log(f"  SHM: served time minus the system clock {served['offset'] * 1e3:+.3f} ms "
                f"(round trip {served['delay'] * 1e6:.0f} us): {abs(served['offset'] - expected) * 1e3:.3f} ms "
                f"from gpsd's")
            # What gpsd measured is what smeard serves: within its jitter, the line's lag and the query.
            self.assertLess(abs(served["offset"] - expected), 0.002 + spread + served["delay"], samples[-8:])
            # The log's times are the system clock's when gpsfake read it; gpsfake then starts
            # sending 20 to 50 ms later on an idle machine, 130 ms measured under load, and its
            # pacing holds to a few ms over a test's length. Half a second off is a broken feed.
            self.assertLess(abs(expected), 0.5, samples)

            text = metrics_text(daemon)
            self.assertIn('smeard_source_state{type="shm",source="SHM(0)",state="selected"} 1', text)
            status = harness.run([harness.binary(harness.SMEARCTL), "status", "--url", daemon.metrics_url]).stdout
            self.assertRegex(status, r"\nselected\s+SHM\(0\)\s+0\s+1\s+", status)
            self.assertIn('smeard_reference_stage{type="shm",stage="synchronized"} 1', text)
            ipcs = harness.run(["ipcs", "-m"]).stdout
            self.assertRegex(ipcs, r"0x4e545030\s+\d+\s+root\s+600\s+96\s+2", ipcs)  # smeard and gpsd

            # gpsd goes away: holdover, then LI=3 / stratum 16 once `holdover` has passed since
            # the last sample smeard took.
            gpsd.stop()
            # gpsd may have written a last sample smeard never polled: holdover counts from the
            # last one smeard took, which must be one gpsd reported.
            flipped = wait_until_unsynchronized(self, daemon, 0)
            last = last_sample(daemon, "shm", "SHM(0)")
            self.assertTrue(any(abs(clock - last) < 2e-6 for clock, _ in gpsd.samples()), (last, gpsd.samples()))
            after = flipped - last
            log(f"  SHM: gpsd stopped; replies say LI=3, stratum 16 {after:.2f} s after the last sample smeard took "
                f"(holdover {HOLDOVER} s)")
            self.assertGreater(after, HOLDOVER - 0.1, daemon.log())
            self.assertLess(after, HOLDOVER + 2.5, daemon.log())
            self.assertTrue(harness.wait_for(lambda: daemon.events("refclock_unreachable")[-1:]
                                     and daemon.events("refclock_unreachable")[-1]["why"].startswith("no good sample"),
                                     TIMEOUT + 3), daemon.log())
            # The stage is logged at the control tick after the snapshot that says LI=3.
            self.assertTrue(harness.wait_for(lambda: stage_events(daemon)[-1] == "unsynchronized", 2), daemon.log())
            self.assertIn('smeard_source_state{type="shm",source="SHM(0)",state="unreachable"} 1', metrics_text(daemon))
            daemon.stop()
        log(f"  SHM: {time.monotonic() - started:.1f} s in all")

    def test_sock_datagrams_in_gpsd_format(self):
        started = time.monotonic()
        path = "/run/chrony.ttyS0.sock"
        offset = 0.0375
        with refclock_daemon(["type: sock", f"path: {path}"]) as daemon:
            self.assertTrue(os.path.exists(path))
            sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.addCleanup(sender.close)
            sender.connect(path)

            good_sent = []

            def send(pulse=0, magic=SOCK_MAGIC, leap=0, size=None):
                # gpsd's chrony_send: struct sock_sample { struct timeval tv; double offset; int pulse,
                # leap, _pad, magic; }, tv the system clock at the event.
                now = time.time()
                datagram = struct.pack("=qqdiiii", int(now), int((now % 1) * 1e6), offset, pulse, leap, 0, magic)
                sender.send(datagram if size is None else datagram[:size])
                if (pulse, magic, size) == (0, SOCK_MAGIC, None):
                    good_sent.append(now)

            stop = threading.Event()

            def every_second():
                while not stop.is_set():
                    send()
                    stop.wait(1.0)

            thread = threading.Thread(target=every_second, daemon=True)
            thread.start()
            self.assertTrue(harness.wait_for(lambda: "synchronized" in stage_events(daemon), 10), daemon.log())
            time.sleep(3)
            for reply in (query(daemon) for _ in range(5)):
                self.assertEqual((reply["leap"], reply["stratum"], reply["refid"]), (0, 1, b"SOCK"), reply)
            served = best_query(daemon)
            log(f"  SOCK: served time minus the system clock {served['offset'] * 1e3:+.3f} ms for an offset of "
                f"{offset * 1e3:+.3f} ms sent (round trip {served['delay'] * 1e6:.0f} us)")
            self.assertLess(abs(served["offset"] - offset), 0.001 + served["delay"], served)
            self.assertIn(f'smeard_source_state{{type="sock",source="SOCK({path})",state="selected"}} 1',
                          metrics_text(daemon))

            # A pulse and malformed datagrams: logged once each, and they do not disturb the samples.
            for _ in range(3):
                send(pulse=1)
                send(magic=0x12345678)
                send(size=24)
            self.assertTrue(harness.wait_for(lambda: daemon.events("sock_pulse_refused") and
                                     daemon.events("sock_malformed_datagram"), 3), daemon.log())
            time.sleep(1.5)
            self.assertEqual(len(daemon.events("sock_pulse_refused")), 1, daemon.log())
            self.assertEqual(len(daemon.events("sock_malformed_datagram")), 1, daemon.log())
            self.assertEqual(query(daemon)["stratum"], 1)

            stop.set()
            thread.join()
            after = wait_until_unsynchronized(self, daemon, good_sent[-1])
            log(f"  SOCK: sender stopped; replies say LI=3, stratum 16 {after:.2f} s after its last datagram")
            self.assertGreater(after, HOLDOVER - 0.1, daemon.log())
            self.assertLess(after, HOLDOVER + 2.5, daemon.log())
            daemon.stop()
        self.assertFalse(os.path.exists(path), "smeard left its socket behind")
        log(f"  SOCK: {time.monotonic() - started:.1f} s in all")

    def test_a_segment_too_small_for_shmtime_stops_smeard_at_start(self):
        shmid = create_segment(0x4E545035, 16)
        self.addCleanup(lambda: _libc.shmctl(shmid, IPC_RMID, None))
        port, text = config(["type: shm", "unit: 5"], None)  # `unit` is on line 9, its value at column 9
        with tempfile.TemporaryDirectory(prefix="smeard-itest-") as directory:
            path = harness.write_file(directory, "smeard.yaml", text)
            result = harness.run([harness.binary(harness.SMEARD), "--config", path], timeout=10)
        self.assertEqual(result.returncode, 1, result.stderr)
        failures = [harness.parse_log_line(l) for l in result.stderr.splitlines() if "event=reference_failed" in l]
        self.assertEqual(len(failures), 1, result.stderr)
        self.assertEqual(failures[0]["problem"],
                         f"{path}:9:9: reference.unit: shmget(0x4e545035): Invalid argument "
                         "(a segment with this key exists, smaller than ntpd's shmTime)")


class RefclockReference(unittest.TestCase):
    def test_in_private_namespaces(self):
        for name, package in (("unshare", "util-linux"), ("gpsfake", "gpsd-clients"), ("gpsd", "gpsd"),
                              ("ip", "iproute2"), ("ipcs", "util-linux")):
            harness.tool(name, package)
        unshare = harness.tool("unshare", "util-linux")
        isolate = [unshare, "--ipc", "--net", "--mount"]
        if os.geteuid() != 0:
            isolate[1:1] = ["--user", "--map-root-user"]
        env = dict(os.environ, SMEARD_ITEST_REFCLOCK_NS="1", SMEARD=harness.binary(harness.SMEARD))
        script = os.path.abspath(__file__)
        result = harness.run(isolate + ["--", sys.executable, script, "-v"], timeout=180, env=env,
                             cwd=os.path.dirname(script))
        output = result.stdout + result.stderr
        log("\n" + output.rstrip())
        self.assertEqual(result.returncode, 0, f"inside the namespaces:\n{output}")
        # Each inner test ran and passed (its measurements are printed between its name and "ok").
        for test in ("test_shm_from_gpsd", "test_sock_datagrams_in_gpsd_format",
                     "test_a_segment_too_small_for_shmtime_stops_smeard_at_start"):
            self.assertRegex(output, re.compile(test + r" \(.*?\) \.\.\.[\s\S]*?^ok$", re.M), output)
        self.assertNotRegex(output, r"(FAIL|ERROR|skipped)", output)
        self.assertRegex(output, r"Ran 3 tests.*\n+OK\n")

    def test_a_sock_path_in_a_missing_directory_stops_smeard_at_start(self):
        port, text = config(["type: sock", "path: /nonexistent/dir/x.sock"], None)  # `path` on line 9, its value at column 9
        with tempfile.TemporaryDirectory(prefix="smeard-itest-") as directory:
            path = harness.write_file(directory, "smeard.yaml", text)
            result = harness.run([harness.binary(harness.SMEARD), "--config", path], timeout=10)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertNotIn("event=listening", result.stderr)
        failures = [harness.parse_log_line(l) for l in result.stderr.splitlines() if "event=reference_failed" in l]
        self.assertEqual(len(failures), 1, result.stderr)
        self.assertEqual(failures[0]["problem"], f"{path}:9:9: reference.path: /nonexistent/dir/x.sock: "
                                                 "cannot bind: No such file or directory")


def load_tests(loader, tests, pattern):
    return loader.loadTestsFromTestCase(RefclocksInPrivateNamespaces if INSIDE else RefclockReference)


if __name__ == "__main__":
    unittest.main()
