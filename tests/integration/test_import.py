"""smearctl import on the configurations Debian's chrony and ntpsec packages install and on the
examples of chrony's, NTPsec's and ntpd-rs's documentation: every translation passes
smeard --check-config, carries the servers, keys, access and smear over, and names each
directive line of its input, carried over or not. Bad input fails naming FILE:LINE."""

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import unittest
from pathlib import Path

import yaml

import harness

DATA = harness.REPO / "tests/integration/data/import"
CHRONY_EXAMPLES = Path("/usr/share/doc/chrony/examples")
# setup.sh test unpacks the ntpsec package here (ntpsec_config); without it the test does.
NTPSEC_UNPACKED = harness.REPO / "build/tools/ntpsec"

COMMENT_STARTS = {"chrony": "#%!;", "ntpd": "#", "ntpd-rs": "#["}


def smearctl(*args, timeout=20):
    return harness.run([harness.binary(harness.SMEARCTL), *args], timeout=timeout)


def ntpsec_conf(scratch):
    """Debian's /etc/ntpsec/ntp.conf, from the ntpsec package unpacked (never installed)."""
    conf = NTPSEC_UNPACKED / "etc/ntpsec/ntp.conf"
    if conf.exists():
        return conf
    download = subprocess.run(["apt-get", "download", "-q", "ntpsec"], cwd=scratch, capture_output=True, text=True,
                              timeout=300)
    assert download.returncode == 0, "apt-get download ntpsec: " + download.stderr
    deb = next(Path(scratch).glob("ntpsec_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(scratch) / "ntpsec")], check=True, timeout=60)
    return Path(scratch) / "ntpsec/etc/ntpsec/ntp.conf"


def inputs(scratch):
    """(file, format) for every configuration the translation is tried on."""
    chrony = [Path("/etc/chrony/chrony.conf")] + sorted(CHRONY_EXAMPLES.glob("chrony.conf.example*"))
    for path in chrony:
        assert path.exists(), f"{path} is missing: apt-get install chrony"
    files = [(p, "chrony") for p in chrony] + [(ntpsec_conf(scratch), "ntpd")]
    for path in sorted(DATA.iterdir()):
        fmt = "ntpd-rs" if path.suffix == ".toml" else "chrony" if path.name.startswith("chrony") else "ntpd"
        files.append((path, fmt))
    return files


def directive_lines(text, fmt):
    """The numbers of the lines that hold a directive (or a TOML key)."""
    lines = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and stripped[0] not in COMMENT_STARTS[fmt]:
            lines.append(number)
    return lines


def input_hosts(text, fmt):
    """Every server and pool the file names, read independently of smearctl."""
    if fmt == "ntpd-rs":
        hosts = set()
        for source in tomllib.loads(text).get("source", []):
            if source.get("mode") in ("server", "pool", "nts"):
                address = source["address"]
                hosts.add(address[1:address.index("]")] if address.startswith("[") else address.split(":")[0])
        return hosts
    hosts = set()
    for line in text.splitlines():
        words = line.split("#")[0].split()
        if fmt == "chrony" and (not words or words[0][0] in "%!;"):
            continue
        if len(words) >= 2 and words[0] in ("server", "pool"):
            host = words[2] if words[1] in ("-4", "-6") else words[1]
            if not host.startswith("127.127."):
                hosts.add(host)
    return hosts


def upstream_servers(config):
    reference = config["reference"]
    sources = reference.get("sources", [reference])
    return [server for source in sources if source.get("type") == "upstream" for server in source["servers"]]


def host_of(entry):
    name = entry if isinstance(entry, str) else entry.get("server") or entry.get("pool")
    if name.startswith("["):
        return name[1:name.index("]")]
    return name.rsplit(":", 1)[0] if name.count(":") == 1 else name


def checkable(yaml_text, config, scratch):
    """The translation with what smeard reads at start made to exist here: the keys file holding
    every key the servers name (a real system keeps its own), an NTS dump directory, PHCs."""
    keys = {entry["key"] for entry in upstream_servers(config) if isinstance(entry, dict) and "key" in entry}
    if "keys" in config:
        keys_file = Path(scratch) / "ntp.keys"
        keys_file.write_text("".join(f"{k} SHA256 HEX:{'%064x' % k}\n" for k in sorted(keys)))
        yaml_text = re.sub(r'^keys: "[^"]*"', f'keys: "{keys_file}"', yaml_text, flags=re.M)
    dump_dir = Path(scratch) / "nts"
    dump_dir.mkdir(exist_ok=True)
    yaml_text = re.sub(r'nts_dump_dir: "[^"]*"', f'nts_dump_dir: "{dump_dir}"', yaml_text)
    # --check-config opens a PHC as the start does: one this machine lacks is its system clock here.
    return re.sub(r'\{type: phc, device: "([^"]+)"[^}]*\}',
                  lambda m: m.group(0) if os.path.exists(m.group(1)) else "{type: system}", yaml_text)


class Import(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp()
        cls.translations = {}
        for path, fmt in inputs(cls.scratch):
            out = Path(cls.scratch) / (path.name + ".yaml")
            result = smearctl("import", str(path), "--out", str(out))
            cls.translations[path] = (fmt, result, out)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch, ignore_errors=True)

    def translation(self, name):
        for path, (fmt, result, out) in self.translations.items():
            if path.name == name:
                self.assertEqual(result.returncode, 0, result.stderr)
                return yaml.safe_load(out.read_text()), out.read_text()
        self.fail(f"no input named {name}")

    def test_every_translation_passes_check_config(self):
        for path, (fmt, result, out) in self.translations.items():
            with self.subTest(file=str(path)):
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertIn(f"({fmt})", result.stderr)  # the format told from the content
                text = out.read_text()
                checked = Path(self.scratch) / ("checked-" + out.name)
                checked.write_text(checkable(text, yaml.safe_load(text), self.scratch))
                check = harness.run([harness.binary(harness.SMEARD), "--check-config", str(checked)], timeout=30)
                self.assertEqual(check.returncode, 0, check.stdout + check.stderr + "\n" + text)

    def test_every_directive_line_is_named(self):
        for path, (fmt, result, out) in self.translations.items():
            with self.subTest(file=str(path)):
                self.assertEqual(result.returncode, 0, result.stderr)
                text = out.read_text()
                for number in directive_lines(path.read_text(), fmt):
                    self.assertIn(f"# {path}:{number}: ", text, f"line {number} of {path} is not named")

    def test_every_server_and_pool_is_carried_over(self):
        for path, (fmt, result, out) in self.translations.items():
            with self.subTest(file=str(path)):
                self.assertEqual(result.returncode, 0, result.stderr)
                config = yaml.safe_load(out.read_text())
                self.assertEqual({host_of(e) for e in upstream_servers(config)}, input_hosts(path.read_text(), fmt))

    def test_debian_chrony_conf(self):
        config, text = self.translation("chrony.conf")
        self.assertEqual(upstream_servers(config), [{"pool": "2.debian.pool.ntp.org", "max_sources": 4}])
        self.assertEqual(config["keys"], "/etc/chrony/chrony.keys")
        self.assertIn("/usr/share/zoneinfo/right/UTC", config["leapdb"]["files"])
        self.assertEqual(config["timescales"], {"utc": {"smear": "none", "refid": "chrony"}})
        self.assertEqual(config["reference"]["drift_file"], "/var/lib/smeard/drift")
        self.assertRegex(text, r"chrony\.conf:\d+: makestep 1 3: no equivalent: smeard never steps")
        self.assertRegex(text, r"chrony\.conf:\d+: sourcedir /etc/chrony/sources.d: not followed")

    def test_debian_ntpsec_conf(self):
        config, text = self.translation("ntp.conf")
        pools = [e["pool"] for e in upstream_servers(config)]
        self.assertEqual(pools, [f"{n}.debian.pool.ntp.org" for n in range(4)])
        self.assertEqual(config["reference"]["minsources"], 3)  # tos minsane 3
        self.assertEqual(config["leapdb"]["files"], ["/usr/share/zoneinfo/leap-seconds.list"])
        self.assertEqual(config["ratelimit"], {})  # limited: on, with smeard's defaults
        self.assertNotIn("access", config)  # restrict default: everyone is served
        self.assertIn("(NTPsec)", text)

    def test_chrony_smoothtime_example(self):
        config, text = self.translation("chrony-smoothtime.conf")
        self.assertEqual(config["timescales"], {"chrony": {"smear": "chrony", "refid": "chrony"}})
        self.assertEqual(config["access"]["allow"], ["192.168.0.0/16", "2001:db8::/32"])
        self.assertEqual(config["access"]["deny"], ["192.168.100.0/24"])
        self.assertEqual(config["ratelimit"], {"interval": 1, "burst": 16, "leak": 2})
        self.assertEqual(config["reference"]["unsynchronized"], {"local_stratum": 10})
        sources = config["reference"]["sources"]
        self.assertEqual(sources[1], {"type": "phc", "device": "/dev/ptp0", "timescale": "tai"})
        self.assertEqual(sources[2], {"type": "shm", "unit": 0, "refid": "GPS", "noselect": True})
        self.assertEqual(sources[3], {"type": "sock", "path": "/var/run/chrony.ttyS0.sock", "refid": "PPS"})
        self.assertEqual(sources[0]["nts_dump_dir"], "/var/lib/smeard")
        self.assertEqual(config["listeners"][0]["address"], "192.0.2.7:123")
        self.assertEqual(config["hardware_timestamps"], "*")
        self.assertIn({"server": "ntp2.example.net", "key": 10}, sources[0]["servers"])

    def test_ntpd_smear_and_restrict_example(self):
        config, text = self.translation("ntpd-leapsmear.conf")
        self.assertEqual(config["timescales"], {"ntpd": {"smear": "ntpd", "refid": "ntpd"}})
        self.assertEqual(config["access"]["allow"], ["192.168.1.0/24", "127.0.0.1", "2001:db8::/32"])
        self.assertEqual(config["access"]["deny"], ["192.168.1.66"])
        self.assertEqual(config["access"]["denied"], "drop")
        self.assertEqual(config["ratelimit"], {"interval": 4})
        self.assertEqual(config["reference"]["unsynchronized"], {"local_stratum": 10})

    def test_ntpsec_examples(self):
        config, text = self.translation("ntpsec-nts-client.conf")
        self.assertTrue(all(e["nts"] for e in upstream_servers(config)))
        config, text = self.translation("ntpsec-ntp.d.conf")
        self.assertEqual([s.get("unit") for s in config["reference"]["sources"][1:]], [0, 1])
        config, text = self.translation("ntpsec-suse.conf")
        self.assertEqual(config["keys"], "/etc/ntp.keys")
        self.assertIn('keys: ntpd\'s keys file is "ID TYPE KEY"', text)

    def test_ntpd_rs_examples(self):
        config, text = self.translation("ntpd-rs-ntp.server.toml")
        self.assertEqual(config["listeners"], [{"address": "[::]:123", "timescale": "utc"}])
        self.assertEqual(upstream_servers(config), [{"pool": "ntpd-rs.pool.ntp.org", "max_sources": 4}])
        config, text = self.translation("ntpd-rs-nts-server.toml")
        servers = upstream_servers(config)
        self.assertIn({"server": "nts.example.net", "nts": True, "nts_port": 4461,
                       "nts_ca": "/etc/ssl/certs/ca-certificates.crt"}, servers)
        self.assertIn({"server": "[2001:db8::123]:1123"}, servers)
        self.assertEqual(config["access"], {"allow": ["10.0.0.0/8", "2001:db8::/32"], "deny": ["10.66.0.0/16"],
                                            "denied": "drop"})
        self.assertEqual(config["reference"]["minsources"], 2)
        self.assertEqual(config["reference"]["unsynchronized"], {"local_stratum": 10})

    def test_standard_output_by_default(self):
        path = DATA / "chrony-smoothtime.conf"
        result = smearctl("import", str(path))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, self.translations[path][2].read_text())

    def test_from_overrides_the_guess(self):
        path = Path(self.scratch) / "plain.conf"
        path.write_text("server ntp.example.net iburst\n")
        result = smearctl("import", str(path))
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot tell whether this is a chrony.conf, an ntp.conf or an ntpd-rs ntp.toml", result.stderr)
        self.assertEqual(result.stdout, "")
        for fmt, daemon in (("chrony", "chronyd"), ("ntpd", "ntpd")):
            result = smearctl("import", str(path), "--from", fmt)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(f"({daemon}) by smearctl import", result.stdout)

    def test_bad_input_names_file_and_line(self):
        path = Path(self.scratch) / "broken.conf"
        path.write_text("rtcsync\nserver ntp.example.net key seven\nallow 10.0.0.300/8\n")
        out = Path(self.scratch) / "broken.yaml"
        result = smearctl("import", str(path), "--out", str(out))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.splitlines(), [
            f"{path}:2: server: option key needs a number from 1 to 4294967295",
            f"{path}:3: allow: '10.0.0.300/8' is not a network such as 192.168.1.0/24 or 2001:db8::/32"])
        self.assertFalse(out.exists())
        toml = Path(self.scratch) / "broken.toml"
        toml.write_text("[[source]]\nmode = \"pool\"\naddress = \"pool.example.net\"\ncount = 99\n")
        result = smearctl("import", str(toml))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.strip(), f"{toml}:4: source.count: must be from 1 to 16")

    def test_usage_errors(self):
        self.assertEqual(smearctl("import").returncode, 2)
        result = smearctl("import", str(DATA / "ntpd-rs-ntp.toml"), "--from", "openntpd")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--from takes chrony, ntpd or ntpd-rs", result.stderr)
        result = smearctl("import", "/nonexistent/chrony.conf")
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/chrony.conf", result.stderr)


if __name__ == "__main__":
    unittest.main()
