"""deploy/systemd/smeard.service under a real systemd: Debian 12 booting systemd 252 as PID 1 in a
podman container (--systemd=always), the package this tree built installed in it, driven with
systemctl through podman exec. Each promise is checked against what systemd itself reports
(systemctl show, the journal) and what clients see right after systemctl returns:

- `systemctl start` returns once smeard answers NTP (Type=notify, READY=1);
- `systemctl reload` goes through Reloading and back (RELOADING=1, READY=1);
- smeard killed with SIGKILL is restarted with a new main PID;
- `systemctl stop` ends it with SIGTERM alone, Result=success;
- it runs as the package's user smeard with no capability left (the unit's bounding set holds
  CAP_NET_BIND_SERVICE alone);
- a SOCK refclock at /run/smeard (RuntimeDirectory) is reached by a sender that finds it as gpsd
  does, at /run/chrony.ttyS0.sock, through the symlink of the shipped tmpfiles-gpsd.conf;
- SHM unit 0 that gpsd (as root, from Debian's gpsd.service) created first stops smeard with a
  message saying what to change, and doing what it says makes SHM work.

The container gets no CAP_SYS_TIME and no time daemon: nothing in it sets the clock.
"""

import datetime
import json
import re
import shutil
import tempfile
import time
import unittest
import uuid
from pathlib import Path

import harness
import images

CONFIG = """listeners:
  - address: "0.0.0.0:123"
    timescale: main
timescales:
  main:
    smear: {smear}
reference:
{reference}
workers: 1
leapdb:
  files: [/usr/share/zoneinfo/leap-seconds.list]
metrics:
  listen: "127.0.0.1:9466"
"""
SYSTEM = "  type: system\n  refid: LOCL\n  unsynchronized: {local_stratum: 10}"
SOCK = "  type: sock\n  path: /run/smeard/chrony.ttyS0.sock\n  holdover: 5"
SHM = "  type: shm\n  unit: 0\n  holdover: 5"

# What gpsd's init_hook and chrony_send do (gpsd 3.22, timehint.c): as root, the path is
# /run/chrony.<basename of the device>.sock; it checks the file exists, connects once, then
# sends one struct sock_sample per PPS edge (here: one a second, offset 0).
SOCK_SENDER = r"""
import os, socket, struct, time
path = "/run/chrony.%s.sock" % os.path.basename("/dev/ttyS0") if os.getuid() == 0 else "/tmp/chrony.ttyS0.sock"
assert os.access(path, os.F_OK), path + " does not exist"
sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sender.connect(path)
print("connected", path, flush=True)
while True:
    now = time.time()
    sender.send(struct.pack("=qqdiiii", int(now), int((now % 1) * 1e6), 0.0, 0, 0, 0, 0x534F434B))
    time.sleep(1)
"""

# A GPS receiver on TCP, for gpsd's tcp:// source (gpsd writes SHM for it, never for a pty):
# GPRMC, GPGGA and GPZDA once a second, at the second, with the system clock's time.
NMEA_FEED = r"""
import datetime, socket, time
def nmea(body):
    checksum = 0
    for byte in body.encode():
        checksum ^= byte
    return "$%s*%02X\r\n" % (body, checksum)
server = socket.create_server(("127.0.0.1", 5000))
while True:
    client, _ = server.accept()
    try:
        while True:
            time.sleep(1 - time.time() % 1)
            t = datetime.datetime.fromtimestamp(round(time.time()), datetime.timezone.utc)
            hms = t.strftime("%H%M%S") + ".00"
            client.sendall((nmea("GPRMC,%s,A,4807.038,N,01131.000,E,0.0,0.0,%s,,,A" % (hms, t.strftime("%d%m%y"))) +
                            nmea("GPGGA,%s,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,," % hms) +
                            nmea("GPZDA,%s,%02d,%02d,%04d,00,00" % (hms, t.day, t.month, t.year))).encode())
    except OSError:
        client.close()
"""


def log(text):
    print(text, flush=True)


def in_order(text, *needles):
    """Whether each needle occurs in text after the previous one."""
    at = 0
    for needle in needles:
        at = text.find(needle, at)
        if at < 0:
            return False
        at += len(needle)
    return True


class UnitUnderSystemd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.started = time.monotonic()
        image = images.systemd_image()
        cls.name = f"smeard-systemd-{uuid.uuid4().hex[:8]}"
        # IPC_OWNER: root on a host has it, and gpsd, as root, needs it to attach the SHM segment
        # smeard created. SYS_TIME is dropped (podman does not grant it either): no clock setting.
        images.podman(["run", "-d", "--name", cls.name, "--systemd=always", "--cap-add", "IPC_OWNER",
                       "--cap-drop", "SYS_TIME", image, "/sbin/init"])
        cls.addClassCleanup(images.podman, ["rm", "-f", "-t", "0", cls.name], check=False)
        booted = harness.wait_for(lambda: cls.sh("systemctl is-system-running", check=False).stdout.strip()
                                  in ("running", "degraded"), 60)
        if not booted:
            raise AssertionError("systemd did not boot: " + cls.sh("systemctl --failed; journalctl -b --no-pager | "
                                                                   "tail -40", check=False).stdout)
        cls.directory = Path(tempfile.mkdtemp(prefix="smeard-systemd-"))
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)

    @classmethod
    def sh(cls, script, check=True, timeout=60):
        """Runs `script` with sh in the container; its stdout, stderr and exit status."""
        result = images.podman(["exec", cls.name, "sh", "-c", script], timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"in the container, {script!r} exited with {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def show(self, unit="smeard"):
        text = self.sh(f"systemctl show -p ActiveState,SubState,MainPID,NRestarts,ExecMainStatus,ExecMainCode,"
                       f"Result {unit}").stdout
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    def configure(self, reference, smear="google"):
        local = self.directory / "smeard.yaml"
        local.write_text(CONFIG.format(smear=smear, reference=reference))
        images.podman(["cp", str(local), f"{self.name}:/etc/smeard/smeard.yaml"])

    def status(self):
        return json.loads(self.sh("smearctl status --json", check=False).stdout)

    def journal(self, since):
        return self.sh(f"journalctl --no-pager -o cat -u smeard --since @{since:.6f}").stdout

    def stamped_journal(self, since):
        """smeard's journal as (when its writer wrote it, message): systemd's own lines carry the
        time they were logged, smeard's the time= it logged them at."""
        entries = []
        for line in self.sh(f"journalctl --no-pager -o json -u smeard --since @{since:.6f}").stdout.splitlines():
            entry = json.loads(line)
            message = entry.get("MESSAGE")
            if not isinstance(message, str):
                continue
            stamp = re.match(r"time=(\S+)Z ", message)
            if stamp:
                at = datetime.datetime.fromisoformat(stamp.group(1)[:26]).replace(tzinfo=datetime.timezone.utc)
                entries.append((at.timestamp(), message))
            else:
                entries.append((int(entry.get("_SOURCE_REALTIME_TIMESTAMP", entry["__REALTIME_TIMESTAMP"])) / 1e6,
                                message))
        return entries

    def ipcs(self, pattern):
        """Whether a line of `ipcs -m` matches within 5 s."""
        return harness.wait_for(lambda: re.search(pattern, self.sh("ipcs -m").stdout), 5, step=0.2)

    def container_now(self):
        return float(self.sh("date +%s.%N").stdout)

    def test_1_start_reload_kill_stop(self):
        self.configure(SYSTEM)
        since = self.container_now()
        # Started and queried in one go: the query is the first thing after systemctl returns.
        started = self.sh("systemctl start smeard && smearctl query 127.0.0.1 --json --timeout 1", check=False)
        self.assertEqual(started.returncode, 0, started.stdout + started.stderr + self.journal(0))
        reply = json.loads(started.stdout)
        log(f"\n  right after systemctl start returned: {started.stdout.strip()}")
        self.assertEqual(reply["version"], 4)
        state = self.show()
        self.assertEqual((state["ActiveState"], state["SubState"], state["Result"]), ("active", "running", "success"))
        pid = state["MainPID"]
        # systemd said Started after smeard was listening (READY=1 follows event=listening).
        events = self.stamped_journal(since)
        listening = [at for at, text in events if "event=listening " in text]
        started_at = [at for at, text in events if text.startswith("Started smeard.service")]
        self.assertEqual((len(listening), len(started_at)), (1, 1), self.journal(since))
        self.assertLess(listening[0], started_at[0], self.journal(since))

        # As the package's user, no capability in any set; the unit's bounding set is all that
        # is left, and it holds CAP_NET_BIND_SERVICE alone.
        passwd = self.sh("getent passwd smeard").stdout.split(":")
        proc = dict(re.findall(r"^(\w+):\s+(.*)$", self.sh(f"cat /proc/{pid}/status").stdout, re.M))
        log(f"  smeard (pid {pid}): Uid {proc['Uid']}, CapInh {proc['CapInh']} CapPrm {proc['CapPrm']} "
            f"CapEff {proc['CapEff']} CapBnd {proc['CapBnd']} CapAmb {proc['CapAmb']}, NoNewPrivs {proc['NoNewPrivs']}")
        self.assertEqual(proc["Uid"].split(), [passwd[2]] * 4)
        self.assertEqual(proc["Gid"].split(), [passwd[3]] * 4)
        for capabilities in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(proc[capabilities], "0000000000000000", capabilities)
        self.assertEqual(proc["CapBnd"], f"{1 << 10:016x}")  # CAP_NET_BIND_SERVICE
        self.assertEqual(proc["NoNewPrivs"], "1")

        # Reload: each `systemctl reload` returns after smeard's reload: systemd's "Reloaded" is
        # later than smeard's config_reloaded (each stamped by its writer), and the new smear
        # profile is in /status right away. (smeard also rereads a changed file within a second on
        # its own, so the stamps are what tells.) With kill -HUP alone, about one reload in twelve
        # returned first here.
        since = self.container_now()
        profiles = ["ntpd", "google"] * 4
        for i, profile in enumerate(profiles):
            previous = profiles[i - 1] if i else "google"
            reloaded = self.sh(f"sed -i 's/smear: {previous}/smear: {profile}/' /etc/smeard/smeard.yaml && "
                               "systemctl reload smeard && smearctl status --json", check=False)
            self.assertEqual(reloaded.returncode, 0, reloaded.stdout + reloaded.stderr)
            self.assertEqual(json.loads(reloaded.stdout)["timescales"][0]["profile"], profile, f"reload {i + 1}")
        journal = self.journal(since)
        lines = [l for l in journal.splitlines() if re.search(r"Reloading|Reloaded|event=(reload|config_reloaded)", l)]
        log("  the journal around the first systemctl reload:\n    " + "\n    ".join(lines[:4]))
        events = self.stamped_journal(since)
        reloading = [at for at, text in events if text.startswith("Reloading smeard.service")]
        signalled = [at for at, text in events if "event=reload signal=SIGHUP" in text]
        done = [at for at, text in events if "event=config_reloaded reason=SIGHUP" in text]
        reloaded = [at for at, text in events if text.startswith("Reloaded smeard.service")]
        self.assertEqual([len(reloading), len(signalled), len(done), len(reloaded)], [len(profiles)] * 4, journal)
        for i in range(len(profiles)):
            self.assertLess(reloading[i], signalled[i], f"reload {i + 1}:\n{journal}")
            self.assertLess(done[i], reloaded[i], f"reload {i + 1}: systemd said Reloaded "
                                                  f"{(done[i] - reloaded[i]) * 1e3:.1f} ms before smeard had "
                                                  f"reloaded:\n{journal}")
        state = self.show()
        self.assertEqual((state["ActiveState"], state["SubState"], state["MainPID"]), ("active", "running", pid))

        # SIGKILL: systemd sees the main process die on a signal and restarts it (RestartSec=2).
        since = self.container_now()
        self.sh(f"kill -9 {pid}")
        restarted = harness.wait_for(lambda: (lambda s: s if s["NRestarts"] == "1" and s["SubState"] == "running"
                                               else None)(self.show()), 15)
        self.assertIsNotNone(restarted, self.show())
        self.assertNotEqual(restarted["MainPID"], pid)
        journal = self.journal(since)
        log(f"  after kill -9 {pid}: MainPID {restarted['MainPID']}, NRestarts {restarted['NRestarts']}")
        self.assertIn("Main process exited, code=killed, status=9/KILL", journal)
        self.assertIn("Scheduled restart job, restart counter is at 1.", journal)
        self.assertEqual(self.sh("smearctl query 127.0.0.1 --timeout 1", check=False).returncode, 0)

        # Stop: SIGTERM, smeard exits 0, nothing is killed.
        since = self.container_now()
        began = time.monotonic()
        self.sh("systemctl stop smeard")
        took = time.monotonic() - began
        state = self.show()
        journal = self.journal(since)
        log(f"  systemctl stop: {took:.2f} s, {state}")
        self.assertEqual((state["ActiveState"], state["Result"], state["ExecMainStatus"]), ("inactive", "success", "0"),
                         journal)
        self.assertTrue(in_order(journal, "event=stopping signal=SIGTERM", "event=stopped",
                                 "smeard.service: Deactivated successfully."), journal)
        self.assertNotRegex(journal, r"SIGKILL|Killing process|timed out", journal)
        self.assertLess(took, 5)

    def test_2_sock_refclock_through_the_runtime_directory(self):
        self.configure(SOCK)
        self.sh("cp /usr/share/smeard/tmpfiles-gpsd.conf /etc/tmpfiles.d/smeard-gpsd.conf && "
                "systemd-tmpfiles --create /etc/tmpfiles.d/smeard-gpsd.conf && systemctl restart smeard")
        listing = self.sh("ls -ld /run/smeard /run/smeard/chrony.ttyS0.sock && readlink /run/chrony.ttyS0.sock").stdout
        log("\n  " + listing.strip().replace("\n", "\n  "))
        self.assertRegex(listing, r"drwxr-xr-x \d+ smeard smeard .* /run/smeard\n")
        self.assertRegex(listing, r"srwx------ \d+ smeard smeard .* /run/smeard/chrony\.ttyS0\.sock\n")
        self.assertTrue(listing.endswith("/run/smeard/chrony.ttyS0.sock\n"), listing)

        # Only root (as gpsd opens devices) may send to it.
        refused = self.sh("setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c "
                          "\"import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)"
                          ".connect('/run/chrony.ttyS0.sock')\"", check=False)
        self.assertIn("PermissionError", refused.stderr)

        sender = self.directory / "sender.py"
        sender.write_text(SOCK_SENDER)
        images.podman(["cp", str(sender), f"{self.name}:/tmp/sender.py"])
        self.sh("systemd-run --unit=sock-sender --quiet python3 /tmp/sender.py")
        self.addCleanup(self.sh, "systemctl stop sock-sender", check=False)

        def selected():
            status = self.status()
            source = (status.get("sources") or [{}])[0]
            return status if source.get("state") == "selected" and source.get("last_sample") else None

        status = harness.wait_for(selected, 20, step=0.5)
        self.assertIsNotNone(status, self.sh("journalctl --no-pager -u smeard -u sock-sender | tail -30").stdout)
        source = status["sources"][0]
        log(f"  /status: {source['name']} {source['state']}, reach {source['reach']:o}, offset {source['offset_s']}")
        self.assertEqual((source["type"], source["name"]), ("sock", "SOCK(/run/smeard/chrony.ttyS0.sock)"))
        self.assertEqual(status["reference"]["stage"], "synchronized")
        reply = json.loads(self.sh("smearctl query 127.0.0.1 --json").stdout)
        self.assertEqual((reply["stratum"], reply["refid"]), (1, "SOCK"), reply)
        self.sh("systemctl stop sock-sender smeard")
        # The socket goes with smeard; the symlink stays, dangling until smeard binds again.
        self.assertEqual(self.sh("ls /run/smeard 2>&1; test -L /run/chrony.ttyS0.sock && echo link",
                                 check=False).stdout.splitlines()[-1], "link")

    def test_3_shm_segment_gpsd_created_first(self):
        feed = self.directory / "feed.py"
        feed.write_text(NMEA_FEED)
        images.podman(["cp", str(feed), f"{self.name}:/tmp/feed.py"])
        self.sh("systemd-run --unit=nmea-feed --quiet python3 /tmp/feed.py && "
                "printf 'DEVICES=\"tcp://127.0.0.1:5000\"\\nGPSD_OPTIONS=\"-n\"\\nUSBAUTO=\"false\"\\n' "
                ">/etc/default/gpsd")
        self.addCleanup(self.sh, "systemctl stop gpsd gpsd.socket nmea-feed", check=False)

        # gpsd first, as root: it creates units 0 and 1 mode 0600, owned by root.
        self.sh("systemctl start gpsd")
        self.assertTrue(self.ipcs(r"0x4e545030\s+\d+\s+root\s+600\s"), self.sh("ipcs -m").stdout)
        self.configure(SHM)
        since = self.container_now()
        failed = self.sh("systemctl start smeard", check=False)
        self.assertNotEqual(failed.returncode, 0)
        journal = self.journal(since)
        uid = self.sh("id -u smeard").stdout.strip()
        # From ExecStartPre's --check-config, which attaches without creating (shmat refuses), or
        # from the start (shmget refuses): the same advice.
        message = (f"(0x4e545030): Permission denied: the segment exists, owned by uid 0 with mode 0600, and "
                   f"smeard runs as uid {uid}: gpsd, run as root, creates units 0 and 1 so when it starts first. Stop "
                   f"gpsd, remove the segment (ipcrm -M 0x4e545030) and start smeard before gpsd")
        found = [l for l in journal.splitlines() if re.search(r"sh(mget|mat)\(0x4e545030\)", l)]
        log("\n  smeard started after gpsd:\n    " + "\n    ".join(found[:2]))
        self.assertTrue(found and message in found[0], journal)
        self.sh("systemctl stop smeard; systemctl reset-failed smeard 2>/dev/null; true")

        # What the message says: gpsd stopped, the segment removed, smeard first, then gpsd.
        self.sh("systemctl stop gpsd gpsd.socket && ipcrm -M 0x4e545030 && systemctl start smeard && "
                "systemctl start gpsd")
        # smeard's, and gpsd attached it too.
        self.assertTrue(self.ipcs(r"0x4e545030\s+\d+\s+smeard\s+600\s+96\s+2\s"), self.sh("ipcs -m").stdout)

        def sampled():
            source = (self.status().get("sources") or [{}])[0]
            return source if source.get("last_sample") else None

        source = harness.wait_for(sampled, 40, step=1)
        self.assertIsNotNone(source, self.sh("journalctl --no-pager -u smeard -u gpsd | tail -30").stdout +
                             self.sh("ipcs -m").stdout)
        log(f"  after smeard, then gpsd: {source['name']} {source['state']}, reach {source['reach']:o}, "
            f"offset {source['offset_s']}")
        self.assertEqual(source["name"], "SHM(0)")
        self.sh("systemctl stop smeard")

    @classmethod
    def tearDownClass(cls):
        log(f"\n  {cls.__name__}: {time.monotonic() - cls.started:.0f} s with the image build")


if __name__ == "__main__":
    unittest.main()
