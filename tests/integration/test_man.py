"""The manual pages as the Debian package ships them (deploy/man, built by the packager's build):
smeard(8), smearctl(1) and smeard.yaml(5) are in the package, gzipped as Debian wants; man renders
each without a warning; lintian finds no error in the package; and the pages cover what the
programs accept.

What the coverage checks cover, and what not:
- Every configuration key the reader accepts has an entry of its own in smeard.yaml(5) (its full
  path in bold, starting a line, then an indented paragraph that gives a default or says it is
  required). The accepted keys come from smeard itself: probe files put an unknown key into every
  mapping of the file (PROBES below) and `smeard --check-config` answers each with
  "unknown key (expected one of: ...)", the reader's own list of the keys it reads there. Each
  probed mapping must answer, so a section the probes no longer reach fails the test; a new
  nested mapping needs a line in PROBES to be covered. Values (the choices of an enumeration,
  ranges) are not checked.
- Every command in `smearctl --help` has an entry in smearctl(1), and every option that
  `smearctl --help` or `smeard --help` names appears in its page.
"""

import gzip
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import harness
import images

PAGES = {"smeard.8": "usr/share/man/man8/smeard.8.gz", "smearctl.1": "usr/share/man/man1/smearctl.1.gz",
         "smeard.yaml.5": "usr/share/man/man5/smeard.yaml.5.gz"}

UNKNOWN = "zz_probe"

# Two files, so that both forms of `reference` are read: a list of sources, and the shorthand.
# Every mapping carries the unknown key; the mappings are filled in just enough to be read.
PROBE_LIST = f"""
{UNKNOWN}: 1
listeners:
  - {{address: "127.0.0.1:123", timescale: probe, xdp: {{interface: lo, {UNKNOWN}: 1}}, {UNKNOWN}: 1}}
timescales:
  probe:
    {UNKNOWN}: 1
    smear: {{profile: linear, window: 600, {UNKNOWN}: 1}}
    rehearsal: {{leap_at: "2030-01-01T00:00:00Z", {UNKNOWN}: 1}}
reference:
  {UNKNOWN}: 1
  sources:
    - type: upstream
      {UNKNOWN}: 1
      servers: [{{server: ntp.example.net, {UNKNOWN}: 1}}]
  unsynchronized: {{local_stratum: 1, {UNKNOWN}: 1}}
leapdb: {{{UNKNOWN}: 1}}
clients: [{{networks: ["10.0.0.0/8"], timescale: probe, {UNKNOWN}: 1}}]
client_policy: {{{UNKNOWN}: 1}}
metrics: {{{UNKNOWN}: 1}}
access: {{{UNKNOWN}: 1}}
ratelimit: {{{UNKNOWN}: 1}}
nts:
  {UNKNOWN}: 1
  listeners: [{{address: "127.0.0.1:4460", timescale: probe, {UNKNOWN}: 1}}]
  ratelimit: {{{UNKNOWN}: 1}}
"""
PROBE_SHORTHAND = f"""
listeners: [{{address: "127.0.0.1:123", timescale: probe}}]
timescales: {{probe: {{smear: none}}}}
reference: {{type: system, {UNKNOWN}: 1}}
"""
# The mappings the probes reach, as the reader names them; each must list its keys.
PROBED = {
    "": PROBE_LIST, "listeners[0]": PROBE_LIST, "listeners[0].xdp": PROBE_LIST, "timescales.probe": PROBE_LIST,
    "timescales.probe.smear": PROBE_LIST, "timescales.probe.rehearsal": PROBE_LIST,
    "reference": PROBE_LIST, "reference.sources[0]": PROBE_LIST,
    "reference.sources[0].servers[0]": PROBE_LIST, "reference.unsynchronized": PROBE_LIST,
    "leapdb": PROBE_LIST, "clients[0]": PROBE_LIST, "client_policy": PROBE_LIST, "metrics": PROBE_LIST,
    "access": PROBE_LIST, "ratelimit": PROBE_LIST, "nts": PROBE_LIST, "nts.listeners[0]": PROBE_LIST,
    "nts.ratelimit": PROBE_LIST, "reference (shorthand)": PROBE_SHORTHAND,
}


def accepted_keys(text):
    """{mapping: [key, ...]} from smeard --check-config's unknown-key messages for `text`."""
    with tempfile.TemporaryDirectory() as directory:
        path = harness.write_file(directory, "probe.yaml", text)
        result = harness.run([harness.SMEARD, "--check-config", str(path)])
    found = {}
    for line in result.stderr.splitlines():
        match = re.search(rf": ((?:[^:]*\.)?){UNKNOWN}: unknown key \(expected one of: (.*)\)$", line)
        if match:
            found[match.group(1).rstrip(".")] = match.group(2).split(", ")
    return found, result.stderr


def page_path(mapping, key):
    """The path a page documents a key under: list indices as [], the probe's timescale as NAME."""
    path = f"{mapping}.{key}" if mapping else key
    path = re.sub(r"\[\d+\]", "[]", path)
    return path.replace("timescales.probe", "timescales.NAME")


def roff_text(roff):
    """The roff source with scdoc's escapes and font changes removed, line by line."""
    return [re.sub(r"\\f[BIRP]|\\&", "", line).replace("\\e", "\\") for line in roff.splitlines()]


def entries(roff):
    """{heading: body} of a page's indented entries (a line, then .RS 4 ... .RE), as scdoc writes
    a line followed by a tab-indented paragraph."""
    lines = roff_text(roff)
    out = {}
    for i, line in enumerate(lines[:-1]):
        if lines[i + 1].startswith(".RS") and not line.startswith("."):
            body = []
            for following in lines[i + 2:]:
                if following.startswith(".RE"):
                    break
                body.append(following)
            out[line.strip()] = " ".join(body)
    return out


class ManualPagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deb = images.package()
        cls.root = Path(tempfile.mkdtemp(prefix="smeard-man-"))
        subprocess.run(["dpkg-deb", "-x", str(cls.deb), str(cls.root)], check=True)
        cls.roff = {}
        for name, path in PAGES.items():
            file = cls.root / path
            cls.roff[name] = gzip.decompress(file.read_bytes()).decode() if file.exists() else ""

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", str(cls.root)], check=False)

    def test_the_package_ships_the_pages_gzipped(self):
        listing = subprocess.run(["dpkg-deb", "-c", str(self.deb)], capture_output=True, text=True,
                                 check=True).stdout
        for name, path in PAGES.items():
            with self.subTest(page=name):
                self.assertRegex(listing, rf"-rw-r--r-- root/root .* \./{re.escape(path)}\n")
                data = (self.root / path).read_bytes()
                # gzip -9n: maximum compression flag (XFL 2), no file name (FLG 0), no timestamp.
                self.assertEqual((data[:4], data[4:8], data[8]), (b"\x1f\x8b\x08\x00", b"\0\0\0\0", 2), name)

    def test_man_renders_each_page_without_warnings(self):
        for name, path in PAGES.items():
            with self.subTest(page=name):
                result = subprocess.run(["man", "--warnings", "-l", str(self.root / path)], capture_output=True,
                                        text=True, env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stderr, "", f"man --warnings on {name}")
                section = name.rsplit(".", 1)[1]
                self.assertRegex(result.stdout, rf"^{re.escape(name.rsplit('.', 1)[0])}\({section}\) ", name)
                self.assertIn("SEE ALSO", result.stdout)

    def test_lintian_finds_no_error(self):
        result = subprocess.run([harness.tool("lintian", "lintian"), str(self.deb)], capture_output=True, text=True,
                                timeout=280)
        tags = [line for line in result.stdout.splitlines() if re.match(r"^[EWIPXO]: ", line)]
        print(f"\n  lintian {self.deb.name}: {len(tags)} tags" + "".join(f"\n    {tag}" for tag in tags))
        # 0, or 2 for errors (--fail-on error, the default); anything else: lintian itself failed.
        self.assertIn(result.returncode, (0, 2), result.stderr)
        self.assertEqual([tag for tag in tags if tag.startswith("E: ")], [], result.stdout + result.stderr)
        # Each warning that stays is explained in README.md (Deployment, "Debian package"):
        # initial-upload-closes-no-bugs: the changelog's one entry closes no ITP bug, as the
        # package is built from this tree, not uploaded to Debian.
        explained = {"initial-upload-closes-no-bugs"}
        self.assertEqual([tag for tag in tags if tag.startswith("W: ") and tag.split()[2] not in explained], [])

    def test_every_accepted_configuration_key_has_an_entry(self):
        documented = entries(self.roff["smeard.yaml.5"])
        by_text = {}
        for text in (PROBE_LIST, PROBE_SHORTHAND):
            by_text[text] = accepted_keys(text)
        checked = 0
        for mapping, text in PROBED.items():
            found, stderr = by_text[text]
            probed = mapping.replace(" (shorthand)", "")
            with self.subTest(mapping=mapping):
                self.assertIn(probed, found, f"the probe did not reach {mapping or 'the top level'}:\n{stderr}")
                for key in found.get(probed, []):
                    if key == UNKNOWN:
                        continue
                    # The shorthand holds one source's keys beside the selection's.
                    paths = [page_path(probed, key)]
                    if mapping == "reference (shorthand)":
                        paths.append(page_path("reference.sources[]", key))
                    entry = next((documented[p] for p in paths if p in documented), None)
                    self.assertIsNotNone(entry, f"smeard.yaml(5) has no entry for {' or '.join(paths)}")
                    self.assertRegex(entry or "", r"(?i)default|required", f"{paths[0]}: no default given")
                    checked += 1
        print(f"\n  {checked} accepted keys in {len(PROBED)} mappings, each with its entry in smeard.yaml(5)")

    def test_every_smearctl_command_and_option_is_in_its_page(self):
        usage = harness.run([harness.SMEARCTL, "--help"]).stdout
        commands = re.findall(r"^  ([a-z]+(?: [a-z]+)*)(?: |$)", usage.split("commands:", 1)[1], re.MULTILINE)
        self.assertIn("query", commands)
        headings = [heading for heading in entries(self.roff["smearctl.1"])]
        for command in commands:
            with self.subTest(command=command):
                self.assertTrue(any(heading.startswith(command + " ") or heading == command for heading in headings),
                                f"smearctl(1) has no entry for {command}")
        text = "\n".join(roff_text(self.roff["smearctl.1"]))
        for option in sorted(set(re.findall(r"--[a-z][a-z-]*", usage))):
            with self.subTest(option=option):
                self.assertTrue(option in text, f"smearctl(1) does not mention {option}")
        print(f"\n  smearctl(1): {len(commands)} commands: {', '.join(commands)}")

    def test_every_smeard_option_is_in_its_page(self):
        usage = harness.run([harness.SMEARD, "--help"]).stdout
        text = "\n".join(roff_text(self.roff["smeard.8"]))
        options = sorted(set(re.findall(r"--[a-z][a-z-]*", usage)))
        self.assertIn("--check-config", options)
        for option in options:
            with self.subTest(option=option):
                self.assertTrue(option in text, f"smeard(8) does not mention {option}")


if __name__ == "__main__":
    unittest.main()
