"""deploy/k8s: the base and the example overlay, rendered with kubectl kustomize, keep every
promise the README makes of them; their configurations pass --check-config with the leap file
they mount; and the rendered pod (its image, user, capabilities, read-only root, mounts and host
network) runs under podman in a private network namespace, where the probes answer, ntpdig
queries port 123 and takes or refuses the replies as the node's clock deserves, and a new leap
file is rolled in place."""

import json
import os
import re
import shutil
import tempfile
import unittest
import urllib.request
import uuid
from pathlib import Path

import yaml

import harness
import images

K8S = harness.REPO / "deploy/k8s"
RENDERS = {"base": K8S / "base", "overlay": K8S / "overlays/example"}
INSIDE = os.environ.get("SMEARD_ITEST_NETNS") == "1"


def kubectls():
    """kubectl on PATH, and Debian's (kustomize 2.0.3) where setup.sh unpacked it beside another."""
    found = [harness.tool("kubectl", "kubernetes-client")]
    debian = harness.REPO / "build/tools/kubernetes-client/usr/bin/kubectl"
    if debian.exists():
        found.append(str(debian))
    return found


def render(directory, kubectl=None):
    kubectl = kubectl or kubectls()[0]
    result = harness.run([kubectl, "kustomize", str(directory)], timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"{kubectl} kustomize {directory}: {result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def comparable(objects):
    """Renders of two kustomize versions differ in the generated names' hashes and in empty
    metadata maps alone."""
    text = re.sub(r"smeard-config-[a-z0-9]{10}", "smeard-config-HASH", json.dumps(objects))
    normal = json.loads(text)
    for o in normal:
        o["metadata"] = {k: v for k, v in o["metadata"].items() if v != {}}
    return sorted(normal, key=lambda o: (o["kind"], o["metadata"]["name"]))


def one(objects, kind, name_prefix=""):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name_prefix)]
    if len(found) != 1:
        raise AssertionError(f"expected one {kind} {name_prefix}*, found {len(found)}")
    return found[0]


def config_maps(objects):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}


def update_volume(host, data):
    """Writes a ConfigMap volume the way the kubelet's atomic writer does: the files in a fresh
    hidden directory, ..data pointing at it, each key a link through ..data; an update swaps
    ..data with one rename, so a reader sees the old files or the new ones, never a mix."""
    host = Path(host)
    host.mkdir(exist_ok=True)
    os.chmod(host, 0o755)
    previous = os.readlink(host / "..data") if (host / "..data").is_symlink() else None
    fresh = Path(tempfile.mkdtemp(prefix="..k8s_", dir=host))
    os.chmod(fresh, 0o755)
    for key, text in data.items():
        (fresh / key).write_text(text)
        os.chmod(fresh / key, 0o644)
    os.symlink(fresh.name, host / "..data_tmp")
    os.rename(host / "..data_tmp", host / "..data")
    for key in data:
        if not (host / key).is_symlink():
            os.symlink(f"..data/{key}", host / key)
    if previous:
        shutil.rmtree(host / previous)


def operator_secrets(directory):
    """What an operator puts in the Secrets the overlay names (kept out of git): a self-signed
    certificate for the node and a fresh cookie key."""
    key, cert = Path(directory) / "secret-tls.key", Path(directory) / "secret-tls.crt"
    made = harness.run([harness.tool("openssl", "openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
    if made.returncode != 0:
        raise AssertionError(f"openssl req: {made.stderr}")
    return {"smeard-nts-tls": {"tls.crt": cert.read_text(), "tls.key": key.read_text()},
            "smeard-nts-cookie-key": {"cookie.key": os.urandom(32).hex() + "\n"}}


def volume_data(volume, maps, secrets):
    """A volume's files: a ConfigMap's data, or the items a projected volume takes from Secrets."""
    if "configMap" in volume:
        return maps[volume["configMap"]["name"]]["data"]
    files = {}
    for source in volume["projected"]["sources"]:
        secret = secrets[source["secret"]["name"]]
        for item in source["secret"]["items"]:
            files[item["path"]] = secret[item["key"]]
    return files


def write_volumes(objects, directory):
    """Writes each volume of the DaemonSet's pod as the kubelet would; returns (mountPath, host
    directory) pairs."""
    daemonset = one(objects, "DaemonSet")
    pod = daemonset["spec"]["template"]["spec"]
    maps = config_maps(objects)
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = operator_secrets(directory) if any("projected" in v for v in pod["volumes"]) else {}
    mounts = []
    for mount in pod["containers"][0]["volumeMounts"]:
        host = Path(directory) / mount["name"]
        update_volume(host, volume_data(volumes[mount["name"]], maps, secrets))
        mounts.append((mount["mountPath"], str(host)))
    return mounts


def smeard_config(objects):
    daemonset = one(objects, "DaemonSet")
    args = daemonset["spec"]["template"]["spec"]["containers"][0]["args"]
    return args[args.index("--config") + 1]


class RenderedManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rendered = {name: render(path) for name, path in RENDERS.items()}

    def test_every_kubectl_renders_the_same(self):
        versions = []
        for kubectl in kubectls():
            version = harness.run([kubectl, "version", "--client"]).stdout
            versions.append(re.search(r'v\d+\.\d+\.\d+', version).group(0))
            for name, path in RENDERS.items():
                with self.subTest(kubectl=kubectl, render=name):
                    self.assertEqual(comparable(render(path, kubectl)), comparable(self.rendered[name]))
        print(f"\n  rendered alike by kubectl {', '.join(versions)}")

    def test_generated_monitoring_files_are_current(self):
        result = harness.run([str(K8S / "generate"), "--check"])
        self.assertEqual(result.returncode, 0, result.stderr)

    def each(self):
        for name, objects in self.rendered.items():
            with self.subTest(render=name):
                yield objects

    def test_daemonset(self):
        for objects in self.each():
            daemonset = one(objects, "DaemonSet")
            spec = daemonset["spec"]
            pod = spec["template"]["spec"]
            [container] = pod["containers"]
            self.assertEqual(spec["updateStrategy"]["type"], "RollingUpdate")
            self.assertEqual(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 1)
            self.assertGreater(spec.get("minReadySeconds", 0), 0)
            self.assertIs(pod["hostNetwork"], True)
            self.assertEqual(pod["dnsPolicy"], "ClusterFirstWithHostNet")
            ntp = [p for p in container["ports"] if p["containerPort"] == 123]
            self.assertEqual(ntp, [{"name": "ntp", "containerPort": 123, "hostPort": 123, "protocol": "UDP"}])
            # Every node: one toleration without key or effect tolerates every taint.
            self.assertIn({"operator": "Exists"}, pod["tolerations"])

            security = pod["securityContext"]
            self.assertIs(security["runAsNonRoot"], True)
            self.assertEqual((security["runAsUser"], security["runAsGroup"]), (images.SMEARD_UID,) * 2)
            self.assertEqual(security["seccompProfile"], {"type": "RuntimeDefault"})
            container_security = container["securityContext"]
            self.assertIs(container_security["readOnlyRootFilesystem"], True)
            self.assertNotIn("privileged", container_security)
            self.assertEqual(container_security["capabilities"], {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})
            self.assertNotIn("SYS_TIME", json.dumps(daemonset))
            self.assertIs(pod["automountServiceAccountToken"], False)

            for kind in ("requests", "limits"):
                self.assertEqual(set(container["resources"][kind]), {"cpu", "memory"}, kind)
            self.assertEqual(container["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "metrics"})
            self.assertEqual(container["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "metrics"})
            metrics = [p for p in container["ports"] if p["name"] == "metrics"]
            self.assertEqual(len(metrics), 1)
            listen = yaml.safe_load(self.config_text(objects))["metrics"]["listen"]
            self.assertEqual(listen, f"0.0.0.0:{metrics[0]['containerPort']}", "the probes cannot reach smeard")

    def config_text(self, objects):
        path = Path(smeard_config(objects))
        daemonset = one(objects, "DaemonSet")
        pod = daemonset["spec"]["template"]["spec"]
        [mount] = [m for m in pod["containers"][0]["volumeMounts"] if Path(m["mountPath"]) == path.parent]
        [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        return config_maps(objects)[volume["configMap"]["name"]]["data"][path.name]

    def test_configuration_and_leap_file_come_from_config_maps(self):
        for objects in self.each():
            maps = config_maps(objects)
            pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
            volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
            mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
            for mount in mounts.values():
                self.assertIs(mount.get("readOnly"), True)
                # A subPath mount is never updated: the leap file could not be rolled in place.
                self.assertNotIn("subPath", mount)
                if mount["name"] in volumes:
                    self.assertIn(volumes[mount["name"]], maps)
                else:
                    # The one other kind: NTS's key material, from Secrets only, never a ConfigMap.
                    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
                    self.assertEqual({kind for source in volume["projected"]["sources"] for kind in source},
                                     {"secret"}, mount)
            config = yaml.safe_load(self.config_text(objects))
            # A new configuration rolls the DaemonSet: its ConfigMap's name carries a hash.
            config_map = volumes[mounts[str(Path(smeard_config(objects)).parent)]["name"]]
            self.assertRegex(config_map, r"^smeard-config-[a-z0-9]{10}$")
            # A new leap file is rolled in place: the name stays, and smeard reads it from there.
            [leap_file] = config["leapdb"]["files"]
            leap_mount = mounts[str(Path(leap_file).parent)]
            self.assertEqual(volumes[leap_mount["name"]], "smeard-leap")
            self.assertIn(Path(leap_file).name, maps["smeard-leap"]["data"])

    def test_pod_monitor_labels_by_node(self):
        for objects in self.each():
            monitor = one(objects, "PodMonitor")
            pod_labels = one(objects, "DaemonSet")["spec"]["template"]["metadata"]["labels"]
            for key, value in monitor["spec"]["selector"]["matchLabels"].items():
                self.assertEqual(pod_labels.get(key), value)
            [endpoint] = monitor["spec"]["podMetricsEndpoints"]
            self.assertEqual((endpoint["port"], endpoint["path"]), ("metrics", "/metrics"))
            self.assertIn({"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
                          endpoint["relabelings"])
            # deploy/prometheus/rules.yaml's up{job="smeard"} needs that job name.
            self.assertIn({"targetLabel": "job", "replacement": "smeard"}, endpoint["relabelings"])

    def test_prometheus_rule_and_dashboard_are_the_shipped_ones(self):
        rules = yaml.safe_load((harness.REPO / "deploy/prometheus/rules.yaml").read_text())
        dashboard = json.loads((harness.REPO / "deploy/grafana/smeard.json").read_text())
        for objects in self.each():
            self.assertEqual(one(objects, "PrometheusRule")["spec"], rules)
            config_map = one(objects, "ConfigMap", "smeard-grafana-dashboard")
            self.assertEqual(config_map["metadata"]["labels"]["grafana_dashboard"], "1")
            self.assertEqual(json.loads(config_map["data"]["smeard.json"]), dashboard)

    def test_overlay(self):
        objects = self.rendered["overlay"]
        self.assertEqual({o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}, {"smeard"})
        namespace = one(objects, "Namespace")
        self.assertEqual(namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged")
        container = one(objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["image"], "registry.example.com/time/smeard:0.1.0")
        # Every UDP listener of its configuration is a declared host port.
        config = yaml.safe_load(self.config_text(objects))
        ports = {p["hostPort"] for p in container["ports"] if p["protocol"] == "UDP"}
        self.assertEqual({int(l["address"].rsplit(":", 1)[1]) for l in config["listeners"]}, ports)
        # And every NTS-KE listener a TCP one, its files on the Secrets' volume.
        tcp = {p["hostPort"] for p in container["ports"] if p["protocol"] == "TCP"}
        self.assertEqual({int(l["address"].rsplit(":", 1)[1]) for l in config["nts"]["listeners"]} | {9466}, tcp)
        nts_mount = [m["mountPath"] for m in container["volumeMounts"] if m["name"] == "nts"]
        self.assertEqual(nts_mount, ["/etc/smeard/nts"])
        for key in ("certificate", "private_key", "cookie_key_file"):
            self.assertTrue(config["nts"][key].startswith("/etc/smeard/nts/"), config["nts"][key])

    def test_every_shipped_configuration_passes_check_config(self):
        """Run in the image, with the ConfigMaps mounted where the pod mounts them."""
        image = images.smeard_image()
        for name, objects in self.rendered.items():
            with self.subTest(render=name), tempfile.TemporaryDirectory(prefix="smeard-k8s-") as directory:
                volumes = [arg for path, host in write_volumes(objects, directory) for arg in ("-v", f"{host}:{path}:ro")]
                result = images.podman(["run", "--rm", *volumes, image, "--check-config", smeard_config(objects)],
                                       check=False)
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                self.assertIn(": ok (", result.stdout)
                print(f"\n  {name}: {result.stdout.strip()}")


class RenderedPodInPrivateNetwork(unittest.TestCase):
    """Runs only inside the namespace: the base's pod as podman runs it with the host network."""

    @classmethod
    def setUpClass(cls):
        harness.loopback_up()
        cls.directory = tempfile.mkdtemp(prefix="smeard-k8s-pod-")
        cls.addClassCleanup(shutil.rmtree, cls.directory, True)
        objects = render(RENDERS["base"])
        pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
        [container] = pod["containers"]
        security, container_security = pod["securityContext"], container["securityContext"]
        flags = ["--network", "host", "--user", f"{security['runAsUser']}:{security['runAsGroup']}"]
        if container_security["readOnlyRootFilesystem"]:
            flags.append("--read-only")
        if not container_security["allowPrivilegeEscalation"]:
            flags += ["--security-opt", "no-new-privileges"]
        for capability in container_security["capabilities"]["drop"]:
            flags += ["--cap-drop", capability]
        for capability in container_security["capabilities"]["add"]:
            flags += ["--cap-add", capability]
        cls.volumes = dict(write_volumes(objects, cls.directory))
        cls.leap_data = config_maps(objects)["smeard-leap"]["data"]
        for path, host in cls.volumes.items():
            flags += ["-v", f"{host}:{path}:ro"]
        cls.name = f"smeard-k8s-{uuid.uuid4().hex[:8]}"
        images.podman(["run", "-d", "--name", cls.name, *flags, images.SMEARD_IMAGE, *container["args"]])
        cls.addClassCleanup(images.podman, ["rm", "-f", "-t", "0", cls.name], check=False)
        cls.probes = {kind: container[kind]["httpGet"]["path"] for kind in ("readinessProbe", "livenessProbe")}
        cls.metrics_port = [p for p in container["ports"] if p["name"] == "metrics"][0]["containerPort"]

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return None, ""

    def test_probes_and_ntpdig(self):
        """The base serves the node's clock as it is: where nothing disciplines it (as on most
        test machines) /readyz says so, replies say LI=3 and stratum 16, and ntpdig refuses them."""
        synchronized = harness.kernel_clock()[0]
        answered = harness.wait_for(lambda: self.get(self.probes["livenessProbe"]) == (200, "ok\n"), 20)
        logs = images.podman(["logs", self.name], check=False)
        self.assertTrue(answered, f"{self.probes['livenessProbe']} never answered:\n{logs.stdout}{logs.stderr}")
        code, body = self.get(self.probes["readinessProbe"])
        query = harness.run([harness.binary(harness.SMEARCTL), "query", "127.0.0.1", "--json"])
        ntpdig = harness.run([harness.tool("ntpdig", "ntpsec-ntpdig"), "-j", "-p", "4", "-t", "2", "127.0.0.1"])
        print(f"\n  rendered pod, kernel clock {'synchronized' if synchronized else 'unsynchronized'}: "
              f"{self.probes['readinessProbe']} {code} {body.strip()!r}; ntpdig: {(ntpdig.stdout + ntpdig.stderr).strip()}")
        reply = json.loads(query.stdout)
        if synchronized:
            self.assertEqual((code, body), (200, "ready\n"))
            self.assertLess(reply["stratum"], 16)
            self.assertEqual(ntpdig.returncode, 0, ntpdig.stderr)
            self.assertLess(abs(float(json.loads(ntpdig.stdout)["offset"])), 0.05)
        else:
            self.assertEqual(code, 503)
            self.assertIn("unsynchronized", body)
            self.assertEqual((reply["stratum"], reply["leap"]), (16, 3), query.stdout)
            self.assertEqual(ntpdig.returncode, 1)
            self.assertIn("stratum too high", ntpdig.stderr)
        metrics = self.get("/metrics")[1]
        self.assertIn('smeard_leap_table_info{', metrics)
        self.assertIn("/etc/smeard/leap/leap-seconds.list", metrics)

    def log_events(self, event):
        logs = images.podman(["logs", self.name], check=False)
        return [l for l in (logs.stdout + logs.stderr).splitlines() if f"event={event} " in l]

    def test_leap_file_rolled_in_place(self):
        """kubectl apply of a new smeard-leap: the kubelet swaps the volume's ..data, and smeard
        loads the new file without a restart; a broken one is refused and the table stays."""
        self.assertTrue(harness.wait_for(lambda: self.get(self.probes["livenessProbe"])[0] == 200, 20))
        leap_volume = self.volumes["/etc/smeard/leap"]
        [(key, text)] = self.leap_data.items()
        leap_table = lambda metrics: re.findall(r"^smeard_leap_table_\w+(?:\{.*\})? .*$", metrics, re.M)
        before = leap_table(self.get("/metrics")[1])
        self.assertTrue(before)
        loaded = len(self.log_events("leap_table_loaded"))
        update_volume(leap_volume, {key: text + "# rolled by the test\n"})
        self.assertTrue(harness.wait_for(lambda: len(self.log_events("leap_table_loaded")) > loaded, 10),
                        "\n".join(self.log_events("leap_table_loaded")))
        self.assertIn("reason=\"changed on disk\"", self.log_events("leap_table_loaded")[-1])

        update_volume(leap_volume, {key: text + "3913056000 thirty-eight\n"})
        self.assertTrue(harness.wait_for(lambda: self.log_events("leap_load_failed"), 10))
        self.assertIn(f"/etc/smeard/leap/{key}:", "\n".join(self.log_events("leap_file_rejected")))
        self.assertIn("kept=\"the previous table from /etc/smeard/leap/leap-seconds.list\"",
                      self.log_events("leap_load_failed")[-1])
        self.assertEqual(leap_table(self.get("/metrics")[1]), before)
        self.assertEqual(self.get(self.probes["livenessProbe"]), (200, "ok\n"))

class RenderedPod(unittest.TestCase):
    def test_rendered_pod_in_a_private_network_namespace(self):
        images.smeard_image()
        harness.tool("ntpdig", "ntpsec-ntpdig")
        result = harness.run_in_private_network(__file__, timeout=180)
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, f"inside the namespace:\n{output}")
        print(next((line for line in output.splitlines() if "rendered pod, kernel clock" in line), ""))


if INSIDE:
    del RenderedManifests, RenderedPod
else:
    del RenderedPodInPrivateNetwork

if __name__ == "__main__":
    unittest.main()
