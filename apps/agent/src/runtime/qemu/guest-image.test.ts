import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGuestImage, DEFAULT_IMAGE_CACHE_DIR, GuestImageMissingError, imageCacheDir, locateGuestImage } from './guest-image.js';

const meta = {
  name: 'default',
  kernelPackage: 'linux-image-6.1.0-56-cloud-amd64',
  kernelPackageVersion: '6.1.192-2',
  kernelRelease: '6.1.0-56-cloud-amd64',
  busyboxVersion: '1:1.35.0-4+deb12u1+b1',
  recipe: '0123456789abcdef',
  builtAt: '2026-01-01T00:00:00Z',
  kernel: 'vmlinuz',
  initrd: 'initrd.cpio.gz',
  modules: ['virtio_ring', 'virtio'],
};

test('the cache dir is SHOAL_IMAGE_DIR, else /var/cache/shoal/images', () => {
  assert.equal(imageCacheDir({}), DEFAULT_IMAGE_CACHE_DIR);
  assert.equal(imageCacheDir({ SHOAL_IMAGE_DIR: '/srv/images' }), '/srv/images');
});

test('locateGuestImage reads image.json and resolves the files; a missing piece says how to build', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'shoal-images-'));
  try {
    const dir = join(cache, 'default');
    await mkdir(dir);
    await assert.rejects(
      locateGuestImage({ cacheDir: cache }),
      (err: unknown) => err instanceof GuestImageMissingError && /build-image\.sh/.test(err.message) && /no image\.json/.test(err.message),
    );
    await writeFile(join(dir, 'image.json'), JSON.stringify(meta, null, 2));
    await assert.rejects(locateGuestImage({ cacheDir: cache }), /vmlinuz is missing/);
    await writeFile(join(dir, 'vmlinuz'), 'k');
    await writeFile(join(dir, 'initrd.cpio.gz'), 'i');
    const image = await locateGuestImage({ cacheDir: cache });
    assert.equal(image.kernel, join(dir, 'vmlinuz'));
    assert.equal(image.initrd, join(dir, 'initrd.cpio.gz'));
    assert.equal(image.kernelRelease, '6.1.0-56-cloud-amd64');
    assert.equal(image.version, '6.1.192-2/1:1.35.0-4+deb12u1+b1/0123456789abcdef');
    assert.deepEqual(image.modules, ['virtio_ring', 'virtio']);
    await writeFile(join(dir, 'image.json'), '{ nope');
    await assert.rejects(locateGuestImage({ cacheDir: cache }), /not JSON/);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('the built default image is there (install-deps built it) with the virtio modules in load order', async () => {
  const image = await locateGuestImage();
  assert.match(image.kernelPackage, /^linux-image-.*-cloud-amd64$/);
  assert.deepEqual(image.modules.slice(0, 7), ['virtio_ring', 'virtio', 'virtio_mmio', 'failover', 'net_failover', 'virtio_net', 'virtio_blk']);
  assert.ok((await stat(image.kernel)).size > 1_000_000);
  assert.ok((await stat(image.initrd)).size > 100_000);
});

test('build-image.sh is a no-op when the cached image is current', async () => {
  const before = await locateGuestImage();
  const after = await buildGuestImage();
  assert.equal(after.builtAt, before.builtAt);
  assert.equal(after.version, before.version);
});
