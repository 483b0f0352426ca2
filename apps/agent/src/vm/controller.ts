/**
 * The agent's VM controller, wired (STYLE.md 4), as the controller-manager's are: what
 * reconcile needs first, then the Controller, then the sources that feed it keys.
 *
 *   VM bound here added/updated/deleted → that VM (a delete, or a VM bound elsewhere, leaves
 *                                         the field-selected informer: its instance is a stray)
 *   an instance changed in the runtime  → its VM (booted, exited, stopping, fenced)
 *   a Volume changed                    → the VMs here attaching it (waiting for their disks)
 *   a StoragePool changed               → every VM here
 *   (the agent itself, after a relist)  → every cached VM and every instance (agent.ts)
 *
 * Workers: several VMs boot or stop at once, and no reconcile ever waits out a guest's shutdown
 * (reconcile.ts), so one slow guest holds no worker another VM needs.
 */
import {
  CLUSTER_NETWORK_KEY,
  imageFiles,
  joinsClusterNetwork,
  objectKey,
  vmBootsImage,
  vmUsesVolume,
  type Image,
  type Migration,
  type Network,
  type StoragePool,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import { Controller, enqueueMapped, enqueueObject, type EventRecorder } from '@shoal/controller-runtime';
import type { VolumeAccess } from '../volumes/volume-access.js';
import { resolveBootImage } from '../images/boot-image.js';
import type { ImageStore } from '../images/image-store.js';
import type { Attachment } from '../network/node-networks.js';
import type { Logger } from 'pino';
import { register as globalRegistry, type Registry } from 'prom-client';
import type { RuntimeDriver } from '../runtime/driver.js';
import type { FenceGate, VmContext } from './context.js';
import { reconcile } from './reconcile.js';
import { KUBELET_RESTART_BACKOFF, type RestartBackoffPolicy } from './restart-backoff.js';
import { MemoryRestartBackoffStore, type RestartBackoffStore } from './restart-backoff-store.js';
import { exportCrashLoops } from './crash-loop-metric.js';

export const VM_CONTROLLER_NAME = 'agent-vms';
const WORKERS = 8;

export interface VmControllerOptions {
  nodeName: string;
  client: ShoalClient;
  /** VMs bound to this node (field selector spec.nodeName=<node>). */
  informer: Informer<VirtualMachine>;
  driver: RuntimeDriver;
  fence: FenceGate;
  recorder: Pick<EventRecorder, 'event'>;
  /** Read at each use (the agent changes it when its config file is reloaded). */
  fenceTimeoutSeconds: number;
  stopGraceMs: number;
  /** How long a guest may take to boot before it is killed (and restarted per its runStrategy); 0 or absent: no limit. */
  bootTimeoutMs?: number;
  log: Logger;
  /** How restarts after exits back off; default: the kubelet's (10 s doubling to 5 min, reset by a 10 min run). */
  restartBackoff?: RestartBackoffPolicy;
  /** Where each VM's crash loop is kept; default: in memory (the agent keeps it on disk). */
  restartBackoffStore?: RestartBackoffStore;
  /** Default 8. */
  workers?: number;
  /** Default: prom-client's global registry (the agent's /metrics). */
  registry?: Registry;
  /** Volumes and pools for the VMs' disks; a Volume's change requeues the VMs here attaching it. */
  volumes?: { access: VolumeAccess; informer: Informer<Volume>; pools: Informer<StoragePool> };
  /** Whether an instance is a live migration's target still waiting for its guest (not a stray). */
  waitingForMigration?(uid: string): boolean;
  /** Whether a VM's guest is stopped here for a cold migration's copy (not to be restarted). */
  heldForMigration?(uid: string): boolean;
  /** The Migrations of a VM, by its uid; their changes requeue it (an eviction that waits for one). */
  migrations?: Informer<Migration>;
  /** Images and the node's image cache (images/): a VM naming an Image boots it once fetched; the Image's change, or its fetch ending, requeues those VMs. */
  images?: { informer: Informer<Image>; store: ImageStore };
  /** VM networks on this node (network/controller.ts); a Network's change requeues the VMs here on it. Absent: VMs with Networks wait, saying why. */
  networks?: { attach: (vm: VirtualMachine) => Promise<Attachment>; informer: Informer<Network> };
}

export function vmController(o: VmControllerOptions): Controller {
  const ctx: VmContext = {
    nodeName: o.nodeName,
    fence: o.fence,
    recorder: o.recorder,
    // Read at each use: the agent changes it when its config file is reloaded.
    get fenceTimeoutSeconds() {
      return o.fenceTimeoutSeconds;
    },
    client: o.client,
    vms: o.informer,
    driver: o.driver,
    stopGraceMs: o.stopGraceMs,
    bootTimeoutMs: o.bootTimeoutMs,
    log: o.log,
    warnedEviction: new Map(),
    liveMigrationFallback: new Map(),
    reportedFence: new Map(),
    restartBackoff: { policy: o.restartBackoff ?? KUBELET_RESTART_BACKOFF, store: o.restartBackoffStore ?? new MemoryRestartBackoffStore() },
    volumes: o.volumes?.access,
    attachNetworks: o.networks?.attach,
    bootImage: o.images ? (name) => resolveBootImage(o.images!.informer, o.images!.store, name) : undefined,
    launchBlockedBy: new Map(),
    waitingForMigration: o.waitingForMigration,
    heldForMigration: o.heldForMigration,
    migrationsOf: o.migrations ? (uid) => o.migrations!.list().filter((m) => m.status?.vmUID === uid) : undefined,
  };
  const controller = new Controller({
    name: VM_CONTROLLER_NAME,
    workers: o.workers ?? WORKERS,
    registry: o.registry,
    log: o.log,
    reconcile: (key) => reconcile(ctx, key),
  });

  const onInstanceChange = (enqueue: (key: string) => void) => {
    const listener = (uid: string) => {
      const instance = o.driver.state(uid);
      if (instance) enqueue(objectKey(instance));
    };
    o.driver.on('change', listener);
    return () => o.driver.off('change', listener);
  };
  controller.watch(o.informer, enqueueObject()).watchKeys(onInstanceChange);
  // Feeds no keys: it ties this node's series of shoal_agent_vm_crash_loop_backoff to the
  // controller's life (stop() takes them off, as it stops every source).
  controller.watchKeys(() => exportCrashLoops(o.registry ?? globalRegistry, { nodeName: o.nodeName, vms: o.informer, state: (uid) => o.driver.state(uid) }));
  if (o.migrations) {
    // An eviction waiting on its live migration: the migration ended.
    const vmOf = (m: Migration) => (m.metadata.namespace ? [objectKey({ namespace: m.metadata.namespace, name: m.spec.vmName })] : []);
    controller.watch(o.migrations, enqueueMapped(vmOf));
  }
  if (o.volumes) {
    // A VM waiting for a disk: the Volume made, claimed elsewhere or its pool changed.
    const attaching = (volume: Volume) =>
      o.informer
        .list()
        .filter((vm) => vm.metadata.namespace === volume.metadata.namespace && vmUsesVolume(vm, volume.metadata.name!))
        .map((vm) => objectKey(vm.metadata));
    const everyVm = () => o.informer.list().map((vm) => objectKey(vm.metadata));
    controller.watch(o.volumes.informer, enqueueMapped(attaching)).watch(o.volumes.pools, enqueueMapped(everyVm));
  }
  if (o.images) {
    const { informer: images, store } = o.images;
    const naming = (imageName: string) =>
      o.informer
        .list()
        .filter((vm) => vmBootsImage(vm, imageName))
        .map((vm) => objectKey(vm.metadata));
    // A VM waiting for its image: the Image changed, or a fetch of one of its files ended.
    controller.watch(
      images,
      enqueueMapped((image) => naming(image.metadata.name!)),
    );
    controller.watchKeys((enqueue) => {
      const listener = (sha256: string) => {
        for (const image of images.list()) if (imageFiles(image).some((f) => f.sha256 === sha256)) for (const key of naming(image.metadata.name!)) enqueue(key);
      };
      store.on('change', listener);
      return () => store.off('change', listener);
    });
  }
  if (o.networks) {
    // A VM waiting for its Network's overlay segment: the Network changed.
    const onNetwork = (net: Network) =>
      o.informer
        .list()
        .filter((vm) =>
          objectKey(net.metadata) === CLUSTER_NETWORK_KEY
            ? joinsClusterNetwork(vm)
            : vm.metadata.namespace === net.metadata.namespace && vm.spec.networks?.some((n) => n.name === net.metadata.name),
        )
        .map((vm) => objectKey(vm.metadata));
    controller.watch(o.networks.informer, enqueueMapped(onNetwork));
  }
  return controller;
}
