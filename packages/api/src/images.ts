/** How Images are read the same way by the apiserver, the image controller and the node agents. */
import { createHash } from 'node:crypto';
import type { Image, ImageFile, VirtualMachine, Volume } from './model/generated.js';

/**
 * On every Image from its creation: the image controller removes it once the Image is being
 * deleted and no VirtualMachine or Volume uses it, so an image is never pulled from under a VM.
 */
export const IMAGE_PROTECTION_FINALIZER = 'shoal.dev/image-protection';

/** An Image's files, in the order its digest covers them: kernel, initrd, disk. */
export function imageFiles(image: Image): ImageFile[] {
  const { kernel, initrd, disk } = image.spec;
  return [kernel, ...(initrd ? [initrd] : []), ...(disk ? [disk] : [])];
}

/** One name for an Image's content: sha256 over its files' digests, the same wherever it is computed. */
export function imageDigest(image: Image): string {
  const hash = createHash('sha256');
  for (const f of imageFiles(image)) hash.update(`${f.sha256}\n`);
  return `sha256:${hash.digest('hex')}`;
}

/** Whether a Volume's source names an Image (an absolute path names a file on the nodes instead). */
export const volumeImageName = (volume: Pick<Volume, 'spec'>): string | undefined => {
  const image = volume.spec.source?.image;
  return image && !image.startsWith('/') ? image : undefined;
};

/** Whether a VM boots the Image `name`. */
export const vmBootsImage = (vm: VirtualMachine, name: string) => vm.spec.image === name;
