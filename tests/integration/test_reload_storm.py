"""A reload storm: 100 reloads that alternate between two timescale sets (so each one renumbers
the timescales the client history records by index) while sticky clients on both listeners
keep asking. No client may be refused as stuck to another timescale, and none may lose a reply."""

import os
import signal
import socket
import threading
import time
import unittest

import harness

RELOADS = 100


def config(ports, with_extra_timescale):
    lines = ["listeners:",
             f'  - address: "127.0.0.1:{ports[0]}"', "    timescale: google",
             f'  - address: "127.0.0.1:{ports[1]}"', "    timescale: utc",
             "timescales:"]
    if with_extra_timescale:
        lines.append("  aaa: {smear: ntpd}")  # sorts first: google and utc move up one index
    lines += ["  google: {smear: google}", "  utc: {smear: none}",
              "reference: {type: system, refid: GPS, unsynchronized: {local_stratum: 1}}",
              "workers: 2", "metrics: {listen: off}",
              "client_policy: {sticky: 3600, mismatch: deny}", ""]
    return "\n".join(lines)


class Client(threading.Thread):
    """One address asking one listener as fast as it is answered."""

    def __init__(self, source, port, stop):
        super().__init__(daemon=True)
        self.source, self.port, self.stop = source, port, stop
        self.asked = self.answered = self.refused = self.lost = 0

    def run(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((self.source, 0))
            s.settimeout(1.0)
            while not self.stop.is_set():
                request = harness.ntp_request()
                s.sendto(request, ("127.0.0.1", self.port))
                self.asked += 1
                try:
                    while True:
                        reply = s.recv(1024)
                        if reply[24:32] == request[40:48]:
                            break
                except socket.timeout:
                    self.lost += 1
                    continue
                if harness.decode(reply)["stratum"] == 0:
                    self.refused += 1
                else:
                    self.answered += 1
                time.sleep(0.002)


class ReloadStormTest(unittest.TestCase):
    def test_reloads_renumbering_timescales_cause_no_refusals_and_no_losses(self):
        ports = sorted({harness.free_udp_port() for _ in range(4)})[:2]
        server = harness.Smeard([f"127.0.0.1:{p}" for p in ports], text=config(ports, False))
        with server:
            stop = threading.Event()
            clients = [Client(f"127.3.0.{i + 1}", ports[i % 2], stop) for i in range(8)]
            for c in clients:
                c.start()
            time.sleep(0.3)
            started = time.monotonic()
            for n in range(RELOADS):
                # Replaced whole (smeard also reloads when it sees the file change, and must not
                # read half of it), and the next one only once this one is in force: each
                # reload changes the timescale set, so each clears the history once.
                staged = server.config + ".new"
                with open(staged, "w") as f:
                    f.write(config(ports, n % 2 == 0))
                os.replace(staged, server.config)
                server.process.send_signal(signal.SIGHUP)
                reached = harness.wait_for(lambda: len(server.events("client_history_cleared")) > n, 5, step=0.005)
                self.assertTrue(reached, f"reload {n + 1} did not happen:\n{server.log()}")
            storm = time.monotonic() - started
            time.sleep(0.3)
            stop.set()
            for c in clients:
                c.join(5)
            stopped = server.stop()
        asked = sum(c.asked for c in clients)
        print(f"\n  {RELOADS} reloads in {storm:.2f} s; {len(clients)} sticky clients asked {asked} times: "
              f"{sum(c.answered for c in clients)} answered, {sum(c.refused for c in clients)} refused, "
              f"{sum(c.lost for c in clients)} lost; cleared {len(server.events('client_history_cleared'))}, "
              f"purged {len(server.events('client_history_purged'))}")
        self.assertEqual(len(server.events("client_history_cleared")), RELOADS)
        self.assertGreater(asked, 1000)
        for c in clients:
            with self.subTest(client=c.source):
                self.assertEqual(c.refused, 0)
                self.assertEqual(c.lost, 0)
        self.assertEqual(stopped["sticky_violations"], "0", stopped)
        self.assertEqual(stopped["kod_deny"], "0", stopped)
        self.assertEqual(stopped["replies"], stopped["requests"], stopped)


if __name__ == "__main__":
    unittest.main()
