/**
 * reconcile(ctx, "namespace/name") for the volume controller (STYLE.md 1–3). The key is a
 * Volume's identity whether or not the Volume exists: the Volumes VMs' templates should make are
 * reconciled by the names they would have.
 *
 *   no Volume, a VM's template makes it   → create it for the oldest such VM (not being deleted):
 *                                           its template, the pool resolved once, now; labelled
 *                                           and controlled by the VM (ownerReference with its uid)
 *   being deleted, protection finalizer   → some VM (deleting or not) attaches it: a VolumeInUse
 *                                           Event once per set of VMs; their changes requeue it
 *                                         → none, in the cache nor in a fresh list: drop the
 *                                           finalizer, pinned to the Volume's resourceVersion
 *   controlled by a VM that is gone       → delete it (uid precondition), once the apiserver
 *   (no VM of that name, or another uid)    agrees the VM is gone; a VM still being deleted
 *                                           (its guest stopping) is not gone
 *   otherwise, VMs want the name          → a VolumeNameTaken Warning on each, once; the Volume
 *   but it is not theirs                    itself is never adopted, changed or deleted
 *
 * Every decision reads the informer caches; the two that cannot be undone (letting a disk go,
 * deleting one) first check with the apiserver, since the VM cache may be behind the Volume
 * cache. Nothing is owned in a Volume's status (the node agents write it); the controller never
 * touches VOLUME_STORAGE_FINALIZER, which the agent holds until the file is gone.
 */
import { ApiError, ignoreNotFound, VOLUME_PROTECTION_FINALIZER, type OwnerReference, type StoragePool, type VirtualMachine, type Volume } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import type { KeyIndex } from './key-index.js';
import { attachers, claimsOn, ownedVolume, vmControllerOf, type Claim } from './ownership.js';
import type { ReportedOnce } from './reported-once.js';

export const VOLUME_IN_USE = 'VolumeInUse';
export const VOLUME_NAME_TAKEN = 'VolumeNameTaken';

export interface VolumeContext {
  client: ShoalClient;
  volumes: Pick<Informer<Volume>, 'get'>;
  vms: Pick<Informer<VirtualMachine>, 'get'>;
  pools: Pick<Informer<StoragePool>, 'list'>;
  /** Volume key → the keys of the VMs whose (last known) disks name it. */
  attachments: Pick<KeyIndex, 'sources'>;
  recorder: EventRecorder;
  log: Logger;
  /** What was last said per Volume: VolumeInUse (on the Volume), VolumeNameTaken (on each VM). */
  inUse: ReportedOnce;
  nameTaken: ReportedOnce;
}

export async function reconcile(ctx: VolumeContext, key: string): Promise<Result> {
  const slash = key.indexOf('/');
  const namespace = key.slice(0, slash);
  const name = key.slice(slash + 1);
  const vms = ctx.attachments.sources(key).flatMap((k) => ctx.vms.get(k) ?? []);
  const volume = ctx.volumes.get(key);
  if (!volume) {
    ctx.inUse.forget(key);
    ctx.nameTaken.forget(key);
    return make(ctx, namespace, name, vms);
  }
  if (volume.metadata.deletionTimestamp) {
    // It goes; a VM that wanted the name gets its own once it has.
    ctx.nameTaken.forget(key);
    return release(ctx, key, volume, vms);
  }
  ctx.inUse.forget(key);
  const owner = vmControllerOf(volume);
  if (owner && ctx.vms.get(`${namespace}/${owner.name}`)?.metadata.uid !== owner.uid) return collect(ctx, volume, owner);
  reportNameTaken(ctx, key, volume, vms);
  return {};
}

async function make(ctx: VolumeContext, namespace: string, name: string, vms: VirtualMachine[]): Promise<Result> {
  const [claim] = claimsOn(name, vms);
  if (!claim) return {};
  const volume = ownedVolume(claim, ctx.pools.list());
  try {
    await ctx.client.create<Volume>('volume', volume, { namespace });
  } catch (err) {
    // Made meanwhile (the cache is behind, or someone else made it): its add event brings the key back.
    if (err instanceof ApiError && err.reason === 'AlreadyExists') return {};
    throw err;
  }
  ctx.log.info({ volume: `${namespace}/${name}`, vm: claim.vm.metadata.name, pool: volume.spec.pool }, 'volume created for its VirtualMachine');
  return {};
}

async function release(ctx: VolumeContext, key: string, volume: Volume, cached: VirtualMachine[]): Promise<Result> {
  const { name, namespace, resourceVersion, finalizers = [] } = volume.metadata;
  if (!finalizers.includes(VOLUME_PROTECTION_FINALIZER)) {
    ctx.inUse.forget(key);
    return {};
  }
  let users = attachers(volume, cached);
  // The cache may not hold a VM created a moment ago that attaches it: before the disk can go,
  // ask the apiserver (a consistent list), as Kubernetes' PVC protection controller does.
  if (!users.length) users = attachers(volume, (await ctx.client.listAll<VirtualMachine>('vm', { namespace })).items);
  if (users.length) {
    const message = `Volume ${name} is being deleted and waits until no VirtualMachine uses it; used by ${users.join(', ')}`;
    // Each of those VMs' changes, and their deletion, reconcile this Volume again.
    if (ctx.inUse.update(key, new Map([['users', message]])).length) ctx.recorder.event(volume, 'Normal', VOLUME_IN_USE, message);
    return {};
  }
  const rest = finalizers.filter((f) => f !== VOLUME_PROTECTION_FINALIZER);
  // Pinned to the version read: a finalizer someone added meanwhile is not dropped with ours (409 → retry).
  await ignoreNotFound(
    ctx.client.patch('volume', name!, { metadata: { resourceVersion, finalizers: rest.length ? rest : null } }, { type: 'merge', namespace }),
  );
  ctx.inUse.forget(key);
  ctx.log.info({ volume: key }, 'volume no longer used by any VirtualMachine; protection finalizer removed');
  return {};
}

async function collect(ctx: VolumeContext, volume: Volume, owner: OwnerReference): Promise<Result> {
  const { name, namespace, uid } = volume.metadata;
  // The VM cache may be behind the Volume cache (a Volume just made, by a controller that led
  // before us, for a VM we have not seen yet): only the apiserver may say the owner is gone.
  const live = await ignoreNotFound(ctx.client.get<VirtualMachine>('vm', owner.name, { namespace }));
  if (live?.metadata.uid === owner.uid) return {};
  try {
    await ctx.client.delete('volume', name!, { namespace, preconditions: { uid } });
  } catch (err) {
    // Gone already, or another Volume by that name now (its own events reconcile it).
    if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return {};
    throw err;
  }
  ctx.log.info({ volume: `${namespace}/${name}`, owner: owner.name, ownerUid: owner.uid }, 'volume deleted: its VirtualMachine is gone');
  return {};
}

function reportNameTaken(ctx: VolumeContext, key: string, volume: Volume, vms: VirtualMachine[]): void {
  const name = volume.metadata.name!;
  const controller = (volume.metadata.ownerReferences ?? []).find((r) => r.controller);
  const whose = controller ? `it belongs to ${controller.kind} ${controller.name}` : 'nothing owns it';
  const blocked = new Map<string, Claim>();
  const messages = new Map<string, string>();
  for (const claim of claimsOn(name, vms)) {
    const uid = claim.vm.metadata.uid!;
    if (uid === controller?.uid) continue;
    blocked.set(uid, claim);
    messages.set(
      uid,
      `Volume ${name} already exists and is not this VirtualMachine's (${whose}): disk ${claim.disk.name} (${claim.disk.field}) is not made until that Volume is gone`,
    );
  }
  for (const uid of ctx.nameTaken.update(key, messages)) ctx.recorder.event(blocked.get(uid)!.vm, 'Warning', VOLUME_NAME_TAKEN, messages.get(uid)!);
}
