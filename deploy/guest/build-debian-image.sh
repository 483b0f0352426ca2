#!/usr/bin/env bash
# Builds Shoal's Debian guest image: a real Debian 12 (bookworm) system for QEMU's -M microvm,
# configured at first boot by cloud-init from a NoCloud config drive.
#
#   bash deploy/guest/build-debian-image.sh [--force]
#
# Output, in ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/debian/:
#   vmlinuz      the kernel of linux-image-cloud-amd64, installed in the root filesystem
#   initrd.img   its initramfs-tools initramfs (virtio_mmio, virtio_blk, virtio_net, ext4 forced in)
#   disk.qcow2   the root filesystem: ext4 labelled "root", 2 GiB, no partition table (/dev/vda)
#   image.json   what it was built from (recipe hash, kernel, packages), the kernel command line
#                the image needs, the ssh user, the files' sha256
#
# Boot it with the disk as the FIRST virtio-blk device (always through a qcow2 overlay, never
# the cached file) and a NoCloud seed (a filesystem labelled "cidata" with meta-data, user-data
# and optionally network-config) as a further one; kernel command line: Shoal's own arguments
# plus image.json's kernelArgs. Serial console lines (the agent parses them):
#   SHOAL-BOOTED uid=<shoal.uid> ip=<first global IPv4|none> uptime=<s>   cloud-init is done
#                                                            (cloud-final) and sshd listens
#   SHOAL-SHUTDOWN                                           the guest began shutting down
# shoal.hostname=NAME sets the hostname before cloud-init runs (meta-data local-hostname wins).
#
# Idempotent: when image.json records the same recipe (a hash of this script), it does nothing;
# --force rebuilds (e.g. to pick up a newer kernel or security updates). Needs root (mmdebstrap
# runs maintainer scripts in a chroot), mmdebstrap (or debootstrap), e2fsprogs >= 1.43
# (mkfs.ext4 -d), qemu-img; no loop devices and no mounts of the image. Prints one line when it
# builds; errors go to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/debian"
suite=bookworm
disk_size=2G
force=0
[ "${1:-}" = "--force" ] && force=1

say() { printf 'build-debian-image: %s\n' "$*"; }
die() { printf 'build-debian-image: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (the root filesystem is built in a chroot)"
for tool in mkfs.ext4 qemu-img sha256sum chroot awk dpkg-query; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install e2fsprogs qemu-utils coreutils dpkg)"
done
bootstrap=
if command -v mmdebstrap >/dev/null 2>&1; then
  bootstrap=mmdebstrap
elif command -v debootstrap >/dev/null 2>&1; then
  bootstrap=debootstrap
else
  die "neither mmdebstrap nor debootstrap is installed: apt-get install mmdebstrap"
fi
# mkfs.ext4 -d (populate from a directory) arrived in e2fsprogs 1.43.
grep -q -- '-d ' <<<"$(mkfs.ext4 2>&1 || true)" || die "mkfs.ext4 has no -d option: e2fsprogs >= 1.43 is needed"

recipe="$(sha256sum "$here/build-debian-image.sh" | cut -c1-16)"

json_field() { # json_field FILE KEY -> the string value of "KEY": "..." on its own line
  sed -n "s/^ *\"$2\": \"\\(.*\\)\",\\{0,1\\}$/\\1/p" "$1" | head -n 1
}

if [ "$force" -eq 0 ] && [ -f "$out_dir/image.json" ] \
  && [ -s "$out_dir/vmlinuz" ] && [ -s "$out_dir/initrd.img" ] && [ -s "$out_dir/disk.qcow2" ] \
  && [ "$(json_field "$out_dir/image.json" recipe)" = "$recipe" ]; then
  exit 0
fi

mkdir -p "$out_dir" 2>/dev/null || die "cannot create $out_dir: set SHOAL_IMAGE_DIR to a writable directory"
[ -w "$out_dir" ] || die "$out_dir is not writable: set SHOAL_IMAGE_DIR"

# --- mirror ----------------------------------------------------------------------------------
# The machine's own apt sources for $suite, $suite-updates and $suite-security (one-line
# sources.list files and deb822 .sources files): the build must work where only the
# configured mirror is reachable. Third-party repositories are left out.
machine_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' "$f" | awk '$1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      comps = ""; for (j = i + 2; j <= NF; j++) comps = comps " " $j
      print $i, $(i + 1) comps
    }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush(  n, m, a, b, U, S) {
        if ((" " types " ") ~ / deb / && enabled != "no") {
          n = split(uris, U, " "); m = split(suites, S, " ")
          for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print U[a], S[b], comps
        }
        types = uris = suites = comps = ""; enabled = "yes"
      }
      BEGIN { enabled = "yes" }
      /^#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[A-Za-z-]+:/ {
        key = tolower(substr($0, 1, index($0, ":") - 1)); val = substr($0, index($0, ":") + 1)
        gsub(/^[ \t]+|[ \t]+$/, "", val)
        if (key == "types") types = val; else if (key == "uris") uris = val
        else if (key == "suites") suites = val; else if (key == "components") comps = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { flush() }' "$f"
  done
}
mapfile -t sources < <(machine_sources | awk -v s="$suite" '$2 == s || $2 == s "-updates" || $2 == s "-security" { print "deb " $0 }' | awk '!seen[$0]++')
if [ "${#sources[@]}" -eq 0 ]; then
  sources=("deb http://deb.debian.org/debian $suite main" "deb http://deb.debian.org/debian $suite-updates main"
    "deb http://deb.debian.org/debian-security $suite-security main")
fi

# --- packages --------------------------------------------------------------------------------
# systemd as init; dbus for logind (it turns the ACPI power button, i.e. QMP system_powerdown,
# into a clean poweroff); systemd-resolved because cloud-init renders its network config for
# systemd-networkd, which hands DNS to resolved; the kernel with initramfs-tools (zstd: its
# default compressor). Not libpam-systemd: with it every first ssh login starts a systemd
# --user manager, ~10 s under TCG.
packages=(systemd systemd-sysv udev dbus systemd-resolved kmod
  openssh-server cloud-init iproute2 netbase sudo ca-certificates
  e2fsprogs procps iputils-ping less
  initramfs-tools zstd linux-image-cloud-amd64)

say "building the Debian $suite guest image in $out_dir"
started=$SECONDS

work="$(mktemp -d "${TMPDIR:-/var/tmp}/shoal-debian-image.XXXXXX")"
cleanup() {
  # A bootstrap that died half-way may leave /proc, /sys or /dev mounted in the chroot: unmount
  # them before deleting, and never cross into another filesystem (the host's /dev).
  local m
  for m in $(awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
rootfs="$work/rootfs"

# initramfs-tools reads this when the kernel package's postinst builds the initramfs, so it must
# be in the chroot before the kernel is installed. A hook (not /etc/initramfs-tools/modules, a
# conffile dpkg would ask about) forces the microvm drivers in and loads them early, whatever
# udev finds; MODULES=list keeps everything else out (small, fast to unpack under TCG).
# (virtio_pci too: the same image then also boots on a PCI machine type.)
initramfs_modules=(virtio_mmio virtio_pci virtio_blk virtio_net ext4)
etc_pre="$work/etc-pre"
mkdir -p "$etc_pre/etc/initramfs-tools/conf.d" "$etc_pre/etc/initramfs-tools/hooks"
printf 'MODULES=list\n' >"$etc_pre/etc/initramfs-tools/conf.d/shoal.conf"
{
  echo '#!/bin/sh'
  echo '# Shoal (microvm): the root disk is virtio-blk on the virtio-mmio transport, formatted ext4.'
  echo 'case "$1" in prereqs) exit 0 ;; esac'
  echo '. /usr/share/initramfs-tools/hook-functions'
  echo "for m in ${initramfs_modules[*]}; do force_load \"\$m\"; done"
} >"$etc_pre/etc/initramfs-tools/hooks/shoal"
chmod 0755 "$etc_pre/etc/initramfs-tools/hooks/shoal"

log="$work/bootstrap.log"
if [ "$bootstrap" = mmdebstrap ]; then
  # minbase + the list above, no Recommends; no man pages, docs or translations (copyrights
  # stay). The dpkg path excludes stay in the image, so later installs inside it are slim too.
  mmdebstrap --mode=root --variant=minbase --format=directory \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/lintian/*' \
    --include="$(IFS=,; echo "${packages[*]}")" \
    --essential-hook="cp -a '$etc_pre/.' \"\$1/\"" \
    "$suite" "$rootfs" "${sources[@]}" >"$log" 2>&1 || {
    tail -n 40 "$log" >&2
    die "mmdebstrap failed (log above)"
  }
else
  # debootstrap takes one mirror; the rest of the sources are added before the second stage
  # of installs below.
  mirror="$(printf '%s\n' "${sources[0]}" | awk '{ print $2 }')"
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$log" 2>&1 || {
    tail -n 40 "$log" >&2
    die "debootstrap failed (log above)"
  }
  printf '%s\n' "${sources[@]}" >"$rootfs/etc/apt/sources.list"
  cp -a "$etc_pre/." "$rootfs/"
  # Maintainer scripts want /proc, /sys and /dev. Plain (not recursive) mounts: unmounting them
  # cannot propagate back to the host's submounts.
  mount -t proc proc "$rootfs/proc"
  mount -t sysfs sysfs "$rootfs/sys"
  mount --bind /dev "$rootfs/dev"
  cp /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get -q update && apt-get -q -y --no-install-recommends install ${packages[*]} && apt-get clean && rm -rf /var/lib/apt/lists/*" \
    >>"$log" 2>&1 || {
    tail -n 40 "$log" >&2
    die "installing packages in the debootstrap chroot failed (log above)"
  }
  for fs in dev sys proc; do umount "$rootfs/$fs"; done
fi

# --- configuration ---------------------------------------------------------------------------
# cloud-init: only the NoCloud config drive (no probing of cloud metadata services, which
# costs tens of seconds of timeouts on a VM that has none); None keeps cloud-init's defaults
# when there is no seed. Network config (seed's network-config v2, else DHCP on the first NIC)
# rendered for systemd-networkd. Host keys: ed25519 and ecdsa only (RSA keygen takes seconds
# under TCG). No passwords over ssh.
# Each stage imports every module it lists, and under TCG that import is most of a stage's
# time: the lists keep what a microVM's user-data can use (users, keys, files, disks, mounts,
# hostname, CA certs, passwords, timezone, bootcmd/runcmd/scripts, packages, phone-home,
# power_state) and drop the ones for other distributions, clouds and services not installed
# (snap, lxd, puppet, chef, grub, locale, ntp, apt sources, ...). With the sshd and unit
# changes below, this took the boot to the marker from ~160 s to ~65 s on a loaded host.
mkdir -p "$rootfs/etc/cloud/cloud.cfg.d"
cat >"$rootfs/etc/cloud/cloud.cfg.d/90-shoal.cfg" <<'EOF'
# Shoal: the NoCloud config drive (label "cidata") is the only datasource.
datasource_list: [ NoCloud, None ]
ssh_pwauth: false
ssh_deletekeys: true
ssh_genkeytypes: [ ed25519, ecdsa ]
manage_etc_hosts: true
system_info:
  network:
    renderers: [ networkd ]
    activators: [ networkd ]
cloud_init_modules:
  - seed_random
  - bootcmd
  - write-files
  - resizefs
  - disk_setup
  - mounts
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - ca-certs
  - users-groups
  - ssh
cloud_config_modules:
  - set-passwords
  - timezone
  - runcmd
cloud_final_modules:
  - package-update-upgrade-install
  - write-files-deferred
  - scripts-vendor
  - scripts-per-once
  - scripts-per-boot
  - scripts-per-instance
  - scripts-user
  - keys-to-console
  - phone-home
  - final-message
  - power-state-change
EOF
# Logins get C.UTF-8 (built into glibc: no locales package) rather than POSIX.
printf 'LANG=C.UTF-8\n' >"$rootfs/etc/default/locale"

# Keys only. This is the file where cloud-init writes ssh_pwauth: written here already, its
# set-passwords module finds nothing to change and does not restart sshd at first boot (2 s),
# and a user-data "ssh_pwauth: true" still turns passwords on.
mkdir -p "$rootfs/etc/ssh/sshd_config.d"
printf 'PasswordAuthentication no\n' >"$rootfs/etc/ssh/sshd_config.d/50-cloud-init.conf"
chmod 0600 "$rootfs/etc/ssh/sshd_config.d/50-cloud-init.conf"
# Every VM gets its own host keys (cloud-init makes them at first boot); the image ships none.
rm -f "$rootfs"/etc/ssh/ssh_host_*
# sshd needs them: wait for cloud-init, and make them if it did not run (cloud-init=disabled on
# the kernel command line). Without a seed cloud-init still runs (datasource None) and makes
# them, but there is no user key: the VM boots, prints its marker, and nobody can log in.
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
cat >"$rootfs/etc/systemd/system/ssh.service.d/10-shoal.conf" <<'EOF'
[Unit]
After=cloud-init.service
[Service]
ExecStartPre=/bin/sh -c 'ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A'
EOF

# The guest side of Shoal's serial protocol (see the header) and shoal.hostname.
mkdir -p "$rootfs/usr/local/sbin"
cat >"$rootfs/usr/local/sbin/shoal-guest" <<'EOF'
#!/bin/sh
# shoal-guest booted|shutdown|hostname: the lines the Shoal agent reads on the serial console
# (ttyS0), and the hostname from the kernel command line.
set -f
arg() { # arg KEY -> the value of KEY=... on the kernel command line
  for a in $(cat /proc/cmdline); do
    case "$a" in "$1="*) printf '%s' "${a#"$1="}"; return 0 ;; esac
  done
  return 1
}
console=/dev/ttyS0
[ -c "$console" ] || console=/dev/console
case "$1" in
  booted)
    uid="$(arg shoal.uid || echo unknown)"
    ip="$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')"
    up="$(cut -d' ' -f1 /proc/uptime)"
    # The leading newline ends whatever line systemd or the kernel left half-written; one
    # write, so the marker itself is not split.
    printf '\nSHOAL-BOOTED uid=%s ip=%s uptime=%s\n' "$uid" "${ip:-none}" "$up" >"$console"
    ;;
  shutdown)
    printf '\nSHOAL-SHUTDOWN\n' >"$console"
    ;;
  hostname)
    name="$(arg shoal.hostname)" || exit 0
    [ -n "$name" ] && hostname "$name"
    ;;
  *)
    echo "usage: $0 booted|shutdown|hostname" >&2
    exit 2
    ;;
esac
EOF
chmod 0755 "$rootfs/usr/local/sbin/shoal-guest"

# The marker means "configured and reachable": after cloud-final (the last cloud-init stage:
# users, keys, runcmd done) and sshd. cloud-final is ordered after multi-user.target, so this
# unit has no default dependencies (a target is otherwise ordered after what it wants, and that
# would be a cycle); it adds the shutdown ones itself. When cloud-init is disabled
# (cloud-init=disabled), the ordering on cloud-final is void: it prints once ssh and the
# network are up.
# Stopping it (early in shutdown: it is ordered after nearly everything) prints SHOAL-SHUTDOWN.
cat >"$rootfs/etc/systemd/system/shoal-booted.service" <<'EOF'
[Unit]
Description=Shoal boot marker on the serial console
DefaultDependencies=no
Wants=network-online.target
After=basic.target network-online.target ssh.service cloud-final.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/shoal-guest booted
ExecStop=/usr/local/sbin/shoal-guest shutdown

[Install]
WantedBy=multi-user.target
EOF
cat >"$rootfs/etc/systemd/system/shoal-hostname.service" <<'EOF'
[Unit]
Description=Hostname from the kernel command line (shoal.hostname=)
DefaultDependencies=no
ConditionKernelCommandLine=shoal.hostname
Before=sysinit.target cloud-init-local.service systemd-networkd.service
Conflicts=shutdown.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/shoal-guest hostname

[Install]
WantedBy=sysinit.target
EOF

# The ACPI power button: logind listens on its input device, which needs both drivers.
cat >"$rootfs/etc/modules-load.d/shoal.conf" <<'EOF'
# Shoal: QMP system_powerdown presses the ACPI power button; logind powers off.
button
evdev
EOF

# Direct boot: the root is /dev/vda (a bare ext4, no partitions). No fsck at boot: the journal
# covers a crash, and the disk is a per-VM overlay.
cat >"$rootfs/etc/fstab" <<'EOF'
# <file system> <mount point> <type> <options> <dump> <pass>
LABEL=root / ext4 rw,noatime,errors=remount-ro 0 0
EOF
# DNS comes from systemd-resolved (networkd hands it the DHCP or network-config servers).
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
echo shoal >"$rootfs/etc/hostname"
cat >"$rootfs/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF

# Each VM is a first boot: its own machine-id. "uninitialized" also makes systemd run
# preset-all (enable only) once; "disable *" keeps it from enabling what this script left off.
printf 'uninitialized\n' >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
mkdir -p "$rootfs/etc/systemd/system-preset"
printf 'disable *\n' >"$rootfs/etc/systemd/system-preset/99-shoal.preset"

# Units: networkd (cloud-init's renderer) and resolved on; ours on. Masked, as useless in a
# microVM and each a process (or a module load) competing for the one emulated CPU while the
# boot's critical path (cloud-init's stages) runs: apt's and dpkg's daily timers, e2scrub,
# fstrim, the first-boot prompts (no one is at the console), the gettys (no password to log in
# with), pstore/EFI, binfmt, debugfs/tracefs/hugepages/configfs/fusectl mounts and the module
# loads that go with them (loop, dm_mod, drm), and the ip= kernel-argument network generator
# (cloud-init configures the network).
# The image's own systemctl, offline (the host needs no systemd).
systemctl_offline() { chroot "$rootfs" env SYSTEMD_OFFLINE=1 systemctl "$@"; }
systemctl_offline enable systemd-networkd.service systemd-resolved.service \
  shoal-booted.service shoal-hostname.service >>"$log" 2>&1 || die "systemctl enable in the image failed"
systemctl_offline mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-firstboot.service \
  getty@.service serial-getty@.service \
  systemd-pstore.service modprobe@efi_pstore.service systemd-binfmt.service \
  proc-sys-fs-binfmt_misc.automount sys-kernel-debug.mount sys-kernel-tracing.mount \
  dev-hugepages.mount sys-kernel-config.mount modprobe@configfs.service \
  sys-fs-fuse-connections.mount modprobe@fuse.service modprobe@loop.service \
  modprobe@dm_mod.service modprobe@drm.service systemd-network-generator.service \
  >>"$log" 2>&1 || die "systemctl mask in the image failed"

# --- kernel and initramfs --------------------------------------------------------------------
vmlinuz="$(ls "$rootfs"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)"
[ -n "$vmlinuz" ] || die "no /boot/vmlinuz-* in the root filesystem"
kernel_release="${vmlinuz##*/vmlinuz-}"
initrd="$rootfs/boot/initrd.img-$kernel_release"
[ -s "$initrd" ] || die "no $initrd in the root filesystem (did update-initramfs run?)"
# Check the initramfs can reach the disk: each driver is in it, or built into the kernel.
initrd_list="$(chroot "$rootfs" lsinitramfs "/boot/initrd.img-$kernel_release")"
for m in "${initramfs_modules[@]}"; do
  printf '%s\n' "$initrd_list" | grep -q "/$m\.ko" \
    || grep -q "/$m\.ko\$" "$rootfs/lib/modules/$kernel_release/modules.builtin" \
    || die "the initramfs has no $m module"
done

dpkg_version() { dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${Version}' "$1" 2>/dev/null; }
kernel_pkg="linux-image-$kernel_release"
kernel_version="$(dpkg_version "$kernel_pkg")"
[ -n "$kernel_version" ] || die "$kernel_pkg is not installed in the root filesystem"

# --- disk ------------------------------------------------------------------------------------
# mkfs.ext4 -d copies the tree (owners, modes, xattrs, hard links) into a sparse file: no loop
# device, no mount. Inode tables and journal are written now (zeros, dropped by qemu-img) so
# the guest's ext4lazyinit does not fill each VM's overlay with them. The qcow2 is compressed
# (~140 MiB instead of ~400): it is only ever a read-only backing file, QEMU inflates clusters
# on the host side, and the boot time did not change measurably.
mkfs.ext4 -q -F -L root -d "$rootfs" -E lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0 \
  "$work/disk.raw" "$disk_size" >>"$log" 2>&1 || {
  tail -n 20 "$log" >&2
  die "mkfs.ext4 -d failed"
}
qemu-img convert -c -O qcow2 "$work/disk.raw" "$work/disk.qcow2" || die "qemu-img convert failed"
rm -f "$work/disk.raw"

# --- publish (each file renamed into place, image.json last) ----------------------------------
built_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
packages_json="$(for p in "${packages[@]}"; do printf '"%s=%s"\n' "$p" "$(dpkg_version "$p")"; done | paste -sd, - | sed 's/,/, /g')"
modules_json="$(printf '"%s"\n' "${initramfs_modules[@]}" | paste -sd, - | sed 's/,/, /g')"
package_count="$(dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f='${db:Status-Abbrev}\n' | grep -c '^ii')"
rootfs_kib="$(du -sk --one-file-system "$rootfs" | cut -f1)"
cp "$vmlinuz" "$out_dir/.vmlinuz.new"
cp "$initrd" "$out_dir/.initrd.img.new"
mv "$work/disk.qcow2" "$out_dir/.disk.qcow2.new"
cat >"$out_dir/.image.json.new" <<EOF
{
  "name": "debian",
  "distribution": "debian $suite",
  "kernelPackage": "$kernel_pkg",
  "kernelPackageVersion": "$kernel_version",
  "kernelRelease": "$kernel_release",
  "recipe": "$recipe",
  "builtAt": "$built_at",
  "kernel": "vmlinuz",
  "initrd": "initrd.img",
  "disk": "disk.qcow2",
  "diskFormat": "qcow2",
  "diskSize": "$disk_size",
  "rootFilesystem": "ext4",
  "kernelArgs": ["root=/dev/vda", "rw"],
  "configDrive": "nocloud",
  "sshUser": "debian",
  "kernelSha256": "$(sha256sum "$out_dir/.vmlinuz.new" | cut -d' ' -f1)",
  "initrdSha256": "$(sha256sum "$out_dir/.initrd.img.new" | cut -d' ' -f1)",
  "diskSha256": "$(sha256sum "$out_dir/.disk.qcow2.new" | cut -d' ' -f1)",
  "rootfsKiB": $rootfs_kib,
  "packageCount": $package_count,
  "packages": [$packages_json],
  "modules": [$modules_json]
}
EOF
rm -f "$out_dir/image.json"
mv -f "$out_dir/.vmlinuz.new" "$out_dir/vmlinuz"
mv -f "$out_dir/.initrd.img.new" "$out_dir/initrd.img"
mv -f "$out_dir/.disk.qcow2.new" "$out_dir/disk.qcow2"
mv -f "$out_dir/.image.json.new" "$out_dir/image.json"
say "built $out_dir in $((SECONDS - started)) s (kernel $kernel_release, disk $(du -k "$out_dir/disk.qcow2" | cut -f1) KiB, $package_count packages)"
