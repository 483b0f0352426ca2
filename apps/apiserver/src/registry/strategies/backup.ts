/**
 * Backups and what hangs off them. A Backup is protected from its creation (its data is removed
 * before it goes), and says once what it copies: a changed spec would describe data it does not
 * hold. A DiskBackup's spec and a Restore's are as fixed, for the same reason.
 */
import { BACKUP_DATA_FINALIZER, type Backup, type BackupSpec, type DiskBackup, type Restore } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';

const BACKUP_FIELDS: (keyof BackupSpec & string)[] = ['location', 'vmNames', 'selector', 'mode', 'ttl'];

export const backupStrategy: KindStrategy = {
  prepareForCreate(object) {
    const meta = object.metadata;
    if (!(meta.finalizers ?? []).includes(BACKUP_DATA_FINALIZER)) meta.finalizers = [...(meta.finalizers ?? []), BACKUP_DATA_FINALIZER];
  },

  validate(object) {
    const { spec } = object as Backup;
    return spec.vmNames?.length && spec.selector
      ? [{ field: 'spec.selector', type: 'FieldValueForbidden', message: 'name the VMs or select them by label, not both' }]
      : [];
  },

  validateUpdate(next, current) {
    return immutableFieldChanges((current as Backup).spec, (next as Backup).spec, BACKUP_FIELDS);
  },
};

export const diskBackupStrategy: KindStrategy = {
  validateUpdate(next, current) {
    const before = (current as DiskBackup).spec;
    return immutableFieldChanges(
      before,
      (next as DiskBackup).spec,
      Object.keys({ ...before, ...(next as DiskBackup).spec }) as (keyof typeof before & string)[],
    );
  },
};

export const restoreStrategy: KindStrategy = {
  validateUpdate(next, current) {
    return immutableFieldChanges((current as Restore).spec, (next as Restore).spec, ['backupName', 'vmNames', 'renames', 'existingPolicy']);
  },
};
