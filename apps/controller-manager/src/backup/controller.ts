/**
 * The backup controller's wiring (STYLE.md 4): each Backup's progress and end, its expiry and
 * the removal of its data (reconcile.ts).
 *
 *   Backup added/updated        → that Backup
 *   DiskBackup changed or gone  → its Backup (its label names it)
 *   Node's Ready changed        → the Backups under way (a node that goes away fails its part)
 */
import {
  BACKUP_NAME_LABEL,
  isConditionTrue,
  objectKey,
  type Backup,
  type BackupLocation,
  type DiskBackup,
  type Node,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import { Controller, enqueueObject, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, type BackupContext } from './reconcile.js';

export const BACKUP_NAME = 'backup';

export function backupController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: BACKUP_NAME });
  const backups = env.informers.informer<Backup>('backup');
  const diskBackups = env.informers.informer<DiskBackup>('diskbackup');
  const locations = env.informers.informer<BackupLocation>('backuplocation');
  const vms = env.informers.informer<VirtualMachine>('vm');
  const volumes = env.informers.informer<Volume>('volume');
  const nodes = env.informers.informer<Node>('node');
  const ctx: BackupContext = { client: env.client, backups, diskBackups, locations, vms, volumes, nodes, recorder: env.recorder('shoal-backup'), log };
  const controller = new Controller({ name: BACKUP_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const onDiskBackup: EventHandler<DiskBackup> = (change) => {
    const name = change.object.metadata.labels?.[BACKUP_NAME_LABEL];
    return name ? [objectKey({ namespace: change.object.metadata.namespace, name })] : [];
  };
  const onNode: EventHandler<Node> = (change) => {
    if (change.type === 'update' && isConditionTrue(change.old.status?.conditions, 'Ready') === isConditionTrue(change.object.status?.conditions, 'Ready'))
      return [];
    return backups
      .list()
      .filter((b) => b.status?.phase === 'InProgress')
      .map((b) => objectKey(b.metadata));
  };
  return controller.watch(backups, enqueueObject()).watch(diskBackups, onDiskBackup).watch(nodes, onNode);
}
