"""Privilege: started as root, smeard serves as the configured user and group with no
capability left; started unprivileged with CAP_NET_BIND_SERVICE alone (as systemd's
AmbientCapabilities= or a container grants it), it binds port 123 and then gives that up too;
its worker threads run under a seccomp filter. All read /proc/PID/status. The port-123 case
runs in a private network namespace."""

import os
import pwd
import grp
import signal
import unittest

import harness

INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"
NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrgid(NOBODY.pw_gid).gr_name


def status_of(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


def readable_by_all(server):
    # The configuration is reread on SIGHUP by the unprivileged process.
    os.chmod(server.directory, 0o755)
    os.chmod(server.config, 0o644)


class Assertions:
    def assert_unprivileged(self, pid):
        status = status_of(pid)
        self.assertEqual(status["Uid"], [str(NOBODY.pw_uid)] * 4, status["Uid"])
        self.assertEqual(status["Gid"], [str(NOBODY.pw_gid)] * 4, status["Gid"])
        self.assertIn(status["Groups"], ([], [str(NOBODY.pw_gid)]), "supplementary groups kept")
        for capabilities in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(int(status[capabilities][0], 16), 0, (capabilities, status[capabilities]))
        self.assertEqual(status["NoNewPrivs"], ["1"])
        return status


@unittest.skipUnless(os.geteuid() == 0, "starting as root needs root")
class StartedAsRoot(unittest.TestCase, Assertions):
    def test_root_becomes_the_configured_user_with_no_capability(self):
        import ntplib
        port = harness.free_udp_port()
        text = harness.config_text([f"127.0.0.1:{port}"]) + f"user: nobody\ngroup: {NOGROUP}\n"
        server = harness.Smeard([f"127.0.0.1:{port}"], text=text)
        readable_by_all(server)
        with server:
            status = self.assert_unprivileged(server.pid)
            self.assertEqual(int(status["CapBnd"][0], 16), 0, "the bounding set still allows regaining capabilities")
            dropped = server.events("privileges_dropped")
            self.assertEqual(dropped[0]["user"], "nobody", dropped)
            response = ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2)
            self.assertEqual(response.stratum, 1)
            # Still able to reload what it is allowed to read.
            server.process.send_signal(signal.SIGHUP)
            self.assertTrue(harness.wait_for(lambda: server.events("config_reloaded"), 5), server.log())
            server.stop()

    def test_a_file_the_user_cannot_reread_is_named_at_start(self):
        port = harness.free_udp_port()
        text = harness.config_text([f"127.0.0.1:{port}"]) + f"user: nobody\ngroup: {NOGROUP}\n"
        server = harness.Smeard([f"127.0.0.1:{port}"], text=text)
        readable_by_all(server)
        keys = harness.write_file(server.directory, "ntp.keys", "1 SHA1 HEX:" + "ab" * 20 + "\n")
        os.chmod(keys, 0o600)  # root's alone: read at start, not by nobody at a reload
        with open(server.config, "a") as config:
            config.write(f"keys: {keys}\n")
        with server:
            [warning] = server.events("file_unreadable")
            self.assertEqual((warning["file"], warning["user"]), (keys, "nobody"), warning)
            server.process.send_signal(signal.SIGHUP)
            self.assertTrue(harness.wait_for(lambda: server.events("config_reload_failed"), 5), server.log())
            server.stop()

    def test_an_unknown_user_stops_start_up(self):
        port = harness.free_udp_port()
        text = harness.config_text([f"127.0.0.1:{port}"]) + "user: no-such-user-here\n"
        server = harness.Smeard([f"127.0.0.1:{port}"], text=text)
        try:
            with self.assertRaises(AssertionError):
                server.start()
            line = len(text.splitlines())
            self.assertIn(f"{server.config}:{line}:7: user: no user 'no-such-user-here'", server.log())
        finally:
            server.close()


class Port123WithOnlyNetBindService(unittest.TestCase, Assertions):
    """Runs only inside the namespace."""

    def test_binds_port_123_then_keeps_no_capability(self):
        harness.loopback_up()
        setpriv = harness.tool("setpriv", "util-linux")
        wrapper = [setpriv, f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
                   "--inh-caps=-all,+net_bind_service", "--ambient-caps=-all,+net_bind_service", "--"]
        server = harness.Smeard(["127.0.0.1:123"], wrapper=wrapper, args=["--foreground"])
        readable_by_all(server)
        with server:
            self.assert_unprivileged(server.pid)
            result = harness.run([harness.tool("ntpdig", "ntpsec-ntpdig"), "-j", "-t", "2", "127.0.0.1"])
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertIn('"stratum":1', result.stdout.replace(" ", ""))
            server.stop()


def threads_of(pid):
    """{thread name: [Seccomp mode, ...]} from /proc/PID/task/*/status."""
    threads = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        status = status_of(f"{pid}/task/{task}")
        threads.setdefault(status["Name"][0], []).append(int(status["Seccomp"][0]))
    return threads


class Seccomp(unittest.TestCase):
    def test_worker_threads_run_under_the_filter_and_keep_answering(self):
        import ntplib
        for seccomp in (True, False):
            with self.subTest(seccomp=seccomp):
                port = harness.free_udp_port()
                text = harness.config_text([f"127.0.0.1:{port}"], workers=2) + f"seccomp: {str(seccomp).lower()}\n"
                with harness.Smeard([f"127.0.0.1:{port}"], text=text) as server:
                    threads = threads_of(server.pid)
                    workers = {name: modes for name, modes in threads.items() if name.startswith("smeard-w")}
                    self.assertEqual(sorted(workers), ["smeard-w0", "smeard-w1"], threads)
                    # 2: a filter is in force; the control thread is never filtered.
                    self.assertEqual({m for modes in workers.values() for m in modes}, {2 if seccomp else 0})
                    self.assertEqual(threads["smeard"], [0], threads)
                    for _ in range(20):
                        response = ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2)
                        self.assertEqual(response.stratum, 1)
                    server.process.send_signal(signal.SIGHUP)  # a new snapshot, read by the confined workers
                    self.assertTrue(harness.wait_for(lambda: server.events("config_reloaded"), 5), server.log())
                    response = ntplib.NTPClient().request("127.0.0.1", port=port, version=4, timeout=2)
                    self.assertEqual(response.stratum, 1)
                    stopped = server.stop()
                    self.assertEqual(stopped["replies"], stopped["requests"])


@unittest.skipUnless(os.geteuid() == 0, "setpriv needs root to change user")
class Port123(unittest.TestCase):
    def test_in_a_private_network_namespace(self):
        result = harness.run_in_private_network(__file__)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        self.assertRegex(output, r"Ran 1 test.*\n+OK", output)


def load_tests(loader, tests, pattern):
    if INSIDE:
        return loader.loadTestsFromTestCase(Port123WithOnlyNetBindService)
    suite = loader.loadTestsFromTestCase(StartedAsRoot)
    suite.addTests(loader.loadTestsFromTestCase(Seccomp))
    suite.addTests(loader.loadTestsFromTestCase(Port123))
    return suite


if __name__ == "__main__":
    unittest.main()
