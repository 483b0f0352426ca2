/** What the agent's backup reconcile works with (reconcile.ts), built once by the wiring (controller.ts). */
import type { DiskBackup } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { MigratableRuntime, RuntimeDriver } from '../runtime/driver.js';

export interface BackupContext {
  nodeName: string;
  client: ShoalClient;
  /** Every DiskBackup (chains and dependents span nodes); this node's are the ones whose spec.node names it. */
  diskBackups: Pick<Informer<DiskBackup>, 'get' | 'list'>;
  driver: RuntimeDriver & Partial<MigratableRuntime>;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  /** The copies this process runs, by DiskBackup key: one it does not run but that says InProgress was lost to a restart. */
  running: Map<string, Promise<void>>;
  /** The uids of the DiskBackups this process took: their end was written, though the cache may not show it yet. */
  taken: Set<string>;
  /** How often a running copy's progress is written. */
  progressIntervalMs: number;
  /** The rate cap of a live copy, all its disks together (QEMU's job speed, split among them); 0: none. */
  bandwidthBytesPerSecond: number;
  requeue(key: string): void;
}
