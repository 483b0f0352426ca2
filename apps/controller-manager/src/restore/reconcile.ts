/**
 * reconcile(ctx, "namespace/name") for the restore controller (STYLE.md 1–3). It alone writes a
 * Restore's status. Each pass looks at the world, not at a record of what it did: an object
 * carrying this Restore's uid was made by it, one without was there before.
 *
 *   finished                        → nothing
 *   its Backup missing or failed    → Failed, saying so; not finished yet → waits for it
 *   existingPolicy Fail, and an     → Failed, naming them, before anything is made
 *   object of a name to restore exists
 *   otherwise, per VM of the Backup → its Volumes made (source: the backed-up disk; the node
 *                                     agent of the VM fills them, checking every checksum),
 *                                     then the VM, then the Volumes it owned owned by it
 *   every item final                → Completed, PartiallyFailed or Failed
 *
 * Item results: Volume Created (made, not yet filled) → Restored (its agent filled it) or
 * Failed (it could not: the data is missing or corrupt, the agent says which); VM Restored once
 * made; Skipped for what existed already.
 */
import {
  ApiError,
  BACKUP_NAME_LABEL,
  backupFinished,
  canonicalJson,
  objectKey,
  timestamp,
  type Backup,
  type DiskBackup,
  type KubeObject,
  type Restore,
  type RestoreItem,
  type RestoreStatus,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { planRestore, RESTORED_BY_ANNOTATION, type PlannedItem, type VmPlan } from './plan.js';

export interface RestoreContext {
  client: ShoalClient;
  restores: Pick<Informer<Restore>, 'get'>;
  backups: Pick<Informer<Backup>, 'get'>;
  diskBackups: Pick<Informer<DiskBackup>, 'list'>;
  vms: Pick<Informer<VirtualMachine>, 'get'>;
  volumes: Pick<Informer<Volume>, 'get'>;
  recorder: EventRecorder;
  log: Logger;
}

const FINAL = new Set(['Completed', 'PartiallyFailed', 'Failed']);

export async function reconcile(ctx: RestoreContext, key: string): Promise<Result> {
  const restore = ctx.restores.get(key);
  if (!restore || restore.metadata.deletionTimestamp || FINAL.has(restore.status?.phase ?? '')) return {};
  const ns = restore.metadata.namespace!;
  const backup = ctx.backups.get(objectKey({ namespace: ns, name: restore.spec.backupName }));
  if (!backup) return fail(ctx, restore, `backup ${restore.spec.backupName} does not exist in namespace ${ns}`);
  if (!backupFinished(backup.status?.phase)) {
    if (backup.status?.phase === 'Deleting') return fail(ctx, restore, `backup ${restore.spec.backupName} is being deleted`);
    return writeStatus(ctx, restore, { phase: 'New', message: `waiting for backup ${restore.spec.backupName} to finish` });
  }
  if (backup.status?.phase === 'Failed') return fail(ctx, restore, `backup ${restore.spec.backupName} failed: nothing to restore`);
  const diskBackups = ctx.diskBackups
    .list()
    .filter(
      (d) =>
        d.metadata.namespace === ns &&
        d.metadata.labels?.[BACKUP_NAME_LABEL] === backup.metadata.name &&
        d.metadata.ownerReferences?.some((o) => o.uid === backup.metadata.uid),
    );
  const plans = planRestore(restore, diskBackups);
  const missing = (restore.spec.vmNames ?? []).filter((n) => !plans.some((p) => p.vm.from === n));
  if (plans.length === 0)
    return fail(ctx, restore, `backup ${restore.spec.backupName} holds no completed copy of ${missing.length ? missing.join(', ') : 'any virtualmachine'}`);

  const uid = restore.metadata.uid!;
  const existing = (item: PlannedItem) => lookup(ctx, item);
  if (restore.spec.existingPolicy === 'Fail' && !restore.status?.phase) {
    const taken = plans
      .flatMap((p) => [...p.volumes, p.vm])
      .filter((i) => {
        const found = existing(i);
        return found && found.metadata.annotations?.[RESTORED_BY_ANNOTATION] !== uid;
      });
    if (taken.length)
      return fail(
        ctx,
        restore,
        `existingPolicy Fail: ${taken.map((i) => `${i.kind.toLowerCase()} ${i.object.metadata.name}`).join(', ')} exist already; nothing was restored`,
      );
  }

  const items: RestoreItem[] = [];
  for (const plan of plans) items.push(...(await restoreVm(ctx, restore, plan)));
  for (const name of missing)
    items.push({ kind: 'VirtualMachine', name, from: name, result: 'Failed', message: `backup ${restore.spec.backupName} holds no completed copy of it` });
  const done = items.every((i) => i.result !== 'Pending' && i.result !== 'Created');
  const failed = items.filter((i) => i.result === 'Failed').length;
  const phase = !done ? 'InProgress' : failed === 0 ? 'Completed' : failed === items.length ? 'Failed' : 'PartiallyFailed';
  await writeStatus(ctx, restore, {
    phase,
    startTimestamp: restore.status?.startTimestamp ?? timestamp(),
    ...(done ? { completionTimestamp: timestamp() } : {}),
    items,
    message: done ? `${items.length - failed} of ${items.length} items restored or skipped` : undefined,
  });
  if (done)
    ctx.recorder.event(
      restore,
      failed ? 'Warning' : 'Normal',
      `Restore${phase}`,
      `from backup ${restore.spec.backupName}: ${items.length - failed} of ${items.length} items`,
    );
  return {};
}

/** One VM's items, making what is missing: its Volumes, then (they all exist) the VM, then the Volumes' ownership. */
async function restoreVm(ctx: RestoreContext, restore: Restore, plan: VmPlan): Promise<RestoreItem[]> {
  const uid = restore.metadata.uid!;
  const items: RestoreItem[] = [];
  let volumesExist = true;
  for (const v of plan.volumes) {
    const found = lookup(ctx, v) ?? (await make(ctx, restore, v));
    if (!found) {
      volumesExist = false;
      items.push(item(v, 'Pending'));
    } else if (found.metadata.annotations?.[RESTORED_BY_ANNOTATION] !== uid) items.push(item(v, 'Skipped', 'it exists already: left as it is'));
    else items.push(volumeResult(v, found as Volume));
  }
  if (!volumesExist) return [...items, item(plan.vm, 'Pending')];
  const vm = lookup(ctx, plan.vm) ?? (await make(ctx, restore, plan.vm));
  if (!vm) return [...items, item(plan.vm, 'Pending')];
  if (vm.metadata.annotations?.[RESTORED_BY_ANNOTATION] !== uid) return [...items, item(plan.vm, 'Skipped', 'it exists already: left as it is')];
  for (const name of plan.owned) {
    const v = ctx.volumes.get(objectKey({ namespace: restore.metadata.namespace, name }));
    if (!v || v.metadata.annotations?.[RESTORED_BY_ANNOTATION] !== uid || v.metadata.ownerReferences?.length) continue;
    await ctx.client.patch(
      'volume',
      name,
      {
        metadata: {
          ownerReferences: [{ apiVersion: vm.apiVersion, kind: 'VirtualMachine', name: vm.metadata.name!, uid: vm.metadata.uid!, controller: true }],
        },
      },
      { namespace: restore.metadata.namespace, type: 'merge' },
    );
  }
  return [...items, item(plan.vm, 'Restored')];
}

function volumeResult(planned: PlannedItem, v: Volume): RestoreItem {
  if (v.status?.phase === 'Available') return item(planned, 'Restored');
  if (v.status?.phase === 'Failed') return item(planned, 'Failed', v.status.conditions?.at(-1)?.message ?? 'the volume could not be made');
  return item(planned, 'Created', 'filled from the backup when its virtualmachine starts on a node');
}

const item = (p: PlannedItem, result: RestoreItem['result'], message?: string): RestoreItem => ({
  kind: p.kind,
  name: p.object.metadata.name!,
  from: p.from,
  result,
  ...(message ? { message } : {}),
});

function lookup(ctx: RestoreContext, i: PlannedItem): KubeObject | undefined {
  const key = objectKey(i.object.metadata);
  return i.kind === 'Volume' ? ctx.volumes.get(key) : ctx.vms.get(key);
}

/** Creates it; undefined when it now exists (made by someone, the cache will show whose). */
async function make(ctx: RestoreContext, restore: Restore, i: PlannedItem): Promise<KubeObject | undefined> {
  try {
    return await ctx.client.create(i.kind === 'Volume' ? 'volume' : 'vm', i.object, { namespace: restore.metadata.namespace });
  } catch (err) {
    if (err instanceof ApiError && err.code === 409) return undefined;
    throw err;
  }
}

async function fail(ctx: RestoreContext, restore: Restore, message: string): Promise<Result> {
  ctx.recorder.event(restore, 'Warning', 'RestoreFailed', message);
  return writeStatus(ctx, restore, {
    phase: 'Failed',
    message,
    completionTimestamp: timestamp(),
    startTimestamp: restore.status?.startTimestamp ?? timestamp(),
  });
}

async function writeStatus(ctx: RestoreContext, restore: Restore, change: RestoreStatus): Promise<Result> {
  const next = { ...restore.status, ...change, observedGeneration: restore.metadata.generation };
  const strip = (s: RestoreStatus) => canonicalJson({ ...s, completionTimestamp: undefined, startTimestamp: undefined });
  if (strip(next) === strip(restore.status ?? {})) return {};
  await ctx.client.patch(
    'restore',
    restore.metadata.name!,
    { metadata: { resourceVersion: restore.metadata.resourceVersion }, status: next },
    { namespace: restore.metadata.namespace, type: 'merge', status: true },
  );
  return {};
}
