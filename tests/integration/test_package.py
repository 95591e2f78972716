"""The Debian package (deploy/debian: cpack -G DEB from the packager's build) on a fresh Debian 12:
`apt install ./smeard_*.deb` pulls in every runtime library, creates the system user smeard,
enables and starts nothing, and the installed configuration passes --check-config. Started as
root on that configuration, smeard serves NTP on port 123 and drops to the package's user."""

import json
import re
import subprocess
import unittest

import harness
import images

INSIDE = r"""
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
apt-get install -y -q --no-install-recommends /deb/PACKAGE >>/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
echo "passwd=$(getent passwd smeard)"
echo "wants=$(find /etc/systemd -name 'smeard*' | tr '\n' ' ')"
echo "running=$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^smeard' || true)"
echo "conffiles=$(tr '\n' ' ' </var/lib/dpkg/info/smeard.conffiles)"
echo "manuals=$(ls /usr/share/man/man1/smearctl.1.gz /usr/share/man/man5/smeard.yaml.5.gz /usr/share/man/man8/smeard.8.gz 2>&1 | tr '\n' ' ')"
echo "check=$(smeard --check-config /etc/smeard/smeard.yaml 2>&1 | tr '\n' ' ')"
smeard --config /etc/smeard/smeard.yaml 2>/tmp/smeard.log &
pid=$!
i=0; until smearctl health >/dev/null 2>&1 || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done
echo "query=$(smearctl query 127.0.0.1 --json | tr -d '\n')"
echo "status=$(grep -E '^(Uid|Gid|CapEff|NoNewPrivs):' /proc/$pid/status | tr '\t\n' '  ')"
kill -TERM $pid
code=0; wait $pid || code=$?
echo "exit=$code"
echo "log=$(tr '\n' '|' </tmp/smeard.log)"
# A reinstall (or upgrade) runs postinst again beside the existing user, and keeps an edited
# configuration: it is a conffile.
echo "# edited by the operator" >>/etc/smeard/smeard.yaml
dpkg -i /deb/PACKAGE >>/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
echo "kept=$(tail -1 /etc/smeard/smeard.yaml)"
echo "users=$(getent passwd | grep -c '^smeard:')"
apt-get purge -y -q smeard >>/tmp/apt.log 2>&1
echo "purged=$(ls -d /etc/smeard /usr/bin/smeard /usr/bin/smearctl 2>/dev/null | tr '\n' ' ')"
"""


class DebianPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = images.package()
        cls.base = images.debian_base()

    def field(self, name):
        return subprocess.run(["dpkg-deb", "-f", str(self.deb), name], capture_output=True, text=True,
                              check=True).stdout.strip()

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "smeard")
        depends = self.field("Depends")
        # dpkg-shlibdeps found the libraries smeard links, and the maintainer script's tools.
        for needed in ("libyaml-cpp0.7", "libssl3", "libseccomp2", "libprometheus-cpp-core", "tzdata", "passwd"):
            self.assertIn(needed, depends)
        listing = subprocess.run(["dpkg-deb", "-c", str(self.deb)], capture_output=True, text=True, check=True).stdout
        for path in ("./usr/bin/smeard", "./usr/bin/smearctl", "./etc/smeard/smeard.yaml",
                     "./usr/lib/systemd/system/smeard.service", "./usr/share/smeard/smeard.json",
                     "./usr/share/smeard/rules.yaml", "./usr/share/smeard/tmpfiles-gpsd.conf"):
            self.assertRegex(listing, rf" {re.escape(path)}\n", path)

    def test_installs_and_serves_on_a_fresh_debian_12(self):
        script = INSIDE.replace("PACKAGE", self.deb.name)
        result = images.podman(["run", "--rm", "-v", f"{self.deb.parent}:/deb:ro", self.base, "sh", "-c", script],
                               timeout=600, check=False)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        out = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        print(f"\n  {out['check']}\n  served: {out['query']}\n  smeard after binding: {out['status']}")

        self.assertRegex(out["passwd"], r"^smeard:x:\d+:\d+:[^:]*:/nonexistent:/usr/sbin/nologin$")
        uid, gid = out["passwd"].split(":")[2:4]
        self.assertLess(int(uid), 1000, "not a system user")
        self.assertEqual(out["wants"].strip(), "", "the package enabled the service")
        self.assertEqual(out["running"], "0", "the package started smeard")
        self.assertEqual(out["conffiles"].split(), ["/etc/smeard/smeard.yaml"])
        self.assertEqual(out["manuals"].split(), ["/usr/share/man/man1/smearctl.1.gz",
                                                  "/usr/share/man/man5/smeard.yaml.5.gz",
                                                  "/usr/share/man/man8/smeard.8.gz"])
        self.assertRegex(out["check"], r"^/etc/smeard/smeard\.yaml: ok \(2 listeners, 1 timescales, \d+ leaps\)")

        reply = json.loads(out["query"])
        self.assertEqual(reply["version"], 4)
        self.assertLess(abs(reply["offset_s"]), 0.05)
        # The default serves the system clock as the kernel describes it (most test machines:
        # disciplined by nothing, so LI=3 and stratum 16).
        if harness.kernel_clock()[0]:
            self.assertIn(reply["stratum"], range(1, 16))
        else:
            self.assertEqual((reply["stratum"], reply["leap"]), (16, 3))
        # Started as root, it switched to the package's user and kept no capability.
        status = dict(re.findall(r"(\w+):\s+(\S+)", out["status"]))
        self.assertEqual((status["Uid"], status["Gid"]), (uid, gid), out["status"])
        self.assertEqual((status["CapEff"], status["NoNewPrivs"]), ("0000000000000000", "1"), out["status"])
        self.assertEqual(out["exit"], "0", out["log"])
        self.assertIn("event=stopped", out["log"])
        self.assertEqual(out["kept"], "# edited by the operator", "a reinstall overwrote the configuration")
        self.assertEqual(out["users"], "1")
        self.assertEqual(out["purged"].strip(), "", "purge left files behind")


if __name__ == "__main__":
    unittest.main()
