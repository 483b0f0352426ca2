/**
 * PriorityClasses: the value never changes after creation, because every VM of the class carries
 * a copy of it (admission/priority.ts copies it at the VM's creation).
 */
import type { PriorityClass } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';

export const priorityClassStrategy: KindStrategy = {
  validateUpdate(next, current) {
    return immutableFieldChanges((current as PriorityClass).spec, (next as PriorityClass).spec, ['value']);
  },
};
