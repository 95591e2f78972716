"""Upstream names with several addresses, served by a real DNS server: dnsmasq in a network
namespace of its own (`ip netns`, whose /etc/netns/NAME/resolv.conf points the resolver at it),
answering from a hosts file the test rewrites and reloads with SIGHUP. The NTP servers are real
chronyd processes (-x: they never touch the clock) on loopback addresses of that namespace.

- A pool of three live addresses fills max_sources=2 associations with distinct addresses, and
  smeard synchronizes; one of them dies while DNS moves it to a new address: smeard replaces it
  within what its re-resolution rules allow (measured and printed).
- A server whose name's first address is dead moves to the next one.
- An IPv6 upstream named by an AAAA record: smeard's replies name it by the MD5 refid.
- A chronyd that takes its time from smeard is refused as a timing loop.

The outer test creates the namespace and re-runs this file inside it.
"""

import hashlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import harness

INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"
POLL = 1  # seconds: smeard's poll, so the whole file runs in about a minute
HOSTS_NAME = "pool.smeard.test"


class NamespaceChronyd:
    """A chronyd on address:123, at local stratum 1 or synchronizing to `server` lines."""

    def __init__(self, directory, address, extra=("local stratum 1",)):
        self.address = address
        self.directory = directory
        name = address.replace(":", "_")
        self.conf = os.path.join(directory, f"chronyd-{name}.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(["port 123", f"bindaddress {address}", "allow all", "cmdport 0",
                               f"pidfile {directory}/chronyd-{name}.pid",
                               f"driftfile {directory}/chronyd-{name}.drift", *extra, ""]))
        self.process = None

    def start(self, wait_synchronized=True):
        self.process = subprocess.Popen([harness.tool("chronyd", "chrony"), "-x", "-d", "-f", self.conf],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        if not wait_synchronized:
            return self
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            reply = harness.request((self.address, 123), harness.ntp_request(), timeout=0.2)
            if reply and harness.decode(reply)["leap"] == 0:
                return self
        self.stop()
        raise AssertionError(f"chronyd on {self.address} never served LI=0")

    def stop(self):
        harness.terminate(self.process)

    @property
    def server(self):
        """As smeard names the address."""
        return f"[{self.address}]:123" if ":" in self.address else f"{self.address}:123"


class Dnsmasq:
    """dnsmasq on 127.0.0.1:53 answering only from a hosts file; set() rewrites it and reloads."""

    def __init__(self, directory):
        self.hosts = os.path.join(directory, "hosts")
        self.set({})
        self.process = subprocess.Popen(
            [harness.tool("dnsmasq", "dnsmasq-base"), "--keep-in-foreground", "--conf-file=/dev/null",
             "--no-resolv", "--no-hosts", f"--addn-hosts={self.hosts}", "--listen-address=127.0.0.1",
             "--bind-interfaces", "--port=53", "--user=root", "--pid-file=", "--local-ttl=0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.answers("localhost.invalid") and time.monotonic() < deadline:
            time.sleep(0.1)

    @staticmethod
    def answers(name):
        """True once the resolver gets an answer (NXDOMAIN included) rather than no server."""
        try:
            socket.getaddrinfo(name, 123)
            return True
        except socket.gaierror as e:
            return e.errno == socket.EAI_NONAME

    def set(self, names):
        """names: {name: [address, ...]}."""
        with open(self.hosts, "w") as f:
            for name, addresses in names.items():
                for address in addresses:
                    f.write(f"{address} {name}\n")
        if getattr(self, "process", None):
            self.process.send_signal(signal.SIGHUP)
            time.sleep(0.2)  # dnsmasq rereads the file between queries

    def stop(self):
        self.process.terminate()
        self.process.wait(5)


def resolved(name):
    return [a[4][0] for a in socket.getaddrinfo(name, 123, type=socket.SOCK_DGRAM)]


def wait_for(predicate, timeout, step=0.2):
    start = time.monotonic()
    value = harness.wait_for(predicate, timeout, step)
    return value, time.monotonic() - start


class UpstreamPoolInNamespace(unittest.TestCase):
    """Runs only inside the namespace."""

    @classmethod
    def setUpClass(cls):
        harness.loopback_up()
        # An IPv6 address of this namespace for an AAAA record (lo takes any address).
        up = harness.run(["ip", "addr", "add", "fd00::2/128", "dev", "lo", "nodad"])
        if up.returncode != 0:
            raise AssertionError(up.stderr)
        cls.directory = tempfile.mkdtemp(prefix="smeard-pool-")
        cls.dns = Dnsmasq(cls.directory)
        cls.addClassCleanup(cls.dns.stop)

    def setUp(self):
        self.chronyds = []

    def chronyd(self, address, extra=("local stratum 1",), wait_synchronized=True):
        server = NamespaceChronyd(self.directory, address, extra)
        self.chronyds.append(server)
        self.addCleanup(server.stop)
        return server.start(wait_synchronized)

    def smeard(self, servers, minsources=1):
        port = harness.free_udp_port()
        metrics = f"127.0.0.1:{harness.free_tcp_port()}"
        text = "\n".join(["listeners:", f'  - address: "127.0.0.1:{port}"', "    timescale: utc",
                          "timescales:", "  utc:", "    smear: none",
                          "reference:", "  type: upstream", "  servers:",
                          *[f"    - {s}" for s in servers],
                          f"  minsources: {minsources}", f"  poll: {POLL}",
                          "workers: 1", f'metrics: {{listen: "{metrics}"}}', ""])
        daemon = harness.Smeard([f"127.0.0.1:{port}"], text=text)
        self.addCleanup(daemon.close)
        daemon.metrics = metrics
        return daemon.start()

    @staticmethod
    def sources(daemon):
        with urllib.request.urlopen(f"http://{daemon.metrics}/status", timeout=5) as r:
            return json.loads(r.read())["sources"]

    def synchronized(self, daemon, timeout=40):
        served, waited = wait_for(lambda: (h := harness.header(daemon.port)) and h["leap"] == 0 and h, timeout)
        self.assertTrue(served, daemon.log())
        return served, waited

    def test_a_pool_fills_distinct_associations_and_replaces_a_dead_one(self):
        live = [self.chronyd(f"127.0.0.{i}") for i in (16, 17, 18)]
        self.dns.set({HOSTS_NAME: [c.address for c in live]})
        daemon = self.smeard([f"{{pool: {HOSTS_NAME}, max_sources: 2}}"], minsources=2)

        served, waited = self.synchronized(daemon)
        print(f"\npool of 3 addresses, max_sources 2: synchronized after {waited:.1f} s")
        self.assertEqual(served["stratum"], 2, served)
        rows = self.sources(daemon)
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual({r["name"] for r in rows}, {HOSTS_NAME}, rows)
        used = [r["address"] for r in rows]
        self.assertEqual(len(set(used)), 2, rows)
        self.assertTrue(set(used) <= {c.server for c in live}, rows)
        self.assertEqual(sorted(r["state"] for r in rows), ["candidate", "selected"], rows)
        assigned = daemon.events("source_address")
        self.assertEqual(sorted(e["address"] for e in assigned), sorted(used), daemon.log())
        print(harness.run([harness.binary(harness.SMEARCTL), "status", "--url", f"http://{daemon.metrics}"]).stdout)
        with urllib.request.urlopen(f"http://{daemon.metrics}/metrics", timeout=5) as r:
            text = r.read().decode()
        self.assertIn(f'smeard_source_vacant{{type="upstream",source="{HOSTS_NAME}"}} 0', text)
        self.assertIn(f'smeard_source_unauthentic_replies_total{{type="upstream",source="{HOSTS_NAME}",'
                      f'address="{used[0]}"}} 0', text)

        # One used server dies while DNS moves its name to a new address, dropping the spare:
        # the only address left to take is the new one.
        dead = next(c for c in live if c.server == used[0])
        kept = next(c for c in live if c.server == used[1])
        new = self.chronyd("127.0.0.19")
        self.dns.set({HOSTS_NAME: [kept.address, new.address]})
        dead.stop()
        stopped = time.monotonic()
        replaced, _ = wait_for(lambda: daemon.events("source_replaced"), 40)
        took = time.monotonic() - stopped
        self.assertTrue(replaced, daemon.log())
        self.assertEqual(replaced[0]["old_address"], dead.server, replaced)
        self.assertEqual(replaced[0]["address"], new.server, replaced)
        self.assertEqual(replaced[0]["why"], "unreachable: no reply to its last 8 requests", replaced)
        # Reach empties after 8 polls without a reply; the name is resolved again at once, or at
        # most the first retry interval (4 polls, at least 4 s) after the last resolution; and
        # then a tick or two.
        bound = 8 * POLL + max(4 * POLL, 4) + 3
        print(f"dead pool member {dead.server} replaced by {new.server} {took:.1f} s after it stopped "
              f"(bound {bound} s)")
        self.assertLess(took, bound)
        # The new association works: both agree again, nothing was ever unsynchronized.
        back, _ = wait_for(lambda: sorted(r["state"] for r in self.sources(daemon)) == ["candidate", "selected"]
                           and self.sources(daemon), 20)
        self.assertTrue(back, self.sources(daemon))
        self.assertEqual({r["address"] for r in back}, {kept.server, new.server}, back)
        self.assertEqual(harness.header(daemon.port)["leap"], 0)
        daemon.stop()

    def test_a_server_moves_from_its_dead_first_address_to_the_next(self):
        # glibc orders IPv4 addresses by their common prefix with the source (RFC 6724 rule 9):
        # 127.0.0.3 shares more of 127.0.0.1 than 127.0.0.32 does, so it comes first.
        live = self.chronyd("127.0.0.32")
        name = "multi.smeard.test"
        self.dns.set({name: ["127.0.0.32", "127.0.0.3"]})
        self.assertEqual(resolved(name), ["127.0.0.3", "127.0.0.32"])
        daemon = self.smeard([f"{{server: {name}}}"])
        moved, took = wait_for(lambda: daemon.events("source_replaced"), 30)
        self.assertTrue(moved, daemon.log())
        self.assertEqual(daemon.events("source_address")[0]["address"], "127.0.0.3:123", daemon.log())
        self.assertEqual(moved[0]["old_address"], "127.0.0.3:123", moved)
        self.assertEqual(moved[0]["address"], live.server, moved)
        print(f"\nserver {name}: first address dead, moved to {live.server} after {took:.1f} s ({moved[0]['why']})")
        # 4 requests without a reply (a burst, one a poll), then the first retry (4 s).
        self.assertLess(took, 4 * POLL + 4 + 3)
        served, _ = self.synchronized(daemon)
        self.assertEqual(served["stratum"], 2, served)
        rows = self.sources(daemon)
        self.assertEqual([(r["name"], r["address"], r["state"]) for r in rows], [(name, live.server, "selected")], rows)
        daemon.stop()

    def test_an_ipv6_upstream_is_named_by_the_md5_of_its_address(self):
        live = self.chronyd("fd00::2")
        name = "v6.smeard.test"
        self.dns.set({name: ["fd00::2"]})
        daemon = self.smeard([name])
        served, _ = self.synchronized(daemon)
        # RFC 5905's refid for IPv6, as ntpd and chrony compute it.
        expected = hashlib.md5(ipaddress.ip_address("fd00::2").packed).digest()[:4]
        print(f"\nIPv6 upstream {live.server}: served refid {served['refid_raw'].hex()}, MD5 prefix {expected.hex()}")
        self.assertEqual(served["refid_raw"], expected, served)
        self.assertEqual(self.sources(daemon)[0]["address"], "[fd00::2]:123")
        daemon.stop()

    def test_a_chronyd_synchronized_to_smeard_is_refused_as_a_loop(self):
        self.chronyd("127.0.0.16")
        daemon = self.smeard(['"127.0.0.16"', '"127.0.0.40"'])
        follower = self.chronyd("127.0.0.40", (f"server 127.0.0.1 port {daemon.port} iburst minpoll 0 maxpoll 0",),
                                wait_synchronized=False)
        self.synchronized(daemon)
        looped, took = wait_for(lambda: [e for e in daemon.events("source_refused") if "timing loop" in e["why"]], 60)
        self.assertTrue(looped, daemon.log())
        print(f"\nchronyd on {follower.server} synchronized to smeard: refused after {took:.1f} s: {looped[0]['why']}")
        self.assertEqual(looped[0]["address"], follower.server)
        self.assertEqual(looped[0]["why"],
                         "its refid 127.0.0.1 is one of our own addresses: it takes its time from us (a timing loop)")
        rows = {r["address"]: r for r in self.sources(daemon)}
        self.assertEqual(rows[follower.server]["state"], "refused", rows)
        self.assertEqual(rows["127.0.0.16:123"]["state"], "selected", rows)
        daemon.stop()


class UpstreamPool(unittest.TestCase):
    def test_in_a_network_namespace_with_its_own_dns(self):
        harness.tool("dnsmasq", "dnsmasq-base")
        harness.tool("chronyd", "chrony")
        if os.geteuid() != 0:
            self.skipTest("ip netns needs root")
        namespace = f"smeard-pool-{os.getpid()}"
        etc = f"/etc/netns/{namespace}"
        added = harness.run(["ip", "netns", "add", namespace])
        self.assertEqual(added.returncode, 0, added.stderr)
        self.addCleanup(harness.run, ["ip", "netns", "del", namespace])
        os.makedirs(etc)
        self.addCleanup(shutil.rmtree, etc, True)
        # `ip netns exec` mounts this over /etc/resolv.conf for everything run inside.
        with open(f"{etc}/resolv.conf", "w") as f:
            f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        env = dict(os.environ, SMEARD_ITEST_NETNS="1", SMEARD=harness.binary(harness.SMEARD),
                   SMEARCTL=harness.binary(harness.SMEARCTL))
        script = os.path.abspath(__file__)
        result = harness.run(["ip", "netns", "exec", namespace, sys.executable, script, "-v"], timeout=240, env=env,
                             cwd=os.path.dirname(script))
        output = result.stdout + result.stderr
        print(output)
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        self.assertRegex(output, r"Ran 4 tests.*\n+OK")


def load_tests(loader, tests, pattern):
    return loader.loadTestsFromTestCase(UpstreamPoolInNamespace if INSIDE else UpstreamPool)


if __name__ == "__main__":
    unittest.main()
