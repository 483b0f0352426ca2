/** What the agent's VM reconcile works with (reconcile.ts), built once by the wiring (controller.ts). */
import type { Migration, VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder } from '@shoal/controller-runtime';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { VolumeAccess } from '../volumes/volume-access.js';
import type { Attachment } from '../network/node-networks.js';
import type { ResolvedImage } from '../images/boot-image.js';
import type { RestartBackoffPolicy } from './restart-backoff.js';
import type { RestartBackoffStore } from './restart-backoff-store.js';

/**
 * Whether the agent may act on what its informer holds. False while its lease is not fresh (the
 * control plane may count the node dead) or while its cache has not been relisted since a stale
 * period (a VM may have been bound elsewhere meanwhile): nothing is started or written then.
 */
export interface FenceGate {
  mayAct(): boolean;
}

/** How soon a key turned away by the FenceGate is looked at again. */
export const FENCE_GATE_RETRY_MS = 500;

export interface VmLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface VmContext {
  nodeName: string;
  fence: FenceGate;
  /** For the Fenced Event; the agent's fence timeout is said in it. */
  recorder: Pick<EventRecorder, 'event'>;
  fenceTimeoutSeconds: number;
  client: ShoalClient;
  vms: Pick<Informer<VirtualMachine>, 'get'>;
  driver: RuntimeDriver;
  /** How long a guest gets to shut down before it is killed (evictions bring their own). */
  stopGraceMs: number;
  /** How long a guest may take to boot before it is killed (and restarted per its runStrategy); 0 or absent: no limit. */
  bootTimeoutMs?: number;
  log: VmLog;
  /** The invalid eviction annotation value last warned about, per VM key: a bad value is reported once, not on every reconcile. */
  warnedEviction: Map<string, string>;
  /** Why an eviction of a LiveMigrate VM shut it down instead, last said per VM key: one Event per reason. */
  liveMigrationFallback: Map<string, string>;
  /** The fenced exit (its time) last reported with an Event, per instance uid: one Event per fencing. */
  reportedFence: Map<string, string>;
  /** How restarts after exits back off (restart-backoff.ts), and where each VM's loop is kept. */
  restartBackoff: { policy: RestartBackoffPolicy; store: RestartBackoffStore };
  /** Volumes and pools, to make a VM's disks ready before it boots; none: VMs boot without disks (tests of the lifecycle alone). */
  volumes?: VolumeAccess;
  /** What a VM's spec.image boots (images/boot-image.ts): an Image from the node's cache, once fetched; absent: built-in images only. */
  bootImage?: (imageName: string) => ResolvedImage;
  /** Makes a VM's NICs ready on this node (network/controller.ts); absent when the agent attaches no VM to Networks. */
  attachNetworks?: (vm: VirtualMachine) => Promise<Attachment>;
  /** Why a VM could not boot here, last said (log and Event), per VM key: said once, not on every retry. */
  launchBlockedBy: Map<string, string>;
  /** Whether an instance is a live migration's target still waiting for its guest: the migration's, not a stray. */
  waitingForMigration?(uid: string): boolean;
  /** Whether the VM's guest is stopped here for a cold migration's copy: not restarted meanwhile. */
  heldForMigration?(uid: string): boolean;
  /** The Migrations of the VM with this uid (an eviction of a LiveMigrate VM waits for its own). */
  migrationsOf?(uid: string): Migration[];
}
