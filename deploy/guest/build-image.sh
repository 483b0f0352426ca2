#!/usr/bin/env bash
# Builds Shoal's default guest image: a Debian cloud kernel and a busybox initramfs.
#
#   bash deploy/guest/build-image.sh [--force]
#
# Output, in ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/default/:
#   vmlinuz          the kernel of the newest linux-image-*-cloud-amd64 package (downloaded, not installed)
#   initrd.cpio.gz   busybox-static, the virtio/ACPI-button modules, deploy/guest/init as /init
#   image.json       what it was built from (kernel package and version, busybox version, recipe
#                    hash) and the files' sha256 (the initramfs is reproducible: same inputs, same bytes)
#
# Idempotent: when image.json records the same kernel package and version, busybox version and
# recipe (this script + the init), it does nothing. Needs apt-get (download only), dpkg-deb,
# busybox-static and cpio. Prints one line when it builds; errors go to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/default"
force=0
[ "${1:-}" = "--force" ] && force=1

say() { printf 'build-image: %s\n' "$*"; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

for tool in apt-get apt-cache dpkg-deb dpkg-query cpio gzip sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install apt dpkg cpio gzip coreutils)"
done
[ -x /bin/busybox ] || die "/bin/busybox is missing: apt-get install busybox-static"
/bin/busybox --list-full >/dev/null 2>&1 || die "/bin/busybox has no --list-full: it must be the busybox-static package"

# The kernel package: what linux-image-cloud-amd64 points at now, else the newest versioned one.
resolve_kernel_package() {
  local pkg
  pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
    | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')"
  if [ -z "$pkg" ]; then
    pkg="$(apt-cache search --names-only '^linux-image-[0-9][^ ]*-cloud-amd64$' 2>/dev/null \
      | awk '{ print $1 }' | grep -v -e '-dbg$' -e '-unsigned$' | sort -V | tail -n 1)"
  fi
  printf '%s' "$pkg"
}

kernel_pkg="$(resolve_kernel_package)"
if [ -z "$kernel_pkg" ] && [ "$(id -u)" -eq 0 ]; then
  # Fresh containers often ship without apt lists.
  apt-get -q -o DPkg::Lock::Timeout=300 update >/dev/null 2>&1 || true
  kernel_pkg="$(resolve_kernel_package)"
fi
[ -n "$kernel_pkg" ] || die "no linux-image-*-cloud-amd64 package known to apt (run apt-get update)"
kernel_version="$(apt-cache policy "$kernel_pkg" | awk '$1 == "Candidate:" { print $2; exit }')"
[ -n "$kernel_version" ] && [ "$kernel_version" != "(none)" ] || die "apt has no candidate version of $kernel_pkg"
busybox_version="$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || /bin/busybox | head -n 1)"
recipe="$(cat "$here/build-image.sh" "$here/init" | sha256sum | cut -c1-16)"

json_field() { # json_field FILE KEY -> the string value of "KEY": "..." on its own line
  sed -n "s/^ *\"$2\": \"\\(.*\\)\",\\{0,1\\}$/\\1/p" "$1" | head -n 1
}

if [ "$force" -eq 0 ] && [ -f "$out_dir/image.json" ] && [ -s "$out_dir/vmlinuz" ] && [ -s "$out_dir/initrd.cpio.gz" ] \
  && [ "$(json_field "$out_dir/image.json" kernelPackage)" = "$kernel_pkg" ] \
  && [ "$(json_field "$out_dir/image.json" kernelPackageVersion)" = "$kernel_version" ] \
  && [ "$(json_field "$out_dir/image.json" busyboxVersion)" = "$busybox_version" ] \
  && [ "$(json_field "$out_dir/image.json" recipe)" = "$recipe" ]; then
  exit 0
fi

say "building the default guest image ($kernel_pkg $kernel_version, busybox $busybox_version) in $out_dir"
mkdir -p "$out_dir" 2>/dev/null || die "cannot create $out_dir: run as root or set SHOAL_IMAGE_DIR"
[ -w "$out_dir" ] || die "$out_dir is not writable: run as root or set SHOAL_IMAGE_DIR"

work="$(mktemp -d "${TMPDIR:-/tmp}/shoal-guest-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --- kernel ----------------------------------------------------------------------------------
apt_opts=(-q -o DPkg::Lock::Timeout=300)
# As root apt drops to the _apt user to download, which cannot write into our private temp dir.
[ "$(id -u)" -eq 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
(cd "$work" && apt-get "${apt_opts[@]}" download "$kernel_pkg=$kernel_version" >"$work/apt.log" 2>&1) || {
  cat "$work/apt.log" >&2
  die "apt-get download $kernel_pkg=$kernel_version failed"
}
deb="$(ls "$work"/*.deb 2>/dev/null | head -n 1)"
[ -n "$deb" ] || die "apt-get download left no .deb in $work"
dpkg-deb -x "$deb" "$work/kernel"
vmlinuz="$(ls "$work"/kernel/boot/vmlinuz-* 2>/dev/null | head -n 1)"
[ -n "$vmlinuz" ] || die "$kernel_pkg has no /boot/vmlinuz-*"
kernel_release="${vmlinuz##*/vmlinuz-}"
moddir="$work/kernel/lib/modules/$kernel_release/kernel"
[ -d "$moddir" ] || moddir="$work/kernel/usr/lib/modules/$kernel_release/kernel"
[ -d "$moddir" ] || die "$kernel_pkg has no modules for $kernel_release"

# --- initramfs -------------------------------------------------------------------------------
root="$work/initramfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/shoal,etc/udhcpc,etc/acpi/PWRF,lib/modules,proc,sys,dev,run,tmp,root,mnt,var}
ln -s ../run "$root/var/run"
cp /bin/busybox "$root/bin/busybox"
/bin/busybox --list-full | while read -r applet; do
  [ "$applet" = "bin/busybox" ] && continue
  [ "$applet" = "linuxrc" ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf /bin/busybox "$root/$applet"
done
install -m 0755 "$here/init" "$root/init"

# Load order matters (no modules.dep): virtio core, the MMIO transport, then the drivers;
# button and evdev let acpid see the ACPI power button that QMP system_powerdown presses.
# Required modules fail the build when missing; optional ones are skipped.
required_modules=(virtio_ring virtio virtio_mmio failover net_failover virtio_net virtio_blk)
optional_modules=(button evdev)
: >"$root/etc/shoal/modules"
add_module() { # add_module NAME REQUIRED
  local name="$1" required="$2" src
  src="$(find "$moddir" \( -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" -o -name "$name.ko.gz" \) -print -quit)"
  if [ -z "$src" ]; then
    [ "$required" = 1 ] && die "$kernel_pkg has no module $name"
    return 0
  fi
  # busybox insmod loads plain .ko files only: decompress (Debian 12 ships them uncompressed).
  case "$src" in
    *.ko) cp "$src" "$root/lib/modules/$name.ko" ;;
    *.ko.xz) xz -dc "$src" >"$root/lib/modules/$name.ko" ;;
    *.ko.zst) zstd -qdc "$src" >"$root/lib/modules/$name.ko" ;;
    *.ko.gz) gzip -dc "$src" >"$root/lib/modules/$name.ko" ;;
  esac
  echo "/lib/modules/$name.ko" >>"$root/etc/shoal/modules"
}
for m in "${required_modules[@]}"; do add_module "$m" 1; done
for m in "${optional_modules[@]}"; do add_module "$m" 0; done

# udhcpc hands each NIC's lease to this script: it configures the NIC; eth0's lease also gives
# the default route, the resolvers and the address /init reports.
cat >"$root/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
case "$1" in
  deconfig)
    ifconfig "$interface" 0.0.0.0 up
    ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" ${broadcast:+broadcast "$broadcast"} up
    [ "$interface" = eth0 ] || exit 0
    if [ -n "$router" ]; then
      while route del default gw 0.0.0.0 dev "$interface" 2>/dev/null; do :; done
      for r in $router; do route add default gw "$r" dev "$interface"; break; done
    fi
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    echo "$ip" >/run/shoal-ip
    ;;
esac
exit 0
EOF
chmod 0755 "$root/etc/udhcpc/default.script"

# busybox acpid maps the power button to "PWRF/00000080" under its config dir.
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
kill -USR1 1
EOF
chmod 0755 "$root/etc/acpi/PWRF/00000080"

echo "shoal" >"$root/etc/hostname"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

# Reproducible: the same inputs give the same bytes (fixed mtimes, inode numbers and order).
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9 -n >"$work/initrd.cpio.gz"

# --- publish (each file renamed into place, image.json last) ----------------------------------
built_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
cp "$vmlinuz" "$out_dir/.vmlinuz.new"
cp "$work/initrd.cpio.gz" "$out_dir/.initrd.cpio.gz.new"
modules_json="$(sed 's|^/lib/modules/\(.*\)\.ko$|"\1"|' "$root/etc/shoal/modules" | paste -sd, - | sed 's/,/, /g')"
cat >"$out_dir/.image.json.new" <<EOF
{
  "name": "default",
  "kernelPackage": "$kernel_pkg",
  "kernelPackageVersion": "$kernel_version",
  "kernelRelease": "$kernel_release",
  "busyboxVersion": "$busybox_version",
  "recipe": "$recipe",
  "builtAt": "$built_at",
  "kernel": "vmlinuz",
  "initrd": "initrd.cpio.gz",
  "kernelSha256": "$(sha256sum "$vmlinuz" | cut -d' ' -f1)",
  "initrdSha256": "$(sha256sum "$work/initrd.cpio.gz" | cut -d' ' -f1)",
  "modules": [$modules_json]
}
EOF
rm -f "$out_dir/image.json"
mv -f "$out_dir/.vmlinuz.new" "$out_dir/vmlinuz"
mv -f "$out_dir/.initrd.cpio.gz.new" "$out_dir/initrd.cpio.gz"
mv -f "$out_dir/.image.json.new" "$out_dir/image.json"
say "built $out_dir (kernel $kernel_release, initrd $(du -k "$out_dir/initrd.cpio.gz" | cut -f1) KiB)"
