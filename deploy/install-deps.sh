#!/usr/bin/env bash
# Installs what Shoal needs on a Debian 12 machine, and nothing that is already there.
#
# Runs at the start of every `npm test`, `npm start` and `npm run bench`, so the path where
# everything is present must stay quick and silent: a few file tests, no network, no npm.
# It prints one short line per thing it installs, and a clear message when something fails.
#
#   bash deploy/install-deps.sh [--debian-image] [--browser]
#
# Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

say() { printf 'install-deps: %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

# Runs a command quietly; on failure prints its output and the given message, then exits.
run_quiet() {
  local what="$1"; shift
  local log
  log="$(mktemp "${TMPDIR:-/tmp}/shoal-install-deps.XXXXXX")"
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$log" >&2
    rm -f "$log"
    die "$what failed (exit code $rc, output above): $*"
  fi
  rm -f "$log"
}

# ---------------------------------------------------------------------------------------------
# Debian packages
# ---------------------------------------------------------------------------------------------

as_root=()
need_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
    return 0
  fi
  die "$1 is missing and installing it needs root: rerun as root, or run: apt-get install -y $2"
}

apt_updated=0
apt_update_once() {
  [ "$apt_updated" -eq 1 ] && return 0
  run_quiet "apt-get update" "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -q -o DPkg::Lock::Timeout=300 update
  apt_updated=1
}

# apt_install LABEL PACKAGE... : installs Debian packages without prompts, quietly.
apt_install() {
  local label="$1"; shift
  command -v apt-get >/dev/null 2>&1 || die "$label is missing and this is not a Debian system (no apt-get): install $* yourself"
  need_root "$label" "$*"
  say "installing $label (apt-get install $*)"
  apt_update_once
  run_quiet "installing $label" "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    install "$@"
}

# stop_packaged_service NAME: a Debian package may enable and start its own service (etcd's on
# port 2379, prometheus's on 9090). Shoal spawns its own (tests on free ports, `npm start` under
# its data dir), so the packaged service we just installed is stopped and kept from starting at
# boot. Anything else on those ports is left alone.
stop_packaged_service() {
  local name="$1"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    "${as_root[@]}" systemctl disable --now "$name.service" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$name" ]; then
    # No systemd (containers): the sysv script runs it with a pidfile; `stop` is a no-op if it
    # never started (for example when policy-rc.d forbade it).
    "${as_root[@]}" "/etc/init.d/$name" stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null 2>&1; then
      "${as_root[@]}" update-rc.d "$name" disable >/dev/null 2>&1 || true
    fi
  fi
}

ensure_etcd() {
  command -v etcd >/dev/null 2>&1 && return 0
  apt_install etcd etcd-server
  stop_packaged_service etcd
  command -v etcd >/dev/null 2>&1 || die "etcd-server was installed but no etcd binary is on PATH"
}

# etcdctl (etcd-client, 3.4 like the server): `shoalctl admin snapshot save` reads a saved snapshot
# back with it, and `shoalctl admin snapshot restore` makes the new data dir with it.
ensure_etcdctl() {
  command -v etcdctl >/dev/null 2>&1 && return 0
  apt_install etcdctl etcd-client
  command -v etcdctl >/dev/null 2>&1 || die "etcd-client was installed but no etcdctl binary is on PATH"
}

# `shoal up` makes its cluster's CA and apiserver certificate with the openssl command line
# (apps/cli/src/up/credentials.ts); tests make throwaway certificates with it too.
ensure_openssl() {
  command -v openssl >/dev/null 2>&1 && return 0
  apt_install openssl openssl
}

# git: the gitops controllers fetch GitRepositories with it (and `git http-backend` serves the
# test remotes that want a password).
ensure_git() {
  command -v git >/dev/null 2>&1 && return 0
  apt_install git git
}

# Prometheus (its Debian package brings promtool): the alert rules of deploy/prometheus are checked
# and unit-tested with promtool, and e2e/prometheus.test.ts scrapes a cluster with a real
# Prometheus it starts on a free port. The packaged service would hold port 9090 with a
# configuration that knows nothing of Shoal (README: Monitoring runs Prometheus with
# deploy/prometheus/prometheus.yml), so it is stopped.
ensure_prometheus() {
  command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 && return 0
  apt_install prometheus prometheus
  stop_packaged_service prometheus
  command -v promtool >/dev/null 2>&1 || die "prometheus was installed but no promtool binary is on PATH"
}

# Network tools. The agent's VM networking: bridges, VXLAN and taps (iproute2's `ip` and
# `bridge`), DHCP for guests (dnsmasq, the binary only: dnsmasq-base runs no service). The chaos
# soak (soak/, and e2e/soak.test.ts) gives each agent a host of its own with network namespaces
# and veths, and partitions with nftables (`nft`).
ensure_network_tools() {
  local missing=()
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "the network tools" "${missing[@]}"
  fi
}

# ---------------------------------------------------------------------------------------------
# microVM runtime and default guest image
#
# QEMU (qemu-system-x86 for -M microvm, qemu-utils for qcow2 overlays), busybox-static and cpio
# for the initramfs, genisoimage for cloud-init's config drives; then the default guest image (Debian cloud kernel + busybox initramfs),
# built by deploy/guest/build-image.sh into ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/default.
# The quick path is file tests and one hash of two small files: the image is rebuilt when it is
# missing or when deploy/guest/{build-image.sh,init} changed. A newer kernel package is picked
# up by running deploy/guest/build-image.sh by hand (it consults apt, which is too slow here).
# ---------------------------------------------------------------------------------------------
ensure_vm_runtime() {
  local missing=()
  command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
  # The initramfs needs the static busybox; Debian's plain `busybox` package is dynamic.
  if ! [ -x /bin/busybox ] || ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
    missing+=(busybox-static)
  fi
  command -v cpio >/dev/null 2>&1 || missing+=(cpio)
  # The NoCloud config drive of cloud-init images (genisoimage; isoinfo reads it back in tests).
  command -v genisoimage >/dev/null 2>&1 || missing+=(genisoimage)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "the microVM runtime" "${missing[@]}"
  fi

  local cache="${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}"
  local image="$cache/default" recipe
  recipe="$(cat deploy/guest/build-image.sh deploy/guest/init | sha256sum | cut -c1-16)"
  if [ -s "$image/vmlinuz" ] && [ -s "$image/initrd.cpio.gz" ] \
    && grep -q "\"recipe\": \"$recipe\"" "$image/image.json" 2>/dev/null; then
    return 0
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ] && ! { mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ]; }; then
    command -v sudo >/dev/null 2>&1 \
      || die "the guest image cache $cache is not writable: rerun as root, or set SHOAL_IMAGE_DIR to a writable directory"
    sudo=(sudo)
  fi
  say "building the default guest image in $image (deploy/guest/build-image.sh)"
  run_quiet "building the default guest image" "${sudo[@]}" env SHOAL_IMAGE_DIR="$cache" \
    bash deploy/guest/build-image.sh
}

# ---------------------------------------------------------------------------------------------
# The Debian guest image, with --debian-image (npm test and npm run bench pass it; npm start
# does not need it): a real Debian 12 with cloud-init, built by
# deploy/guest/build-debian-image.sh into ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/debian
# from the machine's apt mirror (mmdebstrap; mkfs.ext4 -d, no loop devices). Rebuilt when
# missing or when the script changed; ssh (openssh-client) is what its tests log in with.
# ---------------------------------------------------------------------------------------------
ensure_debian_image() {
  local missing=()
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  command -v mkfs.ext4 >/dev/null 2>&1 || missing+=(e2fsprogs)
  command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "the Debian image's build tools" "${missing[@]}"
  fi
  local image="${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/debian" recipe
  recipe="$(sha256sum deploy/guest/build-debian-image.sh | cut -c1-16)"
  if [ -s "$image/disk.qcow2" ] && [ -s "$image/vmlinuz" ] && grep -q "\"recipe\": \"$recipe\"" "$image/image.json" 2>/dev/null; then
    return 0
  fi
  need_root "the Debian guest image" "mmdebstrap"
  say "building the Debian guest image in $image (deploy/guest/build-debian-image.sh; a few minutes)"
  run_quiet "building the Debian guest image" "${as_root[@]}" env SHOAL_IMAGE_DIR="${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}" \
    bash deploy/guest/build-debian-image.sh
}

# ---------------------------------------------------------------------------------------------
# A browser, with --browser (npm test passes it; npm start does not need it): Debian's chromium,
# which e2e/web-console.test.ts drives headless through playwright-core. playwright-core never
# downloads a browser of its own; the test runs /usr/bin/chromium (or $SHOAL_CHROMIUM).
# ---------------------------------------------------------------------------------------------
ensure_browser() {
  [ -x "${SHOAL_CHROMIUM:-/usr/bin/chromium}" ] && return 0
  apt_install chromium chromium
  [ -x "${SHOAL_CHROMIUM:-/usr/bin/chromium}" ] || die "chromium was installed but ${SHOAL_CHROMIUM:-/usr/bin/chromium} is not there"
}

# ---------------------------------------------------------------------------------------------
# Node.js and node_modules
# ---------------------------------------------------------------------------------------------

ensure_node() {
  command -v node >/dev/null 2>&1 || die "node is missing: install Node.js >= 20.19"
  local v major minor
  v="$(node -p 'process.versions.node')"
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    die "Node.js $v is too old: Shoal needs Node.js >= 20.19"
  fi
}

ensure_node_modules() {
  # npm writes node_modules/.package-lock.json after every install; when the lockfile is newer
  # (a pull, a checkout, a fresh clone) the installed tree may be stale.
  if [ -d node_modules ] && ! [ package-lock.json -nt node_modules/.package-lock.json ]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm is missing: install Node.js >= 20.19 with npm"
  say "installing node modules (npm ci)"
  run_quiet "npm ci" npm ci --no-audit --no-fund --loglevel=error
}

debian_image=0
browser=0
for arg in "$@"; do
  case "$arg" in
    --debian-image) debian_image=1 ;;
    --browser) browser=1 ;;
    *) die "unknown option $arg (known: --debian-image, --browser)" ;;
  esac
done

ensure_node
ensure_etcd
ensure_etcdctl
ensure_openssl
ensure_git
ensure_prometheus
ensure_network_tools
ensure_vm_runtime
if [ "$debian_image" -eq 1 ]; then ensure_debian_image; fi
if [ "$browser" -eq 1 ]; then ensure_browser; fi
ensure_node_modules
