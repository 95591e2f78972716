"""AF_XDP listeners, end to end, in two network namespaces this test creates and joins with veth
pairs (only their own addresses are used: 10.201.N.0/24 and fd00:201::N:1 and ::N:2).

smeard runs in the server namespace with one XDP listener on each of four pairs: a smeared and a
true-UTC timescale, over IPv4 and over IPv6. The smeared one rehearses a leap an hour ago, so it
serves a second behind true UTC and a client can tell the two apart. The clients run in the
client namespace: chronyd -Q, ntpdig (port 123, hence the namespaces) and ntplib on every
listener; KoD DENY and RATE, crypto-NAKs, MACs and NTS (chronyd, then packets of our own with
its keys and cookies). That the requests went through AF_XDP is proven, not assumed: /status
counts them in traffic[].xdp.requests, every request of those listeners is counted there, and
`ip -d link show` shows the program while smeard runs and none after SIGTERM or SIGKILL.
What the program must leave to the kernel (ICMP echo, TCP to port 123, UDP to another port)
still reaches it; malformed frames sent with AF_PACKET are dropped and counted by reason. And
a listener whose interface does not exist, or a smeard without CAP_BPF and CAP_NET_ADMIN,
serves through its sockets and says why, once.

Needs root and `ip netns` (iproute2).
"""

import atexit
import contextlib
import ctypes
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

import harness
from test_auth import KEYS, hash_mac, keys_text, secret_bytes, sha1_mac
from test_nts import COOKIE, UNIQUE_ID, fields, flip, make_pki, nts_request, open_reply, read_dump
from test_timescales import rfc3339

WRONG_BY = re.compile(r"System clock wrong by (-?\d+\.\d+) seconds")
METRICS = "127.0.0.1:9466"  # in the server namespace
NTS_KE_PORT = 4460


def _ip_netns_works():
    try:
        return os.geteuid() == 0 and harness.run([harness.tool("ip", "iproute2"), "netns", "list"]).returncode == 0
    except (AssertionError, OSError):
        return False


NEEDS = unittest.skipUnless(_ip_netns_works(), "needs root and `ip netns`")


# --- The two namespaces ---

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


@contextlib.contextmanager
def inside(namespace):
    """This thread in the network namespace `namespace` for the block: the sockets it opens and
    the processes it starts there belong to that namespace and stay in it."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(there)
        yield
    finally:
        _setns(home)
        os.close(there)
        os.close(home)


class Pair:
    """veth pair N: vxsN in the server namespace, vxcN in the client namespace."""

    def __init__(self, index):
        self.server_if, self.client_if = f"vxs{index}", f"vxc{index}"
        self.server4, self.client4 = f"10.201.{index}.1", f"10.201.{index}.2"
        self.server6, self.client6 = f"fd00:201::{index}:1", f"fd00:201::{index}:2"


PAIRS = [Pair(i) for i in range(4)]
PINNED, FLOODER = "10.201.0.3", "10.201.0.4"  # more client addresses on vxc0


class Listener:
    def __init__(self, pair, family, timescale):
        self.pair, self.timescale, self.interface = pair, timescale, pair.server_if
        self.host = pair.server4 if family == 4 else socket.inet_ntop(
            socket.AF_INET6, socket.inet_pton(socket.AF_INET6, pair.server6))
        self.address = f"{self.host}:123" if family == 4 else f"[{self.host}]:123"


LISTENERS = [Listener(PAIRS[0], 4, "smeared"), Listener(PAIRS[1], 4, "utc"),
             Listener(PAIRS[2], 6, "smeared"), Listener(PAIRS[3], 6, "utc")]
OFFSET = {"smeared": -1.0, "utc": 0.0}  # served minus true UTC


class Network:
    """Two namespaces with unique names, joined by PAIRS; removed by close(), and at exit."""

    def __init__(self):
        self.ip = harness.tool("ip", "iproute2")
        self.server = f"smeard-xdp-{os.getpid()}-s"
        self.client = f"smeard-xdp-{os.getpid()}-c"
        self.made = []
        atexit.register(self.close)

    def do(self, *args):
        result = harness.run([self.ip, *args])
        if result.returncode != 0:
            raise AssertionError(f"ip {' '.join(args)}: {result.stderr}")
        return result.stdout

    def create(self):
        for namespace in (self.server, self.client):
            self.do("netns", "add", namespace)
            self.made.append(namespace)
            self.do("-n", namespace, "link", "set", "lo", "up")
        for p in PAIRS:
            self.do("-n", self.server, "link", "add", p.server_if, "type", "veth", "peer", "name", p.client_if,
                    "netns", self.client)
            for namespace, interface, mine, mine6, theirs6 in (
                    (self.server, p.server_if, p.server4, p.server6, p.client6),
                    (self.client, p.client_if, p.client4, p.client6, p.server6)):
                self.do("-n", namespace, "addr", "add", f"{mine}/24", "dev", interface)
                # Each pair's IPv6 addresses are host routes, so all four pairs stay in one /64.
                self.do("-n", namespace, "addr", "add", f"{mine6}/128", "dev", interface, "nodad")
                self.do("-n", namespace, "link", "set", interface, "up")
                self.do("-n", namespace, "-6", "route", "add", f"{theirs6}/128", "dev", interface)
        for extra in (PINNED, FLOODER):
            self.do("-n", self.client, "addr", "add", f"{extra}/24", "dev", PAIRS[0].client_if)
        return self

    def mac(self, namespace, interface):
        return bytes.fromhex(json.loads(self.do("-n", namespace, "-j", "link", "show", "dev", interface))[0]
                             ["address"].replace(":", ""))

    def xdp_program(self, interface):
        """The `prog/xdp ...` line `ip -d link show` prints for the server's interface, or None."""
        shown = self.do("-n", self.server, "-d", "link", "show", "dev", interface)
        return next((l.strip() for l in shown.splitlines() if "prog/xdp" in l), None)

    def close(self):
        while self.made:
            harness.run([self.ip, "netns", "del", self.made.pop()])


NET = None


def setUpModule():
    global NET
    if _ip_netns_works():
        NET = Network().create()


def tearDownModule():
    if NET:
        NET.close()


def config(listeners, extra=""):
    """listeners: [(Listener, interface or None)]: XDP on that interface, or sockets alone."""
    leap_at = int(time.time()) - 3600  # a rehearsed leap an hour ago, its smear long over: a second behind
    lines = ["listeners:"]
    for listener, interface in listeners:
        lines += [f'  - address: "{listener.address}"', f"    timescale: {listener.timescale}"]
        if interface:
            lines.append(f"    xdp: {{interface: {interface}}}")
    lines += ["timescales:",
              f'  smeared: {{smear: {{profile: linear, window: 600, anchor: center}}, '
              f'rehearsal: {{leap_at: "{rfc3339(leap_at)}", sign: "+"}}}}',
              "  utc: {smear: none}",
              "reference: {type: system, refid: GPS, unsynchronized: {local_stratum: 1}}",
              "workers: 1", f'metrics: {{listen: "{METRICS}"}}']
    return "\n".join(lines) + "\n" + extra


def smeard(listeners, extra="", wrapper=(), ready_events=None):
    """A smeard in the server namespace (`wrapper` runs inside it and execs smeard)."""
    return harness.Smeard(addresses=[l.address for l, _ in listeners], text=config(listeners, extra),
                          wrapper=[NET.ip, "netns", "exec", NET.server, *wrapper], ready_events=ready_events)


def status():
    with inside(NET.server):
        with urllib.request.urlopen(f"http://{METRICS}/status", timeout=5) as response:
            return json.load(response)


def scrape():
    with inside(NET.server):
        return harness.scrape(f"http://{METRICS}")


def traffic_of(snapshot, listener):
    [entry] = [t for t in snapshot["traffic"] if t["listener"] == listener.address]
    return entry


def counts(listener):
    """(requests, requests through AF_XDP) of one listener so far."""
    entry = traffic_of(status(), listener)
    return entry["requests"], (entry.get("xdp") or {}).get("requests", 0)


def query(host, payload, source=None, timeout=1.0):
    """One datagram to host:123 from the client namespace; the reply or None."""
    with inside(NET.client):
        return harness.request((host, 123), payload, timeout=timeout, source=source)


def chronyd_q(host, options="", directives=()):
    """chronyd -Q against host:123 from the client namespace, running; see test_chrony.py."""
    with inside(NET.client):
        return subprocess.Popen([harness.tool("chronyd", "chrony"), "-Q", "-f", "/dev/null", "-t", "20",
                                 f"server {host} iburst maxsamples 4 {options}", *directives],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def chronyd_offset(testcase, process, label):
    output = process.communicate(timeout=40)[0]
    testcase.assertEqual(process.returncode, 0, f"{label}:\n{output}")
    found = WRONG_BY.findall(output)
    testcase.assertEqual(len(found), 1, f"{label}: no 'System clock wrong by' line:\n{output}")
    return float(found[0]), output


# --- Frames of our own, for AF_PACKET ---

def internet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_frame(pair, source_port, payload, options=b"", total_length=None, udp_length=None, cut=None,
               damage_checksum=False):
    """Ethernet, IPv4 (with `options`), UDP from the client's address and source_port to the
    server's port 123. total_length/udp_length: lengths that disagree with what is there; cut:
    the frame ends after that many bytes; damage_checksum: a wrong IPv4 header checksum."""
    udp_length = udp_length if udp_length is not None else 8 + len(payload)
    udp = struct.pack("!HHHH", source_port, 123, udp_length, 0) + payload  # no UDP checksum: allowed in IPv4
    header_length = 20 + len(options)
    total_length = total_length if total_length is not None else header_length + len(udp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x40 | header_length // 4, 0, total_length, 0x1234, 0x4000, 64, 17, 0,
                     socket.inet_aton(pair.client4), socket.inet_aton(pair.server4)) + options
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip) ^ (0x0100 if damage_checksum else 0)) + ip[12:]
    frame = (NET.mac(NET.server, pair.server_if) + NET.mac(NET.client, pair.client_if) + b"\x08\x00" + ip + udp)
    return frame[:cut] if cut else frame


def ipv6_frame(pair, source_port, payload, payload_length=None):
    source, destination = (socket.inet_pton(socket.AF_INET6, a) for a in (pair.client6, pair.server6))
    udp = struct.pack("!HHHH", source_port, 123, 8 + len(payload), 0) + payload
    pseudo = source + destination + struct.pack("!IxxxB", len(udp), 17)
    udp = udp[:6] + struct.pack("!H", internet_checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    ip = struct.pack("!IHBB", 0x60000000, payload_length if payload_length is not None else len(udp), 17, 64)
    return (NET.mac(NET.server, pair.server_if) + NET.mac(NET.client, pair.client_if) + b"\x86\xdd" + ip + source +
            destination + udp)


def ping(host, timeout=2.0):
    """One ICMP (or ICMPv6) echo from the client namespace: whether its reply came back."""
    v6 = ":" in host
    with inside(NET.client):
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                          socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
    with s:
        ident, payload = os.getpid() & 0xFFFF, os.urandom(16)
        echo = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, 1) + payload
        if not v6:  # the kernel fills in ICMPv6's checksum, not ICMP's
            echo = echo[:2] + struct.pack("!H", internet_checksum(echo)) + echo[4:]
        s.sendto(echo, (host, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                break
            data = s.recv(2048)
            if not v6:
                data = data[(data[0] & 0x0F) * 4:]  # a raw IPv4 socket gets the IP header too
            if data[0] == (129 if v6 else 0) and data[4:6] == struct.pack("!H", ident) and data[8:] == payload:
                return True
    return False


@NEEDS
class ServedThroughXdp(unittest.TestCase):
    """One smeard with an XDP listener on each pair, shared by the tests."""

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp(prefix="smeard-xdp-")
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        os.chmod(cls.directory, 0o755)  # chronyd reads the CA and writes its dump after dropping root
        cls.pki = make_pki(cls.directory, address=LISTENERS[0].host)
        cls.keys = harness.write_file(cls.directory, "ntp.keys", keys_text(KEYS))
        cookie_key = harness.write_file(cls.directory, "cookie.key", os.urandom(32).hex() + "\n")
        _, certificate, key = cls.pki
        extra = "\n".join([
            f"keys: {cls.keys}",
            "ratelimit: {interval: -4, burst: 32, leak: 0}",
            "clients:",
            f'  - {{networks: ["{PINNED}/32"], timescale: utc}}',
            "nts:",
            f"  certificate: {certificate}",
            f"  private_key: {key}",
            f"  cookie_key_file: {cookie_key}",
            f'  listeners: [{{address: "{LISTENERS[0].host}:{NTS_KE_PORT}", timescale: smeared}}]', ""])
        cls.server = smeard([(l, l.interface) for l in LISTENERS], extra, ready_events={"nts_ke_listening": 1})
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        if cls.server.process.poll() is not None:
            raise AssertionError(f"smeard exited with {cls.server.process.returncode} before the end; "
                                 f"its log:\n{cls.server.log()}")
        cls.server.stop()

    def test_attached_to_every_interface_and_shown(self):
        attached = {e["interface"]: e for e in self.server.events("xdp_attached")}
        self.assertEqual(sorted(attached), [l.interface for l in LISTENERS], self.server.log())
        self.assertEqual(self.server.events("xdp_fallback"), [])
        snapshot, values = status(), scrape()
        for listener in LISTENERS:
            with self.subTest(listener=listener.address):
                logged = attached[listener.interface]
                self.assertEqual(logged["listener"], listener.address, logged)
                self.assertEqual((logged["mode"], logged["zero_copy"]), ("native", "off"), logged)  # veth: copy mode
                self.assertIsNotNone(NET.xdp_program(listener.interface), f"no prog/xdp on {listener.interface}")
                xdp = traffic_of(snapshot, listener)["xdp"]
                self.assertEqual({k: xdp[k] for k in ("interface", "state", "mode", "zero_copy", "busy_poll",
                                                      "reason", "problem")},
                                 {"interface": listener.interface, "state": "attached", "mode": "native",
                                  "zero_copy": False, "busy_poll": False, "reason": None, "problem": None}, xdp)
                self.assertEqual(xdp["queues"], int(logged["queues"]))
                self.assertGreaterEqual(xdp["queues"], 1)
                self.assertEqual(harness.total(values, "smeard_xdp_attached", listener=listener.address,
                                               interface=listener.interface, mode="native"), 1, values)
                self.assertEqual(harness.total(values, "smeard_xdp_fallback", listener=listener.address), 0)
        tasks = Path(f"/proc/{self.server.pid}/task")
        workers = [t for t in tasks.iterdir() if (t / "comm").read_text().startswith("smeard-x")]
        self.assertEqual(len(workers), sum(traffic_of(snapshot, l)["xdp"]["queues"] for l in LISTENERS),
                         "an AF_XDP worker thread per queue")

    def test_chronyd_ntpdig_and_ntplib_on_both_timescales_over_ipv4_and_ipv6(self):
        import ntplib
        before, scraped = {l.address: counts(l) for l in LISTENERS}, scrape()
        chronyds = {l.address: chronyd_q(l.host) for l in LISTENERS}  # four seconds each, in parallel
        sent = {l.address: 3 for l in LISTENERS}  # chronyd: at least three of its four samples
        ntpdig = harness.tool("ntpdig", "ntpsec-ntpdig")
        for l in LISTENERS:
            with self.subTest(client="ntpdig", listener=l.address):
                with inside(NET.client):
                    result = harness.run([ntpdig, "-j", "-p", "8", "-g", "10", "-t", "2", l.host])
                sent[l.address] += 8
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                reply = json.loads(result.stdout)
                self.assertEqual((reply["ip"], reply["stratum"], reply["leap"]), (l.host, 1, "no-leap"), reply)
                # ntpdig reports the sample with the least synchronization distance of its eight.
                self.assertLess(abs(float(reply["offset"]) - OFFSET[l.timescale]), 0.002, reply)
            with self.subTest(client="ntplib", listener=l.address):
                for version in (3, 4):
                    with inside(NET.client):
                        stats = harness.best_of(lambda: ntplib.NTPClient().request(l.host, version=version, timeout=2),
                                                delay=lambda s: s.delay, count=3)
                    sent[l.address] += 3
                    self.assertEqual((stats.version, stats.mode, stats.stratum, stats.leap), (version, 4, 1, 0))
                    # An offset is known to within half its round trip.
                    self.assertLess(abs(stats.offset - OFFSET[l.timescale]) - stats.delay / 2, 0.001)
        for l in LISTENERS:
            with self.subTest(client="chronyd", listener=l.address):
                measured, output = chronyd_offset(self, chronyds[l.address], l.address)
                self.assertLess(abs(measured - OFFSET[l.timescale]), 0.002, output)
        values = scrape()
        for l in LISTENERS:
            with self.subTest(counted=l.address):
                requests, through_xdp = (a - b for a, b in zip(counts(l), before[l.address]))
                self.assertGreaterEqual(through_xdp, sent[l.address], f"{l.address}: {through_xdp} through AF_XDP")
                self.assertEqual(requests, through_xdp, f"{l.address}: requests that did not come through AF_XDP")
                metric = lambda v: harness.total(v, "smeard_xdp_requests_total", listener=l.address, interface=l.interface)
                self.assertEqual(metric(values) - metric(scraped), through_xdp)

    def test_kod_deny_and_rate(self):
        smeared, utc = LISTENERS[0], LISTENERS[1]
        before, kods = counts(smeared), harness.total(scrape(), "smeard_kod_sent_total", code="DENY")
        denied = harness.decode(query(smeared.host, harness.ntp_request(), source=PINNED))
        self.assertEqual((denied["stratum"], denied["refid"], denied["leap"], denied["mode"]), (0, b"DENY", 3, 4))
        self.assertEqual(harness.decode(query(smeared.host, harness.ntp_request(), source=FLOODER))["stratum"], 1)
        self.assertEqual(harness.total(scrape(), "smeard_kod_sent_total", code="DENY"), kods + 1)
        self.assertEqual(counts(smeared)[1] - before[1], 2)

        # 200 requests at once from one address: the burst of 32 is answered, then KoD RATE.
        before, values = counts(utc), scrape()
        with inside(NET.client):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with s:
            s.bind((FLOODER, 0))
            for _ in range(200):
                s.sendto(harness.ntp_request(), (utc.host, 123))
            replies = []
            while select.select([s], [], [], 0.5)[0]:
                replies.append(harness.decode(s.recv(1024)))
        answered = [r for r in replies if r["stratum"] == 1]
        rate = [r for r in replies if (r["stratum"], r["refid"], r["leap"]) == (0, b"RATE", 3)]
        self.assertEqual(len(answered) + len(rate), len(replies), replies)
        self.assertGreaterEqual(len(answered), 32)
        self.assertLessEqual(len(answered), 40)
        self.assertGreaterEqual(len(rate), 1)
        after = scrape()
        self.assertEqual(harness.total(after, "smeard_kod_sent_total", code="RATE")
                         - harness.total(values, "smeard_kod_sent_total", code="RATE"), len(rate))
        requests, through_xdp = (a - b for a, b in zip(counts(utc), before))
        self.assertEqual((requests, through_xdp), (200, 200))

    def test_macs_signed_and_crypto_naks(self):
        for listener in (LISTENERS[0], LISTENERS[3]):
            with self.subTest(listener=listener.address):
                before = counts(listener)
                secret = secret_bytes(KEYS[1][1])
                request = harness.ntp_request()
                reply = query(listener.host, request + sha1_mac(1, secret, request))
                self.assertIsNotNone(reply)
                self.assertEqual(len(reply), 72)
                self.assertEqual(reply[48:], sha1_mac(1, secret, reply[:48]), "reply MAC does not verify")
                header = harness.decode(reply)
                self.assertEqual((header["mode"], header["stratum"], header["origin_raw"]), (4, 1, request[40:48]))
                sha256 = secret_bytes(KEYS[2][1])
                reply = query(listener.host, request + hash_mac(2, "sha256", sha256, request, 20))
                self.assertEqual(reply[48:], hash_mac(2, "sha256", sha256, reply[:48], 20))
                flipped = bytearray(sha1_mac(1, secret, request))
                flipped[10] ^= 0x01
                for what, mac in [("flipped MAC byte", bytes(flipped)), ("unknown key", sha1_mac(77, secret, request))]:
                    nak = query(listener.host, request + mac)
                    self.assertIsNotNone(nak, what)
                    self.assertEqual((len(nak), nak[48:]), (52, bytes(4)), f"{what}: not a crypto-NAK")
                    decoded = harness.decode(nak)
                    self.assertEqual((decoded["stratum"], decoded["leap"], decoded["refid"]), (0, 3, b"CRYP"), what)
                self.assertEqual(counts(listener)[1] - before[1], 4)

    def test_nts_chronyd_then_our_own_requests_and_a_nak(self):
        listener = LISTENERS[0]
        dump = tempfile.mkdtemp(prefix="chrony-nts-", dir=self.directory)
        os.chmod(dump, 0o777)
        before = traffic_of(status(), listener)
        process = chronyd_q(listener.host, f"nts ntsport {NTS_KE_PORT}",
                            [f"ntstrustedcerts {self.pki[0]}", f"ntsdumpdir {dump}"])
        measured, output = chronyd_offset(self, process, "chronyd over NTS")
        self.assertLess(abs(measured - OFFSET[listener.timescale]), 0.002, output)
        after = traffic_of(status(), listener)
        self.assertGreaterEqual(after["nts_ok"] - before["nts_ok"], 3, after)
        self.assertEqual(after["xdp"]["requests"] - before["xdp"]["requests"], after["requests"] - before["requests"])

        c2s, s2c, cookies = read_dump(dump, listener.host)
        unique_id = os.urandom(32)
        request = nts_request(c2s, cookies[0], unique_id)
        reply = query(listener.host, request)
        self.assertIsNotNone(reply, "an NTS request with chronyd's keys and cookie")
        self.assertEqual(harness.decode(reply)["stratum"], 1)
        self.assertEqual(fields(reply)[0][:2], (UNIQUE_ID, unique_id))
        self.assertEqual(len([b for kind, b, _ in open_reply(s2c, reply) if kind == COOKIE]), 1, "a fresh cookie")
        cookie_at = fields(request)[1][2] + 4
        nak = query(listener.host, nts_request(c2s, cookies[1], unique_id, flip(cookie_at + 30)))
        self.assertIsNotNone(nak, "a request with a damaged cookie gets an NTS NAK")
        self.assertEqual((harness.decode(nak)["stratum"], harness.decode(nak)["refid"]), (0, b"NTSN"))
        self.assertEqual(fields(nak), [(UNIQUE_ID, unique_id, 48)], "a NAK carries only the unique id")
        final = traffic_of(status(), listener)
        self.assertEqual((final["nts_nak"] - after["nts_nak"], final["xdp"]["requests"] - after["xdp"]["requests"]),
                         (1, 2))

    def test_icmp_tcp_and_other_udp_reach_the_kernel(self):
        before = [counts(l)[1] for l in LISTENERS]
        for listener in (LISTENERS[0], LISTENERS[2]):
            family = socket.AF_INET6 if ":" in listener.host else socket.AF_INET
            with self.subTest(listener=listener.address):
                self.assertTrue(ping(listener.host), f"no echo reply from {listener.host}")
                with inside(NET.server):
                    tcp = socket.socket(family, socket.SOCK_STREAM)
                    udp = socket.socket(family, socket.SOCK_DGRAM)
                with inside(NET.client):
                    client_tcp = socket.socket(family, socket.SOCK_STREAM)
                    client_udp = socket.socket(family, socket.SOCK_DGRAM)
                with tcp, udp, client_tcp, client_udp:
                    tcp.bind((listener.host, 123))  # TCP on the NTP port itself
                    tcp.listen()
                    client_tcp.settimeout(2)
                    client_tcp.connect((listener.host, 123))
                    tcp.settimeout(2)
                    accepted, _ = tcp.accept()
                    with accepted:
                        client_tcp.sendall(b"hello over TCP")
                        self.assertEqual(accepted.recv(100), b"hello over TCP")
                        accepted.sendall(b"and back")
                        self.assertEqual(client_tcp.recv(100), b"and back")
                    udp.bind((listener.host, 124))
                    udp.settimeout(2)
                    client_udp.sendto(b"not NTP", (listener.host, 124))
                    self.assertEqual(udp.recvfrom(100)[0], b"not NTP")
        self.assertEqual([counts(l)[1] for l in LISTENERS], before, "non-NTP traffic went to AF_XDP")

    def test_malformed_frames_are_dropped_and_counted(self):
        pair = PAIRS[0]
        ntp = harness.ntp_request()
        with inside(NET.client):
            raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with raw, udp:
            raw.bind((pair.client_if, 0))
            udp.bind((pair.client4, 0))
            port = udp.getsockname()[1]

            def sent(frame):
                """Sends the frame; the reply that came to our port for it, or None."""
                raw.send(frame)
                return udp.recv(2048) if select.select([udp], [], [], 0.5)[0] else None

            # Frames built here are right to begin with: the well-formed one is answered.
            self.assertIsNotNone(sent(ipv4_frame(pair, port, ntp)), "a well-formed frame of our own")
            cases = [("bad_frame", "truncated", ipv4_frame(pair, port, ntp, cut=14 + 20 + 8 + 20)),
                     ("bad_frame", "IP total length beyond the frame", ipv4_frame(pair, port, ntp, total_length=96)),
                     ("bad_frame", "UDP length beyond the IP packet", ipv4_frame(pair, port, ntp, udp_length=64)),
                     ("ip_options", "IPv4 options", ipv4_frame(pair, port, ntp, options=b"\x01\x01\x01\x00")),
                     ("bad_checksum", "IPv4 header checksum", ipv4_frame(pair, port, ntp, damage_checksum=True)),
                     ("too_long", "a 1300-byte request", ipv4_frame(pair, port, ntp + bytes(1252)))]
            for reason, what, frame in cases:
                with self.subTest(what=what):
                    before = harness.total(scrape(), "smeard_drops_total", reason=reason)
                    self.assertIsNone(sent(frame), f"{what}: answered")
                    self.assertEqual(harness.total(scrape(), "smeard_drops_total", reason=reason), before + 1, what)

        six = PAIRS[2]
        with inside(NET.client):
            raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        with raw, udp:
            raw.bind((six.client_if, 0))
            udp.bind((six.client6, 0))
            port = udp.getsockname()[1]
            raw.send(ipv6_frame(six, port, ntp))
            self.assertTrue(select.select([udp], [], [], 1)[0], "a well-formed IPv6 frame of our own")
            udp.recv(2048)
            before = harness.total(scrape(), "smeard_drops_total", reason="bad_frame")
            raw.send(ipv6_frame(six, port, ntp, payload_length=80))
            self.assertFalse(select.select([udp], [], [], 0.5)[0], "IPv6 payload length beyond the frame: answered")
            self.assertEqual(harness.total(scrape(), "smeard_drops_total", reason="bad_frame"), before + 1)


def wait_detached(testcase, interfaces, after):
    gone = harness.wait_for(lambda: all(NET.xdp_program(i) is None for i in interfaces), 2.0)
    testcase.assertTrue(gone, f"after {after}: " + ", ".join(f"{i}: {NET.xdp_program(i)}" for i in interfaces))


@NEEDS
class Detached(unittest.TestCase):
    def test_nothing_stays_attached_after_sigterm_or_sigkill(self):
        import ntplib
        listeners = LISTENERS[:2]
        interfaces = [l.interface for l in listeners]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with self.subTest(signal=sig.name):
                with smeard([(l, l.interface) for l in listeners]) as server:
                    for l in listeners:
                        self.assertIsNotNone(NET.xdp_program(l.interface), f"no prog/xdp on {l.interface}")
                        with inside(NET.client):
                            self.assertEqual(ntplib.NTPClient().request(l.host, version=4, timeout=2).stratum, 1)
                        self.assertEqual(counts(l)[1], 1)
                    if sig == signal.SIGTERM:
                        server.stop()
                        self.assertEqual(sorted(e["interface"] for e in server.events("xdp_detached")), interfaces)
                    else:
                        server.process.kill()
                        server.process.wait(5)
                    wait_detached(self, interfaces, sig.name)


@NEEDS
class Fallback(unittest.TestCase):
    def check_served_through_sockets(self, server, listener, interface, reason, why):
        import ntplib
        [logged] = server.events("xdp_fallback")
        self.assertEqual((logged["listener"], logged["interface"], logged["reason"], logged["level"],
                          logged["effect"]), (listener.address, interface, reason, "warning", "served through sockets"),
                         logged)
        self.assertEqual(server.events("xdp_attached"), [])
        with inside(NET.client):
            responses = [ntplib.NTPClient().request(listener.host, version=4, timeout=2) for _ in range(3)]
        self.assertEqual([r.stratum for r in responses], [1, 1, 1])
        best = min(responses, key=lambda r: r.delay)
        self.assertLess(abs(best.offset - OFFSET[listener.timescale]) - best.delay / 2, 0.001)
        entry = traffic_of(status(), listener)
        self.assertEqual(entry["requests"], 3)
        shown = {k: entry["xdp"].get(k, "(missing)") for k in ("interface", "state", "mode", "reason", "requests")}
        self.assertEqual(shown, {"interface": interface, "state": "fallback", "mode": None, "reason": reason,
                                 "requests": 0}, entry["xdp"])
        # The log names the configuration's FILE:LINE:COL first; /status the problem alone.
        self.assertIn(why, entry["xdp"]["problem"])
        self.assertTrue(logged["problem"].endswith(entry["xdp"]["problem"]), (logged["problem"], entry["xdp"]))
        values = scrape()
        self.assertEqual(harness.total(values, "smeard_xdp_fallback", listener=listener.address, interface=interface,
                                       reason=reason), 1, values)
        self.assertEqual(harness.total(values, "smeard_xdp_attached", listener=listener.address), 0, values)
        if reason != "busy":
            self.assertIsNone(NET.xdp_program(listener.interface))
        self.assertEqual(len(server.events("xdp_fallback")), 1, "the reason is logged once")

    def test_an_interface_that_does_not_exist(self):
        listener = LISTENERS[0]
        with smeard([(listener, "vxnone9")]) as server:
            self.check_served_through_sockets(server, listener, "vxnone9", "no_interface", "vxnone9")
            server.stop()

    def test_without_cap_bpf_and_cap_net_admin(self):
        listener = LISTENERS[1]
        setpriv = harness.tool("setpriv", "util-linux")
        dropped = [setpriv, "--inh-caps=-all", "--bounding-set=-bpf,-net_admin,-sys_admin,-net_raw", "--"]
        with smeard([(listener, listener.interface)], wrapper=dropped) as server:
            self.check_served_through_sockets(server, listener, listener.interface, "no_privilege", "CAP_BPF")
            server.stop()

    def test_another_program_on_the_interface_is_left_alone(self):
        # Another XDP program, attached by iproute2 over netlink (smeard's own object serves as it).
        listener = LISTENERS[2]
        other = Path(harness.SMEARD).parent / "xdp/program.bpf.o"
        self.assertTrue(other.exists(), other)
        NET.do("-n", NET.server, "link", "set", "dev", listener.interface, "xdp", "obj", str(other), "sec", "xdp")
        try:
            before = NET.xdp_program(listener.interface)
            self.assertIsNotNone(before)
            with smeard([(listener, listener.interface)]) as server:
                self.check_served_through_sockets(server, listener, listener.interface, "busy",
                                                  "another XDP program is attached")
                server.stop()
            self.assertEqual(NET.xdp_program(listener.interface), before, "smeard must not touch another program")
        finally:
            NET.do("-n", NET.server, "link", "set", "dev", listener.interface, "xdp", "off")


if __name__ == "__main__":
    unittest.main()
