/**
 * The restore controller's wiring (STYLE.md 4): each Restore's Volumes and VMs, made in order
 * and reported (reconcile.ts).
 *
 *   Restore added/updated             → that Restore
 *   Backup changed (it finished)      → the Restores of it
 *   Volume or VM it made changed      → that Restore (the annotation names its uid)
 */
import { objectKey, type Backup, type DiskBackup, type KubeObject, type Restore, type VirtualMachine, type Volume } from '@shoal/api';
import { Controller, enqueueObject, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { RESTORED_BY_ANNOTATION } from './plan.js';
import { reconcile, type RestoreContext } from './reconcile.js';

export const RESTORE_NAME = 'restore';

export function restoreController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: RESTORE_NAME });
  const restores = env.informers.informer<Restore>('restore');
  const backups = env.informers.informer<Backup>('backup');
  const diskBackups = env.informers.informer<DiskBackup>('diskbackup');
  const vms = env.informers.informer<VirtualMachine>('vm');
  const volumes = env.informers.informer<Volume>('volume');
  const ctx: RestoreContext = { client: env.client, restores, backups, diskBackups, vms, volumes, recorder: env.recorder('shoal-restore'), log };
  const controller = new Controller({ name: RESTORE_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const ofBackup: EventHandler<Backup> = (change) =>
    restores
      .list()
      .filter((r) => r.metadata.namespace === change.object.metadata.namespace && r.spec.backupName === change.object.metadata.name)
      .map((r) => objectKey(r.metadata));
  const madeBy: EventHandler<KubeObject> = (change) => {
    const uid = change.object.metadata.annotations?.[RESTORED_BY_ANNOTATION];
    if (!uid) return [];
    return restores
      .list()
      .filter((r) => r.metadata.uid === uid)
      .map((r) => objectKey(r.metadata));
  };
  return controller.watch(restores, enqueueObject()).watch(backups, ofBackup).watch(volumes, madeBy).watch(vms, madeBy);
}
