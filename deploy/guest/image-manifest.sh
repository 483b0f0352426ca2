#!/usr/bin/env bash
# Prints the Image manifest of a guest image built under ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images},
# from its image.json: file:// URLs and the sha256 the build recorded for each file, the kernel
# arguments it needs, and how it is configured at boot (cloud-init for an image with a config
# drive). For the nodes of one host, or several that see the same path (a shared mount); serve
# the directory over HTTP and change the URLs for others.
#
#   bash deploy/guest/image-manifest.sh DIR [NAME] | npx shoalctl apply -f -
#   bash deploy/guest/image-manifest.sh debian debian-12
set -euo pipefail

die() { printf 'image-manifest: error: %s\n' "$*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: image-manifest.sh DIR [NAME]   (DIR: default, debian, ... under ${SHOAL_IMAGE_DIR:-/var/cache/shoal/images})"
dir="${SHOAL_IMAGE_DIR:-/var/cache/shoal/images}/$1"
[ -f "$dir/image.json" ] || die "$dir/image.json is missing: build the image first (deploy/guest/build-*.sh)"
command -v node >/dev/null 2>&1 || die "node is missing"

# JSON is YAML: shoalctl apply reads it as it is.
node - "$dir" "${2:-$1}" <<'JS'
const [dir, name] = process.argv.slice(2);
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const built = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8'));
const file = (key) => {
  const sha256 = built[`${key}Sha256`];
  if (!built[key] || !/^[0-9a-f]{64}$/.test(sha256 ?? '')) throw new Error(`image.json has no ${key} with its sha256`);
  return { url: pathToFileURL(join(dir, built[key])).href, sha256 };
};
const spec = { kernel: file('kernel'), initrd: file('initrd') };
if (built.disk) spec.disk = { ...file('disk'), format: built.diskFormat ?? 'qcow2' };
const args = Array.isArray(built.kernelArgs) ? built.kernelArgs : String(built.kernelArgs ?? '').split(/\s+/).filter(Boolean);
if (args.length) spec.kernelArgs = args;
spec.guestConfig = built.configDrive === 'nocloud' ? 'CloudInit' : 'ShoalInit';
process.stdout.write(JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'Image', metadata: { name }, spec }, null, 2) + '\n');
JS
