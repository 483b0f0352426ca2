/**
 * Volumes: every one is protected from its creation (the volume controller lets a deletion
 * finish only once no VirtualMachine uses it), and its pool and source never change — the file
 * was made from them.
 */
import { VOLUME_PROTECTION_FINALIZER, type Volume } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { volumeSpecCauses, volumeSpecUpdateCauses } from './volume-spec-rules.js';

export const volumeStrategy: KindStrategy = {
  prepareForCreate(object) {
    const meta = object.metadata;
    if (!(meta.finalizers ?? []).includes(VOLUME_PROTECTION_FINALIZER)) meta.finalizers = [...(meta.finalizers ?? []), VOLUME_PROTECTION_FINALIZER];
    (object as Volume).status = { phase: 'Pending' };
  },

  validate(object) {
    return volumeSpecCauses((object as Volume).spec, 'spec');
  },

  validateUpdate(next, current) {
    return volumeSpecUpdateCauses((current as Volume).spec, (next as Volume).spec, 'spec');
  },
};
