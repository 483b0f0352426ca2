/**
 * The agent's backup controller, wired (STYLE.md 4): the DiskBackups assigned to this node
 * (spec.node), reconciled by reconcile.ts.
 *
 *   a DiskBackup of this node added/updated/deleted → that DiskBackup
 *   a copy ended                                    → its DiskBackup (take.ts)
 *   another one changed (a later backup completed) → the ones of this node being deleted, which
 *                                                    may have waited for it
 */
import { objectKey, type DiskBackup } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import { Controller, type EventHandler, type EventRecorder } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { MigratableRuntime, RuntimeDriver } from '../runtime/driver.js';
import type { BackupContext } from './context.js';
import { reconcile } from './reconcile.js';

export const BACKUP_CONTROLLER_NAME = 'agent-backups';

export interface BackupControllerOptions {
  nodeName: string;
  client: ShoalClient;
  diskBackups: Informer<DiskBackup>;
  driver: RuntimeDriver & Partial<MigratableRuntime>;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  registry?: Registry;
  progressIntervalMs?: number;
  /** The rate cap of a live copy (QEMU's job speed); 0: none. Read as each copy starts. */
  bandwidthBytesPerSecond?: number;
}

export function backupController(o: BackupControllerOptions): Controller {
  let controller: Controller | undefined;
  const ctx: BackupContext = {
    nodeName: o.nodeName,
    client: o.client,
    diskBackups: o.diskBackups,
    driver: o.driver,
    recorder: o.recorder,
    log: o.log,
    running: new Map(),
    taken: new Set(),
    progressIntervalMs: o.progressIntervalMs ?? 2_000,
    // Read as each copy starts: the agent changes it when its config file is reloaded.
    get bandwidthBytesPerSecond() {
      return o.bandwidthBytesPerSecond ?? 0;
    },
    requeue: (key) => controller?.queue.add(key),
  };
  controller = new Controller({ name: BACKUP_CONTROLLER_NAME, workers: 2, registry: o.registry, log: o.log, reconcile: (key) => reconcile(ctx, key) });
  const onDiskBackup: EventHandler<DiskBackup> = (change) => {
    const d = change.object;
    const keys = d.spec.node === o.nodeName ? [objectKey(d.metadata)] : [];
    const waiting = o.diskBackups
      .list()
      .filter((w) => w.spec.node === o.nodeName && w.metadata.deletionTimestamp && w.metadata.namespace === d.metadata.namespace && w !== d)
      .map((w) => objectKey(w.metadata));
    return [...keys, ...waiting];
  };
  return controller.watch(o.diskBackups, onDiskBackup);
}
