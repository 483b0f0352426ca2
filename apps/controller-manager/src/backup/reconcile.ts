/**
 * reconcile(ctx, "namespace/name") for the backup controller (STYLE.md 1–3). It alone writes a
 * Backup's status; the node agents report in the DiskBackups it makes.
 *
 *   New                        → its location resolved, its plan made (plan.ts): a DiskBackup
 *                                per VM (AlreadyExists is one made before a restart), then
 *                                InProgress, with its expiration and the items not backed up
 *   InProgress                 → the DiskBackups summed up (summary.ts); once all are done:
 *                                Completed, PartiallyFailed or Failed, and the completion time
 *   finished, expired          → deleted
 *   finished                   → its volumes' records kept as its DiskBackups say (deleting an
 *                                older backup folds data into a later one's file); looked at
 *                                again when it expires
 *   being deleted              → Deleting; its DiskBackups deleted (their agents remove the
 *                                data); once none is left, on a fresh list too, its finalizer goes
 */
import {
  ApiError,
  BACKUP_DATA_FINALIZER,
  BACKUP_NAME_LABEL,
  backupDirectory,
  backupFinished,
  backupLocationFor,
  canonicalJson,
  ignoreNotFound,
  parseDuration,
  timestamp,
  type Backup,
  type BackupLocation,
  type BackupStatus,
  type DiskBackup,
  type Node,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { planBackup } from './plan.js';
import { summarize } from './summary.js';

export interface BackupContext {
  client: ShoalClient;
  backups: Pick<Informer<Backup>, 'get'>;
  diskBackups: Pick<Informer<DiskBackup>, 'list'>;
  locations: Pick<Informer<BackupLocation>, 'list'>;
  vms: Pick<Informer<VirtualMachine>, 'list'>;
  volumes: Pick<Informer<Volume>, 'get'>;
  nodes: Pick<Informer<Node>, 'get' | 'list'>;
  recorder: EventRecorder;
  log: Logger;
  now?: () => number;
}

export async function reconcile(ctx: BackupContext, key: string): Promise<Result> {
  const backup = ctx.backups.get(key);
  if (!backup) return {};
  const disks = diskBackupsOf(ctx.diskBackups.list(), backup);
  if (backup.metadata.deletionTimestamp) return remove(ctx, backup, disks);
  const phase = backup.status?.phase ?? 'New';
  if (phase === 'New') return start(ctx, backup);
  if (phase === 'InProgress') {
    const { status, phase: final, recheckAfterMs } = summarize(disks, planErrorsOf(backup, disks), (n) => ctx.nodes.get(n), now(ctx));
    await writeStatus(ctx, backup, { ...status, ...(final ? { phase: final, completionTimestamp: timestamp(now(ctx)) } : {}) });
    if (final) ctx.recorder.event(backup, final === 'Completed' ? 'Normal' : 'Warning', `Backup${final}`, finalMessage(final, status));
    return recheckAfterMs !== undefined ? { requeueAfterMs: recheckAfterMs } : {};
  }
  if (backupFinished(phase)) {
    // A later deletion may have folded a file into this one's: its records follow its DiskBackups'.
    const { status } = summarize(disks, planErrorsOf(backup, disks), (n) => ctx.nodes.get(n), now(ctx));
    if (disks.length) await writeStatus(ctx, backup, { volumes: status.volumes, totalBytes: status.totalBytes });
    return expire(ctx, backup);
  }
  return {};
}

const now = (ctx: BackupContext) => ctx.now?.() ?? Date.now();

function diskBackupsOf(all: DiskBackup[], backup: Backup): DiskBackup[] {
  return all.filter(
    (d) =>
      d.metadata.namespace === backup.metadata.namespace &&
      d.metadata.labels?.[BACKUP_NAME_LABEL] === backup.metadata.name &&
      d.metadata.ownerReferences?.some((o) => o.uid === backup.metadata.uid),
  );
}

/** The errors written when it started: those not about a VM that has a DiskBackup. */
function planErrorsOf(backup: Backup, disks: DiskBackup[]) {
  const vms = new Set(disks.map((d) => `virtualmachine/${d.spec.vmName}`));
  return (backup.status?.errors ?? []).filter((e) => !vms.has(e.item));
}

async function start(ctx: BackupContext, backup: Backup): Promise<Result> {
  const at = timestamp(now(ctx));
  const expiration = timestamp(Date.parse(backup.metadata.creationTimestamp ?? at) + parseDuration(backup.spec.ttl ?? '720h'));
  const location = backupLocationFor(backup.spec, ctx.locations.list());
  if (!location) {
    const message = backup.spec.location ? `backuplocation ${backup.spec.location} does not exist` : 'no backuplocation is named, and none is the default';
    await writeStatus(ctx, backup, {
      phase: 'Failed',
      startTimestamp: at,
      completionTimestamp: at,
      expiration,
      errors: [{ item: 'backup', reason: 'LocationNotFound', message }],
    });
    ctx.recorder.event(backup, 'Warning', 'BackupFailed', message);
    return {};
  }
  const vms = ctx.vms.list().filter((v) => v.metadata.namespace === backup.metadata.namespace);
  const plan = planBackup({ backup, location, vms, volume: (k) => ctx.volumes.get(k), nodes: ctx.nodes.list() });
  for (const d of plan.diskBackups)
    await ctx.client.create('diskbackup', d, { namespace: d.metadata.namespace }).catch((err) => {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    });
  const nothing = plan.diskBackups.length === 0;
  await writeStatus(ctx, backup, {
    phase: nothing ? (plan.errors.length ? 'Failed' : 'Completed') : 'InProgress',
    location: location.metadata.name,
    path: backupDirectory(backup),
    consistency: 'CrashConsistent',
    startTimestamp: at,
    ...(nothing ? { completionTimestamp: at } : {}),
    expiration,
    vms: plan.diskBackups.map((d) => ({ name: d.spec.vmName, uid: d.spec.vmUID, node: d.spec.node, phase: 'Pending' as const })),
    errors: plan.errors,
    totalBytes: 0,
  });
  ctx.log.info({ backup: `${backup.metadata.namespace}/${backup.metadata.name}`, vms: plan.diskBackups.length, errors: plan.errors.length }, 'backup started');
  return {};
}

async function expire(ctx: BackupContext, backup: Backup): Promise<Result> {
  const at = Date.parse(backup.status?.expiration ?? '');
  if (Number.isNaN(at)) return {};
  const left = at - now(ctx);
  if (left > 0) return { requeueAfterMs: left };
  ctx.recorder.event(backup, 'Normal', 'BackupExpired', `expired at ${backup.status!.expiration}: deleted with its data`);
  await ctx.client
    .delete('backup', backup.metadata.name!, { namespace: backup.metadata.namespace, preconditions: { uid: backup.metadata.uid } })
    .catch(ignoreNotFound);
  return {};
}

async function remove(ctx: BackupContext, backup: Backup, disks: DiskBackup[]): Promise<Result> {
  if (!(backup.metadata.finalizers ?? []).includes(BACKUP_DATA_FINALIZER)) return {};
  if (backup.status?.phase !== 'Deleting') await writeStatus(ctx, backup, { phase: 'Deleting' });
  for (const d of disks.filter((x) => !x.metadata.deletionTimestamp))
    await ctx.client.delete('diskbackup', d.metadata.name!, { namespace: d.metadata.namespace }).catch(ignoreNotFound);
  if (disks.length > 0) return {};
  // The cache may not show a DiskBackup made a moment ago: the apiserver must agree none is left.
  const live = await ctx.client.list<DiskBackup>('diskbackup', {
    namespace: backup.metadata.namespace,
    labelSelector: `${BACKUP_NAME_LABEL}=${backup.metadata.name}`,
  });
  if (diskBackupsOf(live.items, backup).length > 0) return { requeueAfterMs: 1_000 };
  await ctx.client
    .patch(
      'backup',
      backup.metadata.name!,
      { metadata: { resourceVersion: backup.metadata.resourceVersion, finalizers: backup.metadata.finalizers!.filter((f) => f !== BACKUP_DATA_FINALIZER) } },
      { namespace: backup.metadata.namespace, type: 'merge' },
    )
    .catch(ignoreNotFound);
  return {};
}

async function writeStatus(ctx: BackupContext, backup: Backup, change: BackupStatus): Promise<void> {
  const next = { ...backup.status, ...change, observedGeneration: backup.metadata.generation };
  if (canonicalJson(next) === canonicalJson(backup.status ?? {})) return;
  await ctx.client.patch(
    'backup',
    backup.metadata.name!,
    { metadata: { resourceVersion: backup.metadata.resourceVersion }, status: next },
    { namespace: backup.metadata.namespace, type: 'merge', status: true },
  );
}

function finalMessage(phase: string, status: Pick<BackupStatus, 'vms' | 'totalBytes' | 'errors'>): string {
  const ok = (status.vms ?? []).filter((v) => v.phase === 'Completed').length;
  const errors = (status.errors ?? []).map((e) => `${e.item}: ${e.message}`).join('; ');
  return `${phase}: ${ok} of ${status.vms?.length ?? 0} virtualmachines, ${status.totalBytes ?? 0} bytes${errors ? `; ${errors}` : ''}`;
}
