/** What the agent's migration reconcile works with (reconcile.ts), built once by the wiring (controller.ts). */
import type { Attachment } from '../network/node-networks.js';
import type { Migration, MigrationMode, VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder } from '@shoal/controller-runtime';
import type { MigratableRuntime, RuntimeDriver } from '../runtime/driver.js';
import type { IncomingEndpoint, QmpSession } from '../runtime/qemu/migration/index.js';
import type { VolumeAccess } from '../volumes/volume-access.js';
import type { FenceGate, VmLog } from '../vm/context.js';
import type { MigrationTls } from './migration-tls.js';
import type { ResolvedImage } from '../images/boot-image.js';

/** This agent's part in one Migration, kept in memory while it lasts. */
export interface LocalMigration {
  role: 'source' | 'target';
  /** The attempt this record belongs to: a fallback to Cold ends the Live one's (reconcile.ts). */
  mode: MigrationMode;
  vmUid: string;
  /** The QMP session of the guest's QEMU here, kept from preparing to resuming (target) or for the transfer (source). */
  session?: QmpSession;
  /** The source's transfer, running in the background: aborting it cancels QEMU's migration. */
  transfer?: { abort: AbortController; done: Promise<void> };
  /** The transfer this process ran has ended (its outcome written): the cache may not show it yet. */
  transferEnded?: boolean;
  /** Where the target's QEMU listens, once set up (it is set up once). */
  endpoint?: IncomingEndpoint;
  /** The target's readyAt, then resumedAt, was written: the cache may not show it yet. */
  targetReported?: 'ready' | 'resumed';
}

export interface MigrationContext {
  nodeName: string;
  client: ShoalClient;
  migrations: Pick<Informer<Migration>, 'get' | 'list'>;
  /** VMs bound to this node (the VM controller's informer). */
  vms: Pick<Informer<VirtualMachine>, 'get'>;
  driver: RuntimeDriver & Partial<MigratableRuntime>;
  fence: FenceGate;
  volumes?: VolumeAccess;
  /** Makes a VM's NICs ready on this node (network/controller.ts); absent when the agent attaches no VM to Networks. */
  attachNetworks?: (vm: VirtualMachine) => Promise<Attachment>;
  /** What a VM's spec.image boots here (images/boot-image.ts): a target starts its QEMU with the same kernel, initramfs and config drive. */
  bootImage?: (imageName: string) => ResolvedImage;
  /** Node certificates for QEMU's TLS; none: this node takes part in no migration (each says why). */
  tls?: MigrationTls;
  /** The address this node's QEMUs listen on for incoming migrations, and that sources dial. */
  listenAddress: string;
  recorder: Pick<EventRecorder, 'event'>;
  log: VmLog;
  local: Map<string, LocalMigration>;
  /** How long a guest gets to shut down before it is killed (a cold migration's stop). */
  stopGraceMs: number;
  /** Re-queues a migration key (the source's transfer, when it ends). */
  requeue(key: string): void;
  /** Re-queues a VM in the VM controller: a guest this module held or removed is the VM's reconcile's again. */
  requeueVm(key: string): void;
}
