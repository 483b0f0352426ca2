/** Progress of migrations and backups, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backup, DiskBackup, Migration } from '@shoal/api/browser';
import { backupInProgress, backupProgress, migrationInProgress, migrationProgress } from './operations-model.js';

const migration = (status: Migration['status']): Migration =>
  ({ apiVersion: 'shoal.dev/v1alpha1', kind: 'Migration', metadata: { name: 'm', namespace: 'default' }, spec: { vmName: 'web' }, status }) as Migration;

test('a migration’s progress is its bytes moved, from transferred or remaining bytes; none before the transfer is sized', () => {
  assert.deepEqual(migrationProgress(migration({ phase: 'Running', totalBytes: 1000, transferredBytes: 250 })), { done: 250, total: 1000 });
  assert.deepEqual(migrationProgress(migration({ phase: 'Running', totalBytes: 1000, remainingBytes: 100 })), { done: 900, total: 1000 });
  assert.equal(migrationProgress(migration({ phase: 'PreparingTarget' })), undefined);
  assert.ok(migrationInProgress(migration({ phase: 'TargetReady' })));
  assert.ok(migrationInProgress(migration(undefined)), 'not yet taken by the controller');
  assert.ok(!migrationInProgress(migration({ phase: 'Aborted' })));
});

test('a backup’s progress: VMs finished of its VMs, and the bytes its DiskBackups copied of theirs', () => {
  const backup = {
    metadata: { name: 'nightly', namespace: 'default' },
    spec: { mode: 'Full', ttl: '720h' },
    status: {
      phase: 'InProgress',
      vms: [
        { name: 'a', phase: 'Completed' },
        { name: 'b', phase: 'InProgress' },
        { name: 'c', phase: 'Pending' },
      ],
    },
  } as Backup;
  const disk = (name: string, backupName: string, phase: 'InProgress' | 'Completed', doneBytes: number, totalBytes?: number, namespace = 'default') =>
    ({
      metadata: { name, namespace },
      spec: { backupName, vmName: name, node: 'n', path: 'p', locationPath: '/l', mode: 'Full' },
      status: { phase, progress: { doneBytes, ...(totalBytes !== undefined ? { totalBytes } : {}) } },
    }) as DiskBackup;
  const progress = backupProgress(backup, [
    disk('a', 'nightly', 'Completed', 10, 400),
    disk('b', 'nightly', 'InProgress', 100, 600),
    disk('c', 'nightly', 'InProgress', 0),
    disk('x', 'other', 'InProgress', 5, 5),
    disk('y', 'nightly', 'InProgress', 7, 7, 'elsewhere'),
  ]);
  assert.deepEqual(progress, { vms: { done: 1, total: 3 }, bytes: { done: 500, total: 1000 } });
  assert.ok(backupInProgress(backup));
  assert.ok(!backupInProgress({ ...backup, status: { phase: 'PartiallyFailed' } }));
  assert.deepEqual(backupProgress({ ...backup, status: {} }, []), { vms: { done: 0, total: 0 } });
});
