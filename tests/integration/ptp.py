"""linuxptp's ptp4l for the tests of a reference's `ptp4l:` option: a master and a slave on a veth
pair between two network namespaces, and a fake ptp4l that replays recorded replies.

    with ptp.Pair() as pair:              # namespaces, veth, addresses; all gone again on exit
        pair.start_master()
        pair.start_slave()                # free_running 1, slaveOnly 1: never touches a clock
        pair.wait_for_state(pair.slave_socket, "UNCALIBRATED")
        pair.stop_master()
        pair.wait_for_state(pair.slave_socket, "LISTENING")

Both instances run with software timestamping (-S) over layer 2 (-2) and `free_running 1`: with
software timestamps ptp4l's clock is the system clock, and free_running is what keeps it from
stepping or slewing it. So the slave stays UNCALIBRATED (it never locks), which is why the SLAVE
state comes from FakePtp4l and an edited fixture instead.

Needs root (ip netns), ip (iproute2) and ptp4l and pmc (linuxptp). Run as a script, it records
the fixtures under tests/unit/server/reference/fixtures/ptp4l (see the README there):

    sudo python3 tests/integration/ptp.py record [DIRECTORY]
"""

import atexit
import ctypes
import itertools
import os
import re
import select
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

from harness import tool, wait_for

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests/unit/server/reference/fixtures/ptp4l"

# Management IDs (IEEE 1588-2008 table 40, and linuxptp's TIME_STATUS_NP).
DEFAULT_DATA_SET = 0x2000
PARENT_DATA_SET = 0x2002
PORT_DATA_SET = 0x2004
TIME_STATUS_NP = 0xC000
ASKED = {"port_data_set": PORT_DATA_SET, "time_status_np": TIME_STATUS_NP,
         "default_data_set": DEFAULT_DATA_SET, "parent_data_set": PARENT_DATA_SET}

PORT_STATES = {1: "INITIALIZING", 2: "FAULTY", 3: "DISABLED", 4: "LISTENING", 5: "PRE_MASTER", 6: "MASTER",
               7: "PASSIVE", 8: "UNCALIBRATED", 9: "SLAVE", 10: "GRAND_MASTER"}
PORT_STATE_OFFSET = 64  # in a PORT_DATA_SET reply: 48 header + 6 TLV head + 10 portIdentity

START_TIMEOUT = 30.0  # seconds: ptp4l's first announce timeout alone takes six


def unavailable():
    """Why the namespaced ptp4l pair cannot run here (for skipTest), or None."""
    if os.geteuid() != 0:
        return "ip netns needs root"
    for name, package in (("ip", "iproute2"), ("ptp4l", "linuxptp"), ("pmc", "linuxptp")):
        try:
            tool(name, package)
        except AssertionError as e:
            return str(e)
    return None


def ptp4l_version():
    """ptp4l -v as a tuple of ints, e.g. (3, 1, 1)."""
    out = subprocess.run([tool("ptp4l", "linuxptp"), "-v"], capture_output=True, text=True, timeout=10)
    return tuple(int(n) for n in re.findall(r"\d+", out.stdout + out.stderr)[:3])


def _run(args, timeout=20):
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


def _die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# --- The management messages, as smeard sends them ---

def management_get(management_id, sequence_id, source=bytes(10), domain=0):
    """A GET for one management ID to every port (targetPortIdentity all ones), boundaryHops 0."""
    header = struct.pack("!BBHBBH8s4s10sHBb", 0x0D, 2, 54, domain, 0, 0, bytes(8), bytes(4), source,
                         sequence_id, 0x04, 0x7F)
    return header + b"\xff" * 10 + bytes([0, 0, 0, 0]) + struct.pack("!HHH", 0x0001, 2, management_id)


def parse_management(datagram):
    """A management message's fields, or None for anything else:
    {"sequence_id", "source", "target", "action", "tlv_type", "id"} (id None without one)."""
    if len(datagram) < 52 or datagram[0] & 0x0F != 0x0D:
        return None
    tlv_type, length = struct.unpack_from("!HH", datagram, 48)
    return {"sequence_id": struct.unpack_from("!H", datagram, 30)[0], "source": datagram[20:30],
            "target": datagram[34:44], "action": datagram[46] & 0x0F, "tlv_type": tlv_type,
            "id": struct.unpack_from("!H", datagram, 52)[0] if length >= 2 and len(datagram) >= 54 else None}


def answer_to(reply, request):
    """A recorded reply made an answer to `request`: its sequenceId, and its targetPortIdentity
    the request's sourcePortIdentity, as ptp4l echoes them."""
    return reply[:30] + request[30:32] + reply[32:34] + request[20:30] + reply[44:]


def port_state_of(reply):
    """The portState of a PORT_DATA_SET reply, by name."""
    return PORT_STATES.get(reply[PORT_STATE_OFFSET], f"state {reply[PORT_STATE_OFFSET]}")


def ask(path, ids, timeout=1.0, domain=0):
    """Sends a GET for each management ID to the ptp4l socket at `path`; returns {id: [reply
    datagrams]} as received within `timeout` seconds. From a socket bound in a directory of our
    own, not an abstract one: ptp4l in another network namespace cannot reach those."""
    replies = {i: [] for i in ids}
    with tempfile.TemporaryDirectory(prefix="smeard-ptp-ask-") as directory, \
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(os.path.join(directory, "client.sock"))
        sent = {}
        for sequence, management_id in enumerate(ids):
            sent[sequence] = management_id
            s.sendto(management_get(management_id, sequence, domain=domain), path)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            datagram = s.recv(2048)
            fields = parse_management(datagram)
            if fields and fields["sequence_id"] in sent:
                replies[sent[fields["sequence_id"]]].append(datagram)
    return replies


def ask_one(path, management_id):
    """The one reply to a GET for `management_id`, or b"" when there is not exactly one."""
    got = ask(path, [management_id])[management_id]
    return got[0] if len(got) == 1 else b""


def pmc_port_state(path):
    """What `pmc -u -s PATH -b 0 'GET PORT_DATA_SET'` says the first port's state is, or None."""
    done = subprocess.run([tool("pmc", "linuxptp"), "-u", "-s", path, "-b", "0", "GET PORT_DATA_SET"],
                          capture_output=True, text=True, timeout=10)
    found = re.search(r"portState\s+(\S+)", done.stdout)
    return found.group(1) if found else None


# --- Two ptp4l instances on a veth pair ---

_pairs = itertools.count()
# Pairs still open when the interpreter exits are closed then; PR_SET_PDEATHSIG covers a runner
# that is itself killed, as far as ptp4l goes.
_open = set()
atexit.register(lambda: [pair.close() for pair in list(_open)])


class Pair:
    """Two network namespaces joined by a veth pair, with a ptp4l master in one and a free-running,
    slave-only ptp4l in the other. A context manager: leaving it (or close()) kills both and
    deletes the namespaces (and with them the veth), whatever happened."""

    def __init__(self):
        n = next(_pairs)
        base = f"smeard-ptp-{os.getpid()}-{n}"
        self.namespaces = {"master": base + "-m", "slave": base + "-s"}
        tag = f"sptp{os.getpid() % 100000}x{n}"  # interface names are at most 15 bytes
        self.interfaces = {"master": tag + "m", "slave": tag + "s"}
        self.addresses = {"master": f"10.213.{n % 256}.1/24", "slave": f"10.213.{n % 256}.2/24"}
        self.directory = tempfile.mkdtemp(prefix="smeard-ptp-")
        self.master_socket = os.path.join(self.directory, "master.sock")
        self.slave_socket = os.path.join(self.directory, "slave.sock")
        self.processes = {}
        self._created = []  # namespaces
        self._veth = False
        _open.add(self)

    def __enter__(self):
        try:
            self.create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def create(self):
        ip = tool("ip", "iproute2")
        for namespace in self.namespaces.values():
            _run([ip, "netns", "add", namespace])
            self._created.append(namespace)
            _run([ip, "netns", "exec", namespace, ip, "link", "set", "lo", "up"])
        _run([ip, "link", "add", self.interfaces["master"], "type", "veth", "peer", "name", self.interfaces["slave"]])
        self._veth = True
        for role, namespace in self.namespaces.items():
            interface = self.interfaces[role]
            _run([ip, "link", "set", interface, "netns", namespace])
            _run([ip, "netns", "exec", namespace, ip, "addr", "add", self.addresses[role], "dev", interface])
            _run([ip, "netns", "exec", namespace, ip, "link", "set", interface, "up"])

    def config(self, role, extra=()):
        """Writes ptp4l's config for `role` and returns its path. free_running 1 for both: with -S
        their clock is the system clock, which neither may steer (the master would, were it ever
        to become a slave)."""
        lines = ["[global]", "free_running 1", f"uds_address {self.socket(role)}"]
        if ptp4l_version() >= (4,):
            # 4.x also opens a read-only socket, at one shared default path unless told otherwise.
            lines.append(f"uds_ro_address {self.socket(role)}ro")
        if role == "slave":
            lines.append("slaveOnly 1")
        lines += list(extra)
        path = os.path.join(self.directory, f"{role}.cfg")
        Path(path).write_text("\n".join(lines) + "\n")
        return path

    def socket(self, role):
        return self.master_socket if role == "master" else self.slave_socket

    def start(self, role, extra=()):
        """Starts ptp4l for `role` ("master" or "slave"); `extra`: more config lines."""
        config = self.config(role, extra)
        log = open(os.path.join(self.directory, f"{role}.log"), "w")
        self.processes[role] = subprocess.Popen(
            [tool("ip", "iproute2"), "netns", "exec", self.namespaces[role], tool("ptp4l", "linuxptp"),
             "-2", "-S", "-m", "-i", self.interfaces[role], "-f", config],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        log.close()
        if not wait_for(lambda: self.processes[role].poll() is not None or pmc_port_state(self.socket(role)),
                        START_TIMEOUT, step=0.1) or self.processes[role].poll() is not None:
            raise AssertionError(f"ptp4l ({role}) did not start; its log:\n{self.log(role)}")

    def start_master(self, extra=()):
        self.start("master", extra)

    def start_slave(self, extra=()):
        self.start("slave", extra)

    def stop(self, role):
        process = self.processes.pop(role, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def stop_master(self):
        self.stop("master")

    def log(self, role):
        try:
            return Path(self.directory, f"{role}.log").read_text()
        except OSError:
            return ""

    def wait_for_state(self, path, state, timeout=START_TIMEOUT):
        """Waits until the ptp4l at `path` says its port is in `state` ("UNCALIBRATED"); returns
        the seconds it took, or raises an AssertionError with the last state seen."""
        start = time.monotonic()
        if not wait_for(lambda: pmc_port_state(path) == state, timeout):
            raise AssertionError(f"ptp4l at {path} is {pmc_port_state(path)}, not {state}, after {timeout} s")
        return time.monotonic() - start

    def close(self):
        """Kills both ptp4l, deletes the namespaces and the directory; safe to call again."""
        for role in list(self.processes):
            self.stop(role)
        ip = tool("ip", "iproute2")
        for namespace in self._created:
            subprocess.run([ip, "netns", "del", namespace], capture_output=True, timeout=20)
        if self._veth:
            # Gone with its namespace, unless setup failed before moving it there.
            subprocess.run([ip, "link", "del", self.interfaces["master"]], capture_output=True, timeout=20)
        self._created, self._veth = [], False
        shutil.rmtree(self.directory, ignore_errors=True)
        _open.discard(self)


# --- A fake ptp4l ---

def fixture(name):
    """A recorded datagram from the fixtures directory ("uncalibrated.port_data_set")."""
    return bytes.fromhex((FIXTURES / f"{name}.hex").read_text())


def fixture_replies(state):
    """{management ID: [reply]} for a recorded state: "uncalibrated", "listening", "master248",
    "master6" (a grandmaster with clockClass 6), or "slave" (uncalibrated with the portState
    byte edited to SLAVE)."""
    recorded = "uncalibrated" if state == "slave" else state
    replies = {mid: [fixture(f"{recorded}.{name}")] for name, mid in ASKED.items()}
    if state == "slave":
        replies[PORT_DATA_SET] = [fixture("slave.port_data_set")]
    return replies


class FakePtp4l:
    """Binds a Unix datagram socket at `path` and answers every management GET it receives with
    the replies given for its management ID, as ptp4l would: each with the request's sequenceId
    and addressed to its sender. GETs for other IDs go unanswered. A context manager."""

    def __init__(self, path, replies):
        self.path = path
        self._replies = dict(replies)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests = []  # the management IDs asked, in order
        self._socket = None
        self._thread = None

    def set_replies(self, replies):
        """What to answer from now on ({} answers nothing: ptp4l hung)."""
        with self._lock:
            self._replies = dict(replies)

    def start(self):
        if os.path.lexists(self.path):
            os.unlink(self.path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self):
        while not self._stop.is_set():
            if not select.select([self._socket], [], [], 0.05)[0]:
                continue
            request, sender = self._socket.recvfrom(2048)
            fields = parse_management(request)
            if not fields or fields["action"] != 0 or fields["tlv_type"] != 0x0001 or not sender:
                continue
            with self._lock:
                self.requests.append(fields["id"])
                answers = [answer_to(r, request) for r in self._replies.get(fields["id"], [])]
            for answer in answers:
                try:
                    self._socket.sendto(answer, sender)
                except OSError:
                    pass  # the client went away

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._socket is not None:
            self._socket.close()
            self._socket = None
            if os.path.lexists(self.path):
                os.unlink(self.path)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# --- Recording the fixtures ---

GRANDMASTER_LOCKED = ("SET GRANDMASTER_SETTINGS_NP clockClass 6 clockAccuracy 0x21 offsetScaledLogVariance 0x4e5d "
                      "currentUtcOffset 37 leap61 0 leap59 0 currentUtcOffsetValid 0 ptpTimescale 0 "
                      "timeTraceable 1 frequencyTraceable 1 timeSource 0x20")


def save(directory, prefix, replies):
    """Writes each management ID's one reply as PREFIX.NAME.hex."""
    for name, mid in ASKED.items():
        got = replies.get(mid, [])
        if len(got) != 1:
            raise AssertionError(f"{prefix}: {len(got)} replies to GET {name}")
        write_hex(directory / f"{prefix}.{name}.hex", got[0])


def write_hex(path, datagram):
    lines = [datagram[i:i + 16].hex(" ") for i in range(0, len(datagram), 16)]
    path.write_text("\n".join(lines) + "\n")


def record(directory):
    """Records the fixtures from a real master and slave; prints what it saw on the way."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = list(ASKED.values())
    with Pair() as pair:
        pair.start_master()
        pair.start_slave()
        took = pair.wait_for_state(pair.slave_socket, "UNCALIBRATED")
        print(f"slave UNCALIBRATED {took:.1f} s after both started")
        # The first sync after the port went UNCALIBRATED gives TIME_STATUS_NP an ingress time.
        wait_for(lambda: ask_one(pair.slave_socket, TIME_STATUS_NP)[62:70] not in (b"", bytes(8)), 10)
        save(directory, "master248", ask(pair.master_socket, ids))

        _run([tool("pmc", "linuxptp"), "-u", "-s", pair.master_socket, "-b", "0", GRANDMASTER_LOCKED])
        # The slave learns the new clockClass from the next announce (every 2 s).
        wait_for(lambda: ask_one(pair.slave_socket, PARENT_DATA_SET)[54 + 19:54 + 20] == b"\x06", 10)
        save(directory, "master6", ask(pair.master_socket, ids))
        uncalibrated = ask(pair.slave_socket, ids)
        save(directory, "uncalibrated", uncalibrated)
        edited = bytearray(uncalibrated[PORT_DATA_SET][0])
        edited[PORT_STATE_OFFSET] = 9  # SLAVE
        write_hex(directory / "slave.port_data_set.hex", bytes(edited))

        unknown = 0x1234
        write_hex(directory / "no_such_id.hex", ask_one(pair.slave_socket, unknown))

        pair.stop_master()
        stopped = time.monotonic()
        pair.wait_for_state(pair.slave_socket, "LISTENING")
        print(f"slave LISTENING {time.monotonic() - stopped:.1f} s after the master was killed")
        save(directory, "listening", ask(pair.slave_socket, ids))
    print(f"ptp4l {'.'.join(map(str, ptp4l_version()))}; fixtures in {directory}")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "record":
        sys.exit(__doc__)
    if (why := unavailable()) is not None:
        sys.exit(why)
    record(Path(sys.argv[2]) if len(sys.argv) > 2 else FIXTURES)
