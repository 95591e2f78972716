"""Shared helpers for smeard's integration tests: binaries, ports, configs, a running daemon.

Run every test (from the repository root, with Debian's python for python3-ntplib):

    SMEARD=build/itest/server/smeard SMEARCTL=build/itest/server/smearctl \
        /usr/bin/python3 -m unittest discover -s tests/integration -v

SMEARD and SMEARCTL default to build/release/server/{smeard,smearctl}. The clients come from
Debian packages: chrony (chronyd), ntpsec-ntpdig (ntpdig), python3-ntplib; test_ntpdig.py also
needs unshare (util-linux) and ip (iproute2), and root or unprivileged user namespaces.
"""

import atexit
import ctypes
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMEARD = os.environ.get("SMEARD") or str(REPO / "build/release/server/smeard")
SMEARCTL = os.environ.get("SMEARCTL") or str(REPO / "build/release/server/smearctl")

START_TIMEOUT = 10.0  # seconds for smeard to log event=listening for every listener
STOP_TIMEOUT = 10.0  # seconds for smeard to exit after SIGTERM/SIGINT


def binary(path):
    """The absolute path of an existing executable, or an AssertionError that says what to build."""
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} is not an executable: build it, or set SMEARD/SMEARCTL")
    return os.path.abspath(path)


def tool(name, package):
    """The path of a client program, or an AssertionError that names the Debian package."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)
    if path is None:
        raise AssertionError(f"{name} not found: apt-get install {package}")
    return path


def free_udp_port():
    """A UDP port that is free on both 127.0.0.1 and ::1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as v4:
            v4.bind(("127.0.0.1", 0))
            port = v4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as v6:
                    v6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no UDP port free on both 127.0.0.1 and ::1")


def free_tcp_port():
    """A TCP port free on 127.0.0.1 right now (for smeard's metrics endpoint, Prometheus)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("padding", ctypes.c_int * 11)]


def kernel_clock():
    """What adjtimex(2) says, read-only: (synchronized, maximum error in seconds, TAI offset)."""
    tx = _Timex()
    state = ctypes.CDLL(None, use_errno=True).adjtimex(ctypes.byref(tx))
    synchronized = state >= 0 and state != 5 and not tx.status & 0x40  # TIME_ERROR, STA_UNSYNC
    return synchronized, tx.maxerror / 1e6, tx.tai


def served_refid(configured):
    """The refid a system reference with `unsynchronized: {local_stratum: N}` serves: its own
    when the kernel says the clock is synchronized, LOCL (the local clock) when it does not, as
    on most test machines, where nothing disciplines the clock."""
    return configured if kernel_clock()[0] else "LOCL"


def config_text(addresses, refid="GPS", workers=2, metrics=None, local_stratum=1):
    """A smeard configuration serving true UTC on each "HOST:PORT" / "[V6]:PORT" address from the
    system clock, with the metrics endpoint on `metrics` ("HOST:PORT"), or off. With
    `local_stratum`, an unsynchronized kernel clock is served at that stratum (refid LOCL)
    instead of as unsynchronized, as chrony's `local stratum` does on a lab machine."""
    lines = ["listeners:"]
    for address in addresses:
        lines += [f'  - address: "{address}"', "    timescale: utc"]
    lines += ["timescales:", "  utc:", "    smear: none",
              "reference:", "  type: system", f"  refid: {refid}"]
    if local_stratum:
        lines.append(f"  unsynchronized: {{local_stratum: {local_stratum}}}")
    lines += [f"workers: {workers}", f'metrics: {{listen: "{metrics}"}}' if metrics else "metrics: {listen: off}", ""]
    return "\n".join(lines)


def scrape(metrics_url):
    """smeard's /metrics as {(name, labels text): value}, for the labelled series."""
    import urllib.request
    with urllib.request.urlopen(metrics_url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("smeard_") and "{" in line:
            name, rest = line.split("{", 1)
            labels, value = rest.rsplit("} ", 1)
            values[(name, labels)] = float(value)
    return values


def total(values, name, **labels):
    """The sum of a scraped metric over the series that carry all of `labels`."""
    return sum(v for (n, l), v in values.items()
               if n == name and all(f'{k}="{val}"' in l for k, val in labels.items()))


def write_file(directory, name, text):
    path = Path(directory) / name
    path.write_text(text)
    return str(path)


def parse_log_line(line):
    """smeard's `key=value key="quoted \\"value\\""` log line as a dict."""
    fields = {}
    for key, value in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line):
        if value.startswith('"'):
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        fields[key] = value
    return fields


def run(args, timeout=20, **kwargs):
    """subprocess.run with captured text output and a bound on time."""
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def run_in_private_network(script, timeout=60):
    """Runs the test file `script` again inside a new network namespace (unshare --net; as
    root that is enough, otherwise we map ourselves to root in a user namespace), with
    SMEARD_ITEST_NETNS=1 so it knows. Returns the completed process."""
    unshare = tool("unshare", "util-linux")
    isolate = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--user", "--map-root-user", "--net"]
    env = dict(os.environ, SMEARD_ITEST_NETNS="1", SMEARD=binary(SMEARD))
    script = os.path.abspath(script)
    return run(isolate + ["--", sys.executable, script, "-v"], timeout=timeout, env=env,
               cwd=os.path.dirname(script))


def loopback_up():
    """Brings up lo in a network namespace run_in_private_network made (it starts down)."""
    up = run([tool("ip", "iproute2"), "link", "set", "lo", "up"])
    if up.returncode != 0:
        raise AssertionError(f"ip link set lo up: {up.stderr}")


def wait_for(predicate, timeout, step=0.1):
    """Polls predicate() every `step` seconds until it returns something true, and returns
    that; after `timeout` seconds, whatever it returns then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def best_of(measure, delay, count=5):
    """Calls measure() count times and returns the sample with the smallest delay(sample), as
    NTP clients do: a sample's offset error is bounded by half its round-trip delay, so on a
    busy machine one late wake-up does not fail an offset check, while a real offset still does."""
    return min((measure() for _ in range(count)), key=delay)


# Every smeard still running when the interpreter exits is killed; PR_SET_PDEATHSIG covers
# a runner that is itself killed.
_running = set()
atexit.register(lambda: [p.kill() for p in list(_running) if p.poll() is None])
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Smeard:
    """One smeard process. Use as a context manager, or call start() and close().

    start() returns once every listener logged event=listening (and every event named in
    `ready_events`, {name: count}, was logged that often); stop() sends a signal and
    asserts a clean exit (status 0 and an event=stopped line) and returns that line's fields.
    """

    def __init__(self, addresses=None, refid="GPS", workers=2, text=None, wrapper=(), args=(), env=None,
                 ready_events=None):
        """`wrapper`: a command that execs smeard (setpriv, say); `args`: more arguments for smeard;
        `env`: variables added to its environment."""
        self.addresses = list(addresses) if addresses else [f"127.0.0.1:{free_udp_port()}"]
        self.wrapper, self.args = list(wrapper), list(args)
        self.env = dict(os.environ, **env) if env else None
        self.refid = refid
        self.ready_events = dict(ready_events or {})
        self.directory = tempfile.mkdtemp(prefix="smeard-itest-")
        self.config = write_file(self.directory, "smeard.yaml",
                                 text or config_text(self.addresses, refid, workers))
        self.process = None
        self.lines = []
        self._changed = threading.Condition()

    @property
    def port(self):
        return int(self.addresses[0].rsplit(":", 1)[1])

    @property
    def pid(self):
        return self.process.pid

    def log(self):
        with self._changed:
            return "".join(self.lines)

    def events(self, name):
        with self._changed:
            return [parse_log_line(l) for l in self.lines if parse_log_line(l).get("event") == name]

    def _read_stderr(self):
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def start(self):
        self.process = subprocess.Popen(self.wrapper + [binary(SMEARD), "--config", self.config] + self.args,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent,
                                        env=self.env)
        _running.add(self.process)
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        with self._changed:
            while not self._ready():
                left = deadline - time.monotonic()
                if self.process.poll() is not None or left <= 0:
                    break
                self._changed.wait(min(left, 0.1))
        listening = {e["address"] for e in self.events("listening")}
        if not self._ready() or listening != {self._canonical(a) for a in self.addresses}:
            status = self.process.poll()
            self.close()
            why = f"exited with status {status}" if status is not None else f"still not after {START_TIMEOUT} s"
            raise AssertionError(f"smeard did not start listening on {self.addresses}: {why}; "
                                 f"its log:\n{self.log()}")
        return self

    def _ready(self):
        wanted = {"listening": len(self.addresses), **self.ready_events}
        return all(len(self.events(event)) >= n for event, n in wanted.items())

    @staticmethod
    def _canonical(address):
        host, port = address.rsplit(":", 1)
        if host.startswith("["):
            host = "[" + socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host[1:-1])) + "]"
        return f"{host}:{port}"

    def stop(self, sig=signal.SIGTERM):
        """Signals smeard, asserts exit status 0 and an event=stopped line, returns its fields."""
        self.process.send_signal(sig)
        try:
            status = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError(f"smeard did not exit within {STOP_TIMEOUT} s of {sig.name}; "
                                 f"its log:\n{self.log()}")
        self._reader.join(5)
        _running.discard(self.process)
        stopped = self.events("stopped")
        if status != 0 or len(stopped) != 1:
            raise AssertionError(f"after {sig.name} smeard exited with {status} and logged "
                                 f"{len(stopped)} event=stopped lines; its log:\n{self.log()}")
        return stopped[0]

    def close(self):
        """Kills smeard if it still runs and removes its files; safe to call more than once."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        if self.process is not None:
            _running.discard(self.process)
            if self.process.stderr:
                self.process.stderr.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# --- Real peers ---

class Chronyd:
    """A chronyd serving its own system clock at local stratum 2 on 127.0.0.1:port, optionally
    under faketime. It does not touch the system clock (-x)."""

    def __init__(self, directory, offset=None):
        self.port = free_udp_port()
        self.offset = offset
        self.directory = directory
        self.conf = os.path.join(directory, f"chronyd-{self.port}.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join([f"port {self.port}", "bindaddress 127.0.0.1", "allow 127.0.0.1", "cmdport 0",
                               "local stratum 2", f"pidfile {directory}/chronyd-{self.port}.pid",
                               f"driftfile {directory}/chronyd-{self.port}.drift", ""]))
        self.process = None

    def start(self):
        command = [tool("chronyd", "chrony"), "-x", "-d", "-f", self.conf]
        if self.offset:
            command = [tool("faketime", "faketime"), "-f", self.offset] + command
        # Its own process group: faketime runs chronyd as a child, which a signal to faketime
        # alone would leave running.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            reply = request(("127.0.0.1", self.port), ntp_request(), timeout=0.2)
            if reply and decode(reply)["leap"] == 0:
                return self
        self.stop()
        raise AssertionError(f"chronyd on port {self.port} never served LI=0")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self.process:
            try:  # a chronyd that outlived faketime
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


# --- NTP packets, for the tests that talk to smeard directly ---

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01

LEAP_FIXTURES = REPO / "tests/unit/leapdb/fixtures"


def leap_seconds_list(expires_unix):
    """A correctly hashed leap-seconds.list with the real leaps and the given expiry, so a test
    that needs an unexpired table does not depend on how current the machine's tzdata is."""
    text = (LEAP_FIXTURES / "leap-seconds.list").read_text()
    data = [l.split("#")[0].split() for l in text.splitlines() if l and not l.startswith("#")]
    updated = int(next(l.split()[1] for l in text.splitlines() if l.startswith("#$")))
    expires = expires_unix + NTP_EPOCH_OFFSET
    digest = hashlib.sha1(("%d%d" % (updated, expires) + "".join(a + b for a, b in data)).encode()).hexdigest()
    words = " ".join("%x" % int(digest[i:i + 8], 16) for i in range(0, 40, 8))
    lines = [l for l in text.splitlines() if not l.startswith(("#@", "#h"))]
    return "\n".join(lines[:3] + ["#@\t%d" % expires] + lines[3:] + ["#h\t" + words]) + "\n"


def ntp_request(version=4, mode=3, transmit=None, li=0):
    """A 48-byte NTP header with the given version and mode and an 8-byte transmit timestamp."""
    transmit = transmit if transmit is not None else os.urandom(8)
    first = (li << 6) | (version << 3) | mode
    return struct.pack("!BBbb", first, 0, 6, -20) + bytes(36) + transmit


def decode(reply):
    """The header fields of an NTP packet as a dict; timestamps as Unix seconds (floats)."""
    first, stratum, poll, precision, root_delay, root_disp, refid = struct.unpack("!BBbbIII", reply[:16])

    def ts(offset):
        seconds, fraction = struct.unpack("!II", reply[offset:offset + 8])
        return seconds - NTP_EPOCH_OFFSET + fraction / 2**32

    return {"leap": first >> 6, "version": (first >> 3) & 7, "mode": first & 7, "stratum": stratum,
            "poll": poll, "precision": precision, "refid": struct.pack("!I", refid).rstrip(b"\0"),
            "reference": ts(16), "origin_raw": reply[24:32], "receive": ts(32), "transmit": ts(40)}


def header(port, host="127.0.0.1"):
    """smeard's (or any server's) reply header to one request, with the refid's raw bytes and the
    root delay and dispersion in seconds; None without a reply within a second."""
    reply = request((host, port), ntp_request(), timeout=1)
    if reply is None:
        return None
    fields = decode(reply)
    fields["refid_raw"] = reply[12:16]
    fields["root_delay"] = int.from_bytes(reply[4:8], "big") / 65536
    fields["root_dispersion"] = int.from_bytes(reply[8:12], "big") / 65536
    return fields


def terminate(process, timeout=5):
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def udp_socket(host):
    """A UDP socket of the right family for host ("127.0.0.1", "::1")."""
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)


def request(address, payload, timeout=2.0, source=None):
    """Sends payload to (host, port) from a fresh socket, bound to the `source` address if given
    (another 127.x.y.z, to be another client); returns the first reply, or None."""
    with udp_socket(address[0]) as s:
        if source is not None:
            s.bind((source, 0))
        s.settimeout(timeout)
        s.sendto(payload, address)
        try:
            return s.recv(4096)
        except socket.timeout:
            return None


# SO_TIMESTAMPING (linux/net_tstamp.h): the kernel's software stamps of a datagram leaving
# (read back from the error queue) and arriving, as a client with kernel timestamps measures.
_SO_TIMESTAMPING = 37
_STAMP_FLAGS = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 11)  # TX_SOFTWARE, RX_SOFTWARE, SOFTWARE, OPT_TSONLY


def _kernel_stamp(ancillary):
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPING and len(data) >= 16:
            seconds, nanoseconds = struct.unpack("=qq", data[:16])  # the software stamp comes first
            if seconds:
                return seconds + nanoseconds / 1e9
    return None


def exchange(port, host="127.0.0.1", timeout=2.0):
    """One NTP exchange with the server at host:port, stamped by the kernel as the request left
    and the reply arrived: the header fields, plus the served time minus this clock ("offset")
    and the round trip ("delay"), in seconds; None without a reply."""
    with udp_socket(host) as s:
        s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPING, _STAMP_FLAGS)
        s.settimeout(timeout)
        request_bytes = ntp_request()
        t1 = time.time()
        s.sendto(request_bytes, (host, port))
        try:
            reply, ancillary, _, _ = s.recvmsg(4096, 1024)
        except socket.timeout:
            return None
        t4 = _kernel_stamp(ancillary) or time.time()
        try:  # the transmit stamp waits in the error queue by now (loopback delivers at once)
            _, sent, _, _ = s.recvmsg(0, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            t1 = _kernel_stamp(sent) or t1
        except BlockingIOError:
            pass
    fields = decode(reply)
    fields["offset"] = ((fields["receive"] - t1) + (fields["transmit"] - t4)) / 2
    fields["delay"] = (t4 - t1) - (fields["transmit"] - fields["receive"])
    return fields


class Querier:
    """Queries a server every `interval` seconds from its own thread, as a client would, keeping
    each reply's (when, leap, stratum, refid, offset, delay); check() judges what it saw."""

    def __init__(self, port, interval=0.1):
        self.port, self.interval = port, interval
        self.samples = []
        self.lost = 0
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_event.wait(self.interval):
            f = exchange(self.port, timeout=0.5)
            if f is None:
                self.lost += 1
                continue
            self.samples.append((time.time(), f["leap"], f["stratum"], f["refid"], f["offset"], f["delay"]))

    def check(self, testcase, daemon, label, tolerance=0.001, strata=None):
        """No reply said LI=3 or stratum 16, each came at one of `strata` (if given), and every
        offset was within `tolerance` beyond half its round trip, so nothing stepped. Prints a line."""
        self.stop_event.set()
        self.thread.join(5)
        samples = self.samples
        testcase.assertGreater(len(samples), 0, f"{label}: no reply at all\n{daemon.log()}")
        unsynchronized = [s for s in samples if s[1] == 3 or s[2] >= 16]
        testcase.assertEqual(unsynchronized, [], f"{label}: replies said unsynchronized\n{daemon.log()}")
        seen = sorted({s[2] for s in samples})
        if strata is not None:
            testcase.assertEqual(set(seen) - set(strata), set(), f"{label}: replies at other strata\n{daemon.log()}")
        worst = max(samples, key=lambda s: abs(s[4]) - s[5] / 2)
        steps = [abs(b[4] - a[4]) for a, b in zip(samples, samples[1:])]
        sys.stderr.write(f"  {label}: {len(samples)} replies ({self.lost} lost), none LI=3, strata {seen}, worst offset "
                         f"{worst[4] * 1e6:+.0f} us (round trip {worst[5] * 1e6:.0f} us), largest change between "
                         f"replies {max(steps or [0]) * 1e6:.0f} us\n")
        testcase.assertLess(abs(worst[4]) - worst[5] / 2, tolerance, f"{label}: {worst}\n{daemon.log()}")
