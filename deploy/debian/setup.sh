#!/usr/bin/env bash
# Sets up a Debian 12 machine for smeard from this checkout, as root.
#
#   setup.sh serve   install build dependencies, build, run smeard in the foreground on its
#                    embedded default configuration (the google smear on 0.0.0.0:123 and [::]:123)
#   setup.sh package install build dependencies, build as a packager does and make the Debian
#                    package build/packager/deb/smeard_VERSION_ARCH.deb (the container build uses it;
#                    `setup.sh package-deps` installs its dependencies alone)
#   setup.sh test    install build dependencies and the real NTP clients the tests talk to,
#                    build the programs, and the container images (the package built in the
#                    Dockerfile's first stage as `setup.sh package` builds it); run the unit
#                    tests under ASan + UBSan and under TSan, a short libFuzzer run of every
#                    parser, then every integration test, then the benchmark briefly
set -euo pipefail

cd "$(dirname "$0")/../.."

# clang compiles the XDP program of AF_XDP listeners; libxdp and libbpf load it and run the sockets.
build_packages=(cmake ninja-build g++ pkg-config libasio-dev libyaml-cpp-dev prometheus-cpp-dev doctest-dev
                nlohmann-json3-dev libssl-dev libseccomp-dev nettle-dev tzdata libtomlplusplus-dev
                clang libxdp-dev libbpf-dev)
# dpkg-buildflags and dpkg-shlibdeps (dpkg-dev, which cpack runs on what file says is ELF),
# readelf (binutils) for the packager's build; scdoc makes the manual pages the package ships.
package_packages=(dpkg-dev file binutils scdoc)
# Real peers: chronyd -Q, ntpdig and Python's ntplib (Debian's python3, not another one on PATH);
# unshare and ip give the port-123 tests a private network namespace.
# clang and its runtime build the libFuzzer targets; prometheus (with promtool) scrapes smeard
# and checks the alert rules; python3-yaml reads them. faketime runs a chronyd upstream 2 s off
# and chronyd clients at a simulated reference's date; openssl makes the NTS tests' CA, and
# python3-cryptography's AES-SIV tampers with NTS requests built from chronyd's saved cookies;
# gpsd, fed by gpsd-clients' gpsfake, writes the SHM refclock samples. systemd-analyze checks the
# unit. mmdebstrap builds a Debian 12 image from Debian's packages, on which podman (with runc:
# crun refuses hybrid cgroup hierarchies; netavark sets up the build network with iptables)
# installs the package and builds and runs the container. linuxptp's ptp4l runs a PTP master and
# a free-running slave on a veth pair, whose port states smeard's ptp4l-backed sources must read.
# dnsmasq serves upstream pool names from a hosts file in a test's network namespace (dnsmasq-base
# is the program alone: the dnsmasq package would also start a system DNS server on port 53).
# lintian checks the package as Debian's archive would; man-db's man renders the manual pages
# with warnings on. ping (iputils-ping) checks that ICMP still reaches the kernel beside AF_XDP;
# ethtool turns GRO on and TSO off on the benchmark's veth pair.
test_packages=(chrony ntpsec-ntpdig python3 python3-ntplib python3-yaml iproute2 util-linux clang libclang-rt-14-dev
               prometheus faketime gpsd gpsd-clients systemd mmdebstrap podman runc netavark iptables
               openssl python3-cryptography linuxptp dnsmasq-base lintian man-db iputils-ping ethtool)

install_packages() {
  local missing=() package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: installing ${missing[*]} needs root" >&2
    exit 1
  fi
  # The tests need chrony's programs, not its service: keep package scripts from starting
  # daemons (and a system chronyd from taking over this machine's clock) during the install.
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -n "$guard" ] && rm -f "$guard"
  return 0
}

# Debian's kubectl (kubernetes-client: kubectl 1.20, kustomize 2.0.3) renders the Kubernetes
# manifests in the tests. A machine with another kubectl keeps it (the package would collide
# with it), and gets Debian's unpacked into build/tools, so the tests render with both.
debian_kubectl() {
  if ! command -v kubectl >/dev/null; then
    install_packages kubernetes-client
  elif ! dpkg-query -S "$(command -v kubectl)" 2>/dev/null | grep -q '^kubernetes-client:' &&
       [ ! -x build/tools/kubernetes-client/usr/bin/kubectl ]; then
    mkdir -p build/tools
    (cd build/tools && apt-get download -q kubernetes-client && dpkg-deb -x kubernetes-client_*.deb kubernetes-client &&
       rm kubernetes-client_*.deb)
  fi
}

# NTPsec's packaged /etc/ntpsec/ntp.conf, which `smearctl import` is tested on, without installing
# (and starting) its daemon: unpacked into build/tools/ntpsec.
ntpsec_config() {
  [ -f build/tools/ntpsec/etc/ntpsec/ntp.conf ] && return 0
  mkdir -p build/tools
  (cd build/tools && apt-get download -q ntpsec && dpkg-deb -x ntpsec_*.deb ntpsec && rm ntpsec_*.deb)
}

# build PRESET [CONFIGURE_PRESET]: the build preset, and the configure preset it uses if named otherwise.
build() {
  cmake --preset "${2:-$1}" >/dev/null
  cmake --build --preset "$1"
}

# As a packager builds: Release, Debian's hardening flags, installed into a staging root.
packager_build() {
  export DEB_BUILD_MAINT_OPTIONS=hardening=+all
  CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
    LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" \
    cmake -S . -B build/packager -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DSMEARD_WERROR=ON -DSMEARD_BUILD_TESTS=OFF -DSMEARD_MAN_PAGES=ON >/dev/null
  cmake --build build/packager
  rm -rf build/packager/root
  DESTDIR="$PWD/build/packager/root" cmake --install build/packager >/dev/null
  tests/packaging/check-install build/packager/root
  rm -rf build/packager/deb
  cpack --config build/packager/CPackConfig.cmake -B build/packager/deb >/dev/null
  rm -rf build/packager/deb/_CPack_Packages
  echo "setup.sh: built $(ls build/packager/deb/*.deb)"
}

case "${1:-}" in
  serve)
    install_packages "${build_packages[@]}"
    build release
    echo
    echo "smeard starts on its embedded default configuration: the google smear of the system clock,"
    echo "listening on 0.0.0.0:123 and [::]:123. From another terminal:"
    echo "    build/release/server/smearctl query 127.0.0.1"
    echo "Stop it with Ctrl-C."
    echo
    exec build/release/server/smeard
    ;;
  package-deps)
    install_packages "${build_packages[@]}" "${package_packages[@]}"
    ;;
  package)
    install_packages "${build_packages[@]}" "${package_packages[@]}"
    packager_build
    ;;
  test)
    install_packages "${build_packages[@]}" "${package_packages[@]}" "${test_packages[@]}"
    debian_kubectl
    ntpsec_config
    # The container images, meanwhile: the Debian base, the Dockerfile's image, whose first stage
    # builds the package on a clean Debian 12 as `setup.sh package` does (the package the tests
    # install is taken from it), and a Debian 12 booting systemd with that package installed.
    mkdir -p build
    /usr/bin/python3 tests/integration/images.py > build/images.log 2>&1 &
    images=$!
    trap 'kill "$images" 2>/dev/null || true' EXIT  # a failed build stops the images too
    build integration release
    build sanitize
    build tsan
    build fuzz
    wait "$images" || { cat build/images.log; exit 1; }
    cat build/images.log
    ctest --preset sanitize
    ctest --preset tsan
    ctest --preset fuzz
    ctest --preset integration
    # The benchmark is not a test: here it only has to run (1 s per server and phase) and every
    # server has to answer; its numbers are for reading (README.md, Performance).
    tests/bench/run --quick --no-build
    build/release/tests/bench/bench_mac
    ;;
  *)
    echo "usage: $0 serve|package|package-deps|test" >&2
    exit 2
    ;;
esac
