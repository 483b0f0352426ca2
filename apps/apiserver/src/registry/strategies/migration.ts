/**
 * Migrations: what to move and how never changes once asked (the migration controller may be
 * half-way through); a new one is Pending until the controller takes it.
 */
import type { Migration } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';

export const migrationStrategy: KindStrategy = {
  prepareForCreate(object) {
    (object as Migration).status = { phase: 'Pending' };
  },

  validateUpdate(next, current) {
    return immutableFieldChanges((current as Migration).spec, (next as Migration).spec, ['vmName', 'targetNode', 'mode']);
  },
};
