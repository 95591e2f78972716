"""deploy/docker/Dockerfile, built with podman on a Debian 12 base made from Debian's packages and
run as an operator would run it: configuration and leap file from mounts, every capability but
NET_BIND_SERVICE dropped, a read-only root. smearctl and ntplib query it through the published
port, the image's HEALTHCHECK passes, and smeard runs unprivileged and confined."""

import json
import os
import re
import shutil
import struct
import tempfile
import time
import unittest
import uuid
from pathlib import Path

import harness
import images

CONFIG = """listeners:
  - address: "0.0.0.0:123"
    timescale: google
timescales:
  google:
    smear: google
reference:
  type: system
  refid: LOCL
  unsynchronized: {local_stratum: 10}   # this machine's clock may be disciplined by nothing
workers: 2
leapdb:
  files: [/etc/smeard/leap-seconds.list]
metrics:
  listen: "0.0.0.0:9466"
"""


def proc_status(pid, task=None):
    path = f"/proc/{pid}/task/{task}/status" if task else f"/proc/{pid}/status"
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class ContainerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.image = images.smeard_image()
        cls.mounts = tempfile.mkdtemp(prefix="smeard-container-")
        cls.addClassCleanup(shutil.rmtree, cls.mounts, True)
        harness.write_file(cls.mounts, "smeard.yaml", CONFIG)
        # A current file, as an operator mounts one: readiness needs an unexpired table, and the
        # build machine's tzdata may be older than its leap file's six months.
        harness.write_file(cls.mounts, "leap-seconds.list", harness.leap_seconds_list(int(time.time()) + 180 * 86400))
        os.chmod(cls.mounts, 0o755)

    def run_container(self, *flags, capabilities=("--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE")):
        name = f"smeard-test-{uuid.uuid4().hex[:8]}"
        self.ntp_port, self.metrics_port = harness.free_udp_port(), harness.free_tcp_port()
        images.podman(["run", "-d", "--name", name, "--read-only", *capabilities,
                       "-p", f"127.0.0.1:{self.ntp_port}:123/udp", "-p", f"127.0.0.1:{self.metrics_port}:9466/tcp",
                       "-v", f"{self.mounts}:/etc/smeard:ro", *flags, self.image])
        self.addCleanup(images.podman, ["rm", "-f", "-t", "0", name], check=False)
        return name

    def test_image_metadata(self):
        inspected = json.loads(images.podman(["image", "inspect", self.image]).stdout)[0]
        config = inspected["Config"]
        self.assertEqual(config["User"], f"{images.SMEARD_UID}:{images.SMEARD_UID}")
        self.assertEqual(config["Entrypoint"], ["smeard"])
        self.assertEqual(config["Cmd"], ["--config", "/etc/smeard/smeard.yaml", "--foreground"])
        self.assertEqual(inspected["Healthcheck"]["Test"], ["CMD", "smearctl", "health"])
        self.assertIn("123/udp", config["ExposedPorts"])
        listing = images.podman(["run", "--rm", "--entrypoint", "sh", self.image, "-c",
                                 "ls /usr/share/zoneinfo/leap-seconds.list /usr/bin/smearctl; "
                                 "ls /usr/bin/gcc /usr/bin/cmake /usr/sbin/setcap 2>&1 | grep -c 'No such'"]).stdout
        self.assertIn("/usr/share/zoneinfo/leap-seconds.list", listing)
        self.assertEqual(listing.split()[-1], "3", "the runtime image holds build tools: " + listing)
        print(f"\n  image size: {inspected['Size'] / 1e6:.0f} MB")

    def test_smeard_has_the_bind_capability_as_a_file_capability(self):
        root = images.podman(["image", "mount", self.image]).stdout.strip()
        self.addCleanup(images.podman, ["image", "unmount", self.image], check=False)
        raw = os.getxattr(os.path.join(root, "usr/bin/smeard"), "security.capability")
        magic, permitted = struct.unpack_from("<II", raw)
        self.assertEqual(magic & 1, 1, "the effective bit is not set")
        self.assertEqual(permitted, 1 << 10, "not exactly cap_net_bind_service")
        self.assertNotIn("security.capability", os.listxattr(os.path.join(root, "usr/bin/smearctl")))

    def test_serves_unprivileged_from_mounted_configuration(self):
        name = self.run_container()
        images.wait_healthy(name)
        result = harness.run([harness.binary(harness.SMEARCTL), "query", f"127.0.0.1:{self.ntp_port}", "--json"])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        reply = json.loads(result.stdout)
        print(f"\n  smearctl query through the published port: {result.stdout.strip()}")
        self.assertEqual(reply["version"], 4)
        self.assertLess(abs(reply["offset_s"]), 0.05)

        import ntplib
        answer = ntplib.NTPClient().request("127.0.0.1", port=self.ntp_port, version=4, timeout=2)
        self.assertLess(abs(answer.offset), 0.05)

        ready = harness.run([harness.binary(harness.SMEARCTL), "health", "--ready",
                             "--url", f"http://127.0.0.1:{self.metrics_port}"])
        self.assertEqual((ready.returncode, ready.stdout), (0, "ready\n"), ready.stderr)
        status = json.loads(harness.run([harness.binary(harness.SMEARCTL), "status", "--json", "--url",
                                         f"http://127.0.0.1:{self.metrics_port}"]).stdout)
        self.assertEqual(status["leap_table"]["source"], "/etc/smeard/leap-seconds.list")

        pid = int(images.podman(["inspect", "--format", "{{.State.Pid}}", name]).stdout)
        main = proc_status(pid)
        print(f"  smeard in the container: Uid {main['Uid']}, CapEff {main['CapEff']}, "
              f"NoNewPrivs {main['NoNewPrivs']}, rss {main['VmRSS']}")
        self.assertEqual(main["Uid"].split()[0], str(images.SMEARD_UID))
        self.assertEqual((main["CapEff"], main["CapPrm"]), ("0000000000000000", "0000000000000000"))
        self.assertEqual(main["NoNewPrivs"], "1")
        workers = [t for t in os.listdir(f"/proc/{pid}/task")
                   if Path(f"/proc/{pid}/task/{t}/comm").read_text().startswith("smeard-w")]
        self.assertEqual(len(workers), 2)
        for task in workers:
            self.assertEqual(proc_status(pid, task)["Seccomp"], "2")

        # docker stop / podman stop: SIGTERM to PID 1, which smeard handles and exits 0 on.
        started = time.monotonic()
        images.podman(["stop", "-t", "10", name], timeout=30)
        stopped_in = time.monotonic() - started
        state = json.loads(images.podman(["inspect", name]).stdout)[0]["State"]
        self.assertEqual(state["ExitCode"], 0)
        self.assertLess(stopped_in, 5)
        self.assertIn("event=stopped", images.podman(["logs", name]).stderr)

    def test_binds_with_the_file_capability_alone(self):
        """As Docker and Kubernetes run it: the runtime's default capabilities, none of them
        ambient, so only the file capability lets the unprivileged user bind port 123."""
        name = self.run_container(capabilities=())
        images.wait_healthy(name)
        result = harness.run([harness.binary(harness.SMEARCTL), "query", f"127.0.0.1:{self.ntp_port}"])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        pid = int(images.podman(["inspect", "--format", "{{.State.Pid}}", name]).stdout)
        self.assertEqual(proc_status(pid)["CapAmb"], "0000000000000000")
        self.assertEqual(proc_status(pid)["CapEff"], "0000000000000000")

    def test_no_new_privileges_is_refused_with_a_clear_error(self):
        """With no_new_privs from the runtime the file capability is void: smeard cannot bind
        port 123 as its user and says so, naming the listener (README: Container)."""
        name = self.run_container("--security-opt", "no-new-privileges", capabilities=())
        deadline = time.monotonic() + 20
        while images.podman(["inspect", "--format", "{{.State.Running}}", name]).stdout.strip() == "true":
            self.assertLess(time.monotonic(), deadline, "smeard kept running without its capability")
            time.sleep(0.2)
        state = json.loads(images.podman(["inspect", name]).stdout)[0]["State"]
        log = images.podman(["logs", name]).stderr
        self.assertNotEqual(state["ExitCode"], 0)
        self.assertRegex(log, r"listeners\[0\]\.address.*(ermission|denied)", log)


if __name__ == "__main__":
    unittest.main()
