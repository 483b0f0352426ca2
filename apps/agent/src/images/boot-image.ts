/**
 * What a VM boots, from its spec.image: an Image's kernel and initramfs, fetched into the node's
 * cache (image-store.ts) and verified, with the Image's kernel arguments; or, when no Image has
 * that name, an image the runtime knows by name (the busybox default deploy/ builds).
 *
 * Nothing here waits for a fetch: while one runs the VM waits, its status saying how far it is.
 */
import type { Image, ImageFile } from '@shoal/api';
import type { FileState, ImageStore } from './image-store.js';

/** The VM's status reason while its image is being fetched. */
export const IMAGE_PULLING = 'ImagePulling';

export interface BootImage {
  kernel: string;
  initrd?: string;
  kernelArgs: string[];
  guestConfig: 'ShoalInit' | 'CloudInit';
}

export type ResolvedImage =
  /** boot undefined: a built-in image the runtime finds by name. */
  { ok: true; boot?: BootImage } | { ok: false; reason: string; message: string; fetching: boolean };

export interface ImageLookup {
  get(name: string): Image | undefined;
}

export function resolveBootImage(images: ImageLookup, store: ImageStore, imageName: string): ResolvedImage {
  const image = images.get(imageName);
  if (!image) return { ok: true };
  const kernel = fileOf(store, imageName, 'kernel', image.spec.kernel);
  if (kernel.state !== 'ready') return notReady(kernel);
  const initrd = image.spec.initrd && fileOf(store, imageName, 'initramfs', image.spec.initrd);
  if (initrd && initrd.state !== 'ready') return notReady(initrd);
  return {
    ok: true,
    boot: {
      kernel: kernel.path,
      ...(initrd ? { initrd: initrd.path } : {}),
      kernelArgs: image.spec.kernelArgs ?? [],
      guestConfig: image.spec.guestConfig ?? 'ShoalInit',
    },
  };
}

/** The node's copy of an Image's root disk, for a Volume made from it; or why not yet. */
export function resolveImageDisk(
  images: ImageLookup,
  store: ImageStore,
  imageName: string,
): { ok: true; path: string; format: 'qcow2' | 'raw' } | { ok: false; reason: string; message: string; fetching: boolean } {
  const image = images.get(imageName);
  if (!image) return { ok: false, reason: 'ImageNotFound', message: `image ${imageName} does not exist`, fetching: false };
  if (!image.spec.disk) return { ok: false, reason: 'ImageHasNoDisk', message: `image ${imageName} has no disk to make a volume from`, fetching: false };
  const disk = fileOf(store, imageName, 'disk', image.spec.disk);
  if (disk.state !== 'ready') return notReady(disk);
  return { ok: true, path: disk.path, format: image.spec.disk.format ?? 'qcow2' };
}

type Described = (FileState & { state: 'ready' }) | { state: 'not-ready'; reason: string; message: string; fetching: boolean };

function fileOf(store: ImageStore, imageName: string, what: string, file: ImageFile): Described {
  const s = store.request(file);
  if (s.state === 'ready') return s;
  if (s.state === 'failed') return { state: 'not-ready', reason: s.reason, message: `image ${imageName}, its ${what}: ${s.message}`, fetching: false };
  const total = s.totalBytes ? ` of ${mib(s.totalBytes)}` : '';
  return {
    state: 'not-ready',
    reason: IMAGE_PULLING,
    message: `fetching image ${imageName}, its ${what}: ${mib(s.receivedBytes)}${total} MiB`,
    fetching: true,
  };
}

function notReady(d: Exclude<Described, { state: 'ready' }>): { ok: false; reason: string; message: string; fetching: boolean } {
  return { ok: false, reason: d.reason, message: d.message, fetching: d.fetching };
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
