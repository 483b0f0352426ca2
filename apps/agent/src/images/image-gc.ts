/**
 * The node's image cache is collected: a file no VM of this node boots and no Volume of this
 * node is an overlay on goes once it has been unused for the grace period (so a VM deleted and
 * made again at once does not fetch its image again). Looked at every interval; what is in use
 * is read from the caches of VMs bound here, Images and Volumes.
 */
import { volumeImageName, type Image, type VirtualMachine, type Volume } from '@shoal/api';
import type { Logger } from 'pino';
import type { ImageStore } from './image-store.js';

export interface ImageGcOptions {
  nodeName: string;
  store: ImageStore;
  /** VMs bound to this node. */
  vms: { list(): VirtualMachine[] };
  images: { get(name: string): Image | undefined };
  volumes: { list(): Volume[] };
  intervalMs: number;
  graceMs: number;
  log: Logger;
  now?: () => number;
}

/** The digests this node's VMs and Volumes use now. */
export function digestsInUse(o: Pick<ImageGcOptions, 'nodeName' | 'vms' | 'images' | 'volumes'>): Set<string> {
  const used = new Set<string>();
  for (const vm of o.vms.list()) {
    const image = o.images.get(vm.spec.image);
    // What it boots: the kernel and initramfs (its disk is a Volume's, below).
    for (const f of image ? [image.spec.kernel, image.spec.initrd] : []) if (f) used.add(f.sha256);
  }
  for (const volume of o.volumes.list()) {
    const disk = o.images.get(volumeImageName(volume) ?? '')?.spec.disk;
    // Its file is here (or not made yet, when it may be made here): the overlay's base stays.
    if (disk && (!volume.status?.node || volume.status.node === o.nodeName)) used.add(disk.sha256);
  }
  return used;
}

export function startImageGc(o: ImageGcOptions): { stop(): void } {
  const now = o.now ?? Date.now;
  const unusedSince = new Map<string, number>();
  const sweep = async () => {
    const used = digestsInUse(o);
    const held = o.store.list().map((f) => f.sha256);
    for (const digest of [...unusedSince.keys()]) if (used.has(digest) || !held.includes(digest)) unusedSince.delete(digest);
    for (const digest of held) {
      if (used.has(digest)) continue;
      const since = unusedSince.get(digest) ?? now();
      unusedSince.set(digest, since);
      if (now() - since < o.graceMs) continue;
      o.log.info({ sha256: digest, unusedMs: now() - since }, 'removing an image file nothing on this node uses');
      await o.store.remove(digest);
      unusedSince.delete(digest);
    }
  };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweep()
      .catch((err: Error) => o.log.warn({ err: err.message }, 'collecting the image cache'))
      .finally(() => (running = false));
  }, o.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
