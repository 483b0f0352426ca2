/**
 * The volume controller's wiring (STYLE.md 4): it makes the Volumes VirtualMachines own (their
 * volumeTemplates and rootDisk), deletes them once their VM is gone, and lets a deleted Volume
 * go only when no VM attaches it (reconcile.ts). Keys are Volume identities, `namespace/name`,
 * whether the Volume exists yet or not.
 *
 *   Volume added/updated/deleted            → that Volume
 *   VM added, or its disks or deletion      → every Volume its disks name, before and after (a
 *   changed                                   template to make, a Volume it stopped attaching)
 *   VM deleted                              → every Volume its last known disks named, and every
 *                                             Volume it controlled (garbage to collect, even one
 *                                             a disk no longer names)
 *   StoragePool                             → nothing: a Volume's pool is chosen when it is made
 *
 * Two indexes, kept by the same event handlers that feed the queue, answer the reverse
 * questions (key-index.ts): which VMs attach a Volume (from each VM's last known disks — the
 * informer's delete event carries its cached copy, so a VM that is gone still says what it
 * attached), and which Volumes a VM controls (by uid). Both are rebuilt from the informers'
 * first lists, before any reconcile runs, so a restarted controller starts complete.
 */
import { objectKey, vmDisks, type StoragePool, type VirtualMachine, type Volume } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { KeyIndex } from './key-index.js';
import { vmControllerOf } from './ownership.js';
import { reconcile, type VolumeContext } from './reconcile.js';
import { ReportedOnce } from './reported-once.js';

export const VOLUME_NAME = 'volume';
export const VOLUME_COMPONENT = 'shoal-volume-controller';

/** What of a VM matters to its Volumes: the Volumes it names (and how), and whether it is being deleted. */
const volumeView = (vm: VirtualMachine) => JSON.stringify([vmDisks(vm).map((d) => [d.volumeName, d.template ?? null]), Boolean(vm.metadata.deletionTimestamp)]);

export function volumeController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: VOLUME_NAME });
  const volumes = env.informers.informer<Volume>('volume');
  const vms = env.informers.informer<VirtualMachine>('vm');
  // Read when a Volume is made (its pool); nothing to requeue when pools change.
  const pools = env.informers.informer<StoragePool>('storagepool');
  /** VM key → the keys of the Volumes its disks name. */
  const attachments = new KeyIndex();
  /** Volume key → the uid of the VM controlling it. */
  const controllers = new KeyIndex();
  const ctx: VolumeContext = {
    client: env.client,
    volumes,
    vms,
    pools,
    attachments,
    recorder: env.recorder(VOLUME_COMPONENT),
    log,
    inUse: new ReportedOnce(),
    nameTaken: new ReportedOnce(),
  };
  const controller = new Controller({ name: VOLUME_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const onVolume: EventHandler<Volume> = (change) => {
    const key = objectKey(change.object.metadata);
    const owner = change.type === 'delete' ? undefined : vmControllerOf(change.object)?.uid;
    controllers.set(key, owner ? [owner] : []);
    return [key];
  };
  const onVm: EventHandler<VirtualMachine> = (change) => {
    const vm = change.object;
    const key = objectKey(vm.metadata);
    if (change.type === 'delete') return [...attachments.delete(key), ...controllers.sources(vm.metadata.uid!)];
    const named = attachments.set(
      key,
      vmDisks(vm).map((d) => objectKey({ namespace: vm.metadata.namespace, name: d.volumeName })),
    );
    // Status writes (the agent's, every few seconds) change nothing here.
    if (change.type === 'update' && volumeView(change.old) === volumeView(vm)) return [];
    return named;
  };
  return controller.watch(volumes, onVolume).watch(vms, onVm);
}
