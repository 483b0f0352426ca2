/**
 * reconcile(ctx, key) for the DiskBackups assigned to this node (spec.node):
 *
 *   new (no phase)                   → take it (take.ts), in the background
 *   InProgress, not run by this      → this agent restarted during the copy: what QEMU still does
 *   process                            of it is cancelled, its files removed, and it is Failed
 *   being deleted                    → its files go; a later incremental that builds on one of
 *                                      them first takes in what it needs of it (qemu-img rebase),
 *                                      so every backup left stays restorable; then the finalizer
 *   otherwise                        → nothing: it is done
 */
import { existsSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { execa } from 'execa';
import { ApiError, BACKUP_DATA_FINALIZER, backupBitmapName, type BackupVolume, type DiskBackup } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { QmpSession } from '../runtime/qemu/migration/qmp-session.js';
import { abandonDiskCopies } from '../runtime/qemu/disk-backup.js';
import type { BackupContext } from './context.js';
import { absolute, fileBytes, sha256File, toolError } from './files.js';
import { jobPrefix, reportStatus } from './report.js';
import { fail, removeVmDirectory, takeBackup } from './take.js';

/** How soon data kept for a copy under way, or for another node's backup, is looked at again. */
const KEPT_RETRY_MS = 5_000;

export async function reconcile(ctx: BackupContext, key: string): Promise<Result> {
  const d = ctx.diskBackups.get(key);
  if (!d || d.spec.node !== ctx.nodeName) return {};
  if (d.metadata.deletionTimestamp) return remove(ctx, d);
  if (ctx.running.has(key) || ctx.taken.has(d.metadata.uid!)) return {};
  if (!d.status?.phase) {
    await takeBackup(ctx, d);
    return {};
  }
  if (d.status.phase === 'InProgress') await abandon(ctx, d);
  return {};
}

async function abandon(ctx: BackupContext, d: DiskBackup): Promise<void> {
  const qmp = d.spec.vmUID ? ctx.driver.qmpSocket?.(d.spec.vmUID) : undefined;
  if (qmp && d.spec.vmUID && ctx.driver.state(d.spec.vmUID)?.phase === 'running') {
    const session = await QmpSession.connect(qmp).catch(() => undefined);
    if (session)
      try {
        await abandonDiskCopies(session, jobPrefix(d), backupBitmapName(d.metadata.uid!));
      } finally {
        session.close();
      }
  }
  await fail(ctx, d, [], 'AgentRestarted', `the agent on node ${ctx.nodeName} restarted during the copy`);
}

async function remove(ctx: BackupContext, d: DiskBackup): Promise<Result> {
  if (!(d.metadata.finalizers ?? []).includes(BACKUP_DATA_FINALIZER)) return {};
  // A copy under way ends first; its end requeues this.
  if (ctx.running.has(`${d.metadata.namespace}/${d.metadata.name}`)) return {};
  const files = new Set((d.status?.volumes ?? []).map((v) => v.file).filter((f): f is string => !!f));
  for (const child of ctx.diskBackups.list()) {
    if (child.metadata.namespace !== d.metadata.namespace || child.spec.locationPath !== d.spec.locationPath || child === d) continue;
    if (child.status?.phase !== 'InProgress' && child.status?.phase !== 'Completed') continue;
    const builds = (child.status.volumes ?? []).filter((v) => v.parent && files.has(v.parent));
    if (builds.length === 0) continue;
    if (child.status.phase === 'InProgress' || child.spec.node !== ctx.nodeName) {
      ctx.log.info({ diskBackup: d.metadata.name, keptFor: child.metadata.name }, 'backup data kept: a later backup builds on it');
      return { requeueAfterMs: KEPT_RETRY_MS };
    }
    await foldInto(ctx, d, child);
  }
  if (d.status?.phase === 'InProgress') await abandon(ctx, d);
  else await removeVmDirectory(d);
  try {
    await ctx.client.patch(
      'diskbackup',
      d.metadata.name!,
      { metadata: { resourceVersion: d.metadata.resourceVersion, finalizers: (d.metadata.finalizers ?? []).filter((f) => f !== BACKUP_DATA_FINALIZER) } },
      { namespace: d.metadata.namespace, type: 'merge' },
    );
  } catch (err) {
    if (err instanceof ApiError && (err.code === 409 || err.code === 404)) return err.code === 409 ? { requeueAfterMs: 0 } : {};
    throw err;
  }
  ctx.taken.delete(d.metadata.uid!);
  return {};
}

/**
 * Rebases each of `child`'s files that builds on one of `d`'s onto that file's own parent (or
 * onto nothing): qemu-img copies into the child the clusters it read through the file that goes.
 * Its record then names the new parent, size and checksum.
 */
async function foldInto(ctx: BackupContext, d: DiskBackup, child: DiskBackup): Promise<void> {
  const byFile = new Map((d.status?.volumes ?? []).map((v) => [v.file, v]));
  const volumes: BackupVolume[] = [];
  for (const v of child.status?.volumes ?? []) {
    const gone = v.parent ? byFile.get(v.parent) : undefined;
    if (!gone) {
      volumes.push(v);
      continue;
    }
    const path = absolute(child.spec.locationPath, v.file!);
    const newParent = gone.parent ? absolute(d.spec.locationPath, gone.parent) : undefined;
    if (!existsSync(path)) throw new Error(`${v.file} is missing: cannot fold ${gone.file} into it`);
    const backing = newParent ? ['-F', 'qcow2', '-b', relative(dirname(path), newParent)] : ['-b', ''];
    try {
      await execa('qemu-img', ['rebase', '-q', '-f', 'qcow2', ...backing, path]);
    } catch (err) {
      throw new Error(`folding ${gone.file} into ${v.file}: ${toolError(err)}`);
    }
    const { parent: _parent, ...rest } = v;
    volumes.push({ ...rest, ...(gone.parent ? { parent: gone.parent } : {}), bytes: await fileBytes(path), sha256: await sha256File(path) });
  }
  await reportStatus(ctx, child, { volumes });
  ctx.log.info({ from: d.metadata.name, into: child.metadata.name }, 'backup data folded into the backup that builds on it');
}
