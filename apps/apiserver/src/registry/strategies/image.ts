/**
 * Images: every one is protected from its creation (the image controller lets a deletion finish
 * only once no VirtualMachine or Volume uses it), and its files never change — VMs' disks are
 * overlays on them and nodes keep them by digest. Another version of an image is another Image.
 */
import { IMAGE_PROTECTION_FINALIZER, type Image } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';

export const imageStrategy: KindStrategy = {
  prepareForCreate(object) {
    const meta = object.metadata;
    if (!(meta.finalizers ?? []).includes(IMAGE_PROTECTION_FINALIZER)) meta.finalizers = [...(meta.finalizers ?? []), IMAGE_PROTECTION_FINALIZER];
  },

  validate(object) {
    const { spec } = object as Image;
    return spec.kernel.format || spec.initrd?.format
      ? [
          {
            field: spec.kernel.format ? 'spec.kernel.format' : 'spec.initrd.format',
            type: 'FieldValueForbidden',
            message: 'a format is a disk’s: a kernel or initramfs has none',
          },
        ]
      : [];
  },

  validateUpdate(next, current) {
    return immutableFieldChanges((current as Image).spec, (next as Image).spec, ['kernel', 'initrd', 'disk']);
  },
};
