"""Container images for the package, container, systemd and Kubernetes tests, built here from
Debian's packages alone (no image registry is reachable): a Debian 12 base made with mmdebstrap
and imported as debian:bookworm, the smeard image built from deploy/docker/Dockerfile on it, and
on it too a Debian 12 that boots systemd with the package installed.

podman runs with runc (crun refuses this machine's hybrid cgroup hierarchy) and with resource
limits no higher than our own (podman raises them by default, which needs CAP_SYS_RESOURCE).
Tests that use podman share the resource lock "podman" in CMakeLists.txt, so one builds at a time.
"""

import os
import resource
import subprocess
import time
from pathlib import Path

import harness

IMAGES = harness.REPO / "build/images"
BASE = "docker.io/library/debian:bookworm"  # what the Dockerfile's FROM debian:bookworm resolves to
SMEARD_IMAGE = "localhost/smeard:test"
BUILD_IMAGE = "localhost/smeard-build:test"  # the Dockerfile's first stage, where the package is built
SMEARD_UID = 10123  # the Dockerfile's smeard user


def _environment():
    IMAGES.mkdir(parents=True, exist_ok=True)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(4096, resource.getrlimit(resource.RLIMIT_NPROC)[1])
    conf = IMAGES / "containers.conf"
    conf.write_text(f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
                    '[engine]\nruntime = "runc"\n')
    return dict(os.environ, CONTAINERS_CONF=str(conf))


def podman(args, timeout=120, check=True):
    """Runs podman ARGS; an AssertionError with its output when it fails and `check` is set."""
    command = [harness.tool("podman", "podman")] + list(args)
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=_environment(),
                            preexec_fn=harness._die_with_parent)  # a killed setup.sh leaves no build behind
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited with {result.returncode}:\n"
                             f"{result.stdout[-4000:]}{result.stderr[-4000:]}")
    return result


def debian_base():
    """debian:bookworm in podman's storage: imported from build/images/bookworm.tar, which
    mmdebstrap makes from Debian's archive when it is not there yet."""
    if podman(["image", "exists", BASE], check=False).returncode == 0:
        return BASE
    tarball = IMAGES / "bookworm.tar"
    if not tarball.exists():
        partial = IMAGES / "bookworm.tar.partial"
        result = harness.run([harness.tool("mmdebstrap", "mmdebstrap"), "--quiet", "--variant=minbase",
                              "--format=tar", "bookworm", str(partial)], timeout=900)
        if result.returncode != 0:
            raise AssertionError(f"mmdebstrap failed:\n{result.stdout}{result.stderr}")
        partial.rename(tarball)
    podman(["import", "--quiet", str(tarball), BASE], timeout=300)
    return BASE


_built = False


def smeard_image():
    """The smeard image, built once per test process from deploy/docker/Dockerfile (podman's
    layer cache keeps a rebuild of unchanged sources short)."""
    global _built
    if not _built:
        debian_base()
        started = time.monotonic()
        podman(["build", "--pull=never", "--format", "docker", "-f", str(harness.REPO / "deploy/docker/Dockerfile"),
                "-t", SMEARD_IMAGE, str(harness.REPO)], timeout=1800)
        print(f"\n  podman build of deploy/docker/Dockerfile: {time.monotonic() - started:.0f} s", flush=True)
        _built = True
    return SMEARD_IMAGE


def export_package():
    """Puts the package the Dockerfile's first stage built (`setup.sh package` on a clean Debian 12,
    from this tree) into build/packager/deb, where package() finds it."""
    smeard_image()
    podman(["build", "--pull=never", "--format", "docker", "--target", "build",
            "-f", str(harness.REPO / "deploy/docker/Dockerfile"), "-t", BUILD_IMAGE, str(harness.REPO)], timeout=1800)
    target = harness.REPO / "build/packager/deb"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("smeard_*.deb"):
        old.unlink()
    container = podman(["create", BUILD_IMAGE, "true"]).stdout.strip()
    try:
        podman(["cp", f"{container}:/src/build/packager/deb/.", str(target)])
    finally:
        podman(["rm", container], check=False)
    print(f"  package from the image's build stage: {package().name}", flush=True)


def package():
    """The Debian package deploy/debian/setup.sh package made, or export_package() took from the
    image's build."""
    found = sorted((harness.REPO / "build/packager/deb").glob("smeard_*.deb"))
    if len(found) != 1:
        raise AssertionError(f"expected one build/packager/deb/smeard_*.deb, found {len(found)}: "
                             "run deploy/debian/setup.sh package")
    return found[0]


SYSTEMD_IMAGE = "localhost/smeard-systemd:test"
# systemd as PID 1, and gpsd (with gpsd-clients' tools) for the refclocks. No time daemon: nothing
# in the container may set the clock (it has no CAP_SYS_TIME either).
SYSTEMD_PACKAGES = ["systemd", "systemd-sysv", "gpsd", "gpsd-clients", "util-linux", "procps"]


def package_dependencies(deb):
    """The package names the .deb's Depends field lists (versions and alternatives dropped)."""
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True,
                             check=True).stdout
    return sorted({entry.split("|")[0].split("(")[0].strip() for entry in depends.split(",") if entry.strip()})


def systemd_image():
    """Debian 12 booting systemd, with the package this tree built installed: its dependencies
    in a layer of their own (kept while they do not change), the package in the last."""
    deb = package()
    context = IMAGES / "systemd"
    context.mkdir(parents=True, exist_ok=True)
    for old in context.glob("*.deb"):
        old.unlink()
    (context / "smeard.deb").write_bytes(deb.read_bytes())
    packages = " ".join(SYSTEMD_PACKAGES + package_dependencies(deb))
    (context / "Containerfile").write_text(
        f"FROM {debian_base()}\n"
        "RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
        f"{packages} && rm -rf /var/lib/apt/lists/*\n"
        "COPY smeard.deb /tmp/\n"
        "RUN dpkg -i /tmp/smeard.deb && rm /tmp/smeard.deb\n")
    started = time.monotonic()
    podman(["build", "--pull=never", "--format", "docker", "-t", SYSTEMD_IMAGE, str(context)], timeout=1800)
    print(f"\n  podman build of the systemd image: {time.monotonic() - started:.0f} s", flush=True)
    return SYSTEMD_IMAGE


def wait_healthy(name, timeout=30):
    """Waits until the container's HEALTHCHECK passes (podman healthcheck run exits 0)."""
    deadline = time.monotonic() + timeout
    while True:
        result = podman(["healthcheck", "run", name], check=False)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            logs = podman(["logs", name], check=False)
            raise AssertionError(f"container {name} not healthy after {timeout} s: {result.stdout}{result.stderr}\n"
                                 f"its log:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.5)


if __name__ == "__main__":
    # deploy/debian/setup.sh test builds the images beside its compilers, so no test waits for them.
    export_package()
    systemd_image()
