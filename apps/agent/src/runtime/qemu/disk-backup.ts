/**
 * Backing up a running guest's disks through QMP, without pausing it (QEMU's "push" backup):
 *
 *   per disk, in one transaction: a new persistent dirty bitmap (shoal-backup-<uid>) that counts
 *   the guest's writes from this instant, and a blockdev-backup job that copies the disk as it
 *   was at this instant into a fresh qcow2 (compressed) — the whole disk (sync full), or only
 *   the clusters the previous backup's bitmap marks (sync bitmap, its bitmap left as it was)
 *
 * One transaction for all disks of the guest: they are copied at the same instant, so the copy
 * is crash-consistent across them. When every job completed, the target nodes are closed and
 * the previous bitmap dropped: the new one is the change record the next incremental reads.
 * When any failed, the new bitmap is dropped instead and the previous one still counts
 * everything since the last good backup.
 *
 * Persistent bitmaps are written into the qcow2 file when QEMU closes it; a QEMU killed
 * instead leaves them marked in use, and QEMU then loads them as inconsistent: the next
 * backup of that disk is a full one.
 */
import { BACKUP_BITMAP_PREFIX } from '@shoal/api';
import { QmpCommandError, type QmpSession } from './migration/qmp-session.js';

/** query-block's entry, the fields read here. */
interface BlockInfo {
  device: string;
  inserted?: {
    file: string;
    'dirty-bitmaps'?: { name: string; recording: boolean; busy: boolean; persistent: boolean; inconsistent?: boolean }[];
  };
}

export interface GuestDisk {
  /** QEMU's device name (the drive id). */
  device: string;
  /** Shoal's change records on it: persistent shoal-backup-* bitmaps, and whether each can be trusted. */
  bitmaps: { name: string; usable: boolean }[];
}

/** The guest's disks by their file, with the backup bitmaps on each. */
export async function guestDisks(session: QmpSession): Promise<Map<string, GuestDisk>> {
  const disks = new Map<string, GuestDisk>();
  for (const b of await session.execute<BlockInfo[]>('query-block')) {
    if (!b.inserted) continue;
    const bitmaps = (b.inserted['dirty-bitmaps'] ?? [])
      .filter((m) => m.name.startsWith(BACKUP_BITMAP_PREFIX))
      .map((m) => ({ name: m.name, usable: m.persistent && m.recording && !m.inconsistent && !m.busy }));
    disks.set(b.inserted.file, { device: b.device, bitmaps });
  }
  return disks;
}

export interface DiskCopy {
  device: string;
  /** The qcow2 file the copy goes to, made already at the disk's size (for an incremental: backed by the parent's file). */
  target: string;
  /** Copy only the clusters this bitmap marks; the whole disk when absent. */
  sinceBitmap?: string;
  /** The bitmap that counts writes from this copy's instant on. */
  newBitmap: string;
}

const jobId = (prefix: string, i: number) => `${prefix}-${i}`;
const targetNode = (prefix: string, i: number) => `${prefix}-target-${i}`;

export interface CopyProgress {
  done: number;
  total: number;
}

/**
 * Starts the copies of one backup (`prefix` names its jobs and nodes) and answers once QEMU
 * took them; `finished` settles when every job ended — resolved when all completed, rejected
 * with the first error otherwise, after the cleanup above either way.
 */
export async function startDiskCopies(
  session: QmpSession,
  prefix: string,
  /** Bytes per second each job may copy; 0: as fast as it can. */
  speed: number,
  copies: DiskCopy[],
): Promise<{ finished: Promise<void>; progress(): Promise<CopyProgress> }> {
  const ids = copies.map((_, i) => jobId(prefix, i));
  const ended = new Map<string, string | undefined>();
  let settle!: () => void;
  const allEnded = new Promise<void>((resolve) => (settle = resolve));
  const off = session.onEvent((e) => {
    const id = e.data?.device as string | undefined;
    if (!id || !ids.includes(id)) return;
    if (e.event === 'BLOCK_JOB_COMPLETED') ended.set(id, e.data?.error ? String(e.data.error) : undefined);
    else if (e.event === 'BLOCK_JOB_CANCELLED') ended.set(id, 'the copy was cancelled');
    else return;
    if (ended.size === ids.length) settle();
  });

  for (const [i, c] of copies.entries())
    await session.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': targetNode(prefix, i),
      file: { driver: 'file', filename: c.target },
      // The parent's clusters are not read: the job only writes what changed.
      backing: null,
    });
  try {
    await session.execute('transaction', {
      actions: copies.flatMap((c, i) => [
        { type: 'block-dirty-bitmap-add', data: { node: c.device, name: c.newBitmap, persistent: true } },
        {
          type: 'blockdev-backup',
          data: {
            'job-id': ids[i],
            device: c.device,
            target: targetNode(prefix, i),
            compress: true,
            ...(speed > 0 ? { speed } : {}),
            ...(c.sinceBitmap ? { sync: 'bitmap', bitmap: c.sinceBitmap, 'bitmap-mode': 'never' } : { sync: 'full' }),
          },
        },
      ]),
    });
  } catch (err) {
    off();
    await closeTargets(session, prefix, copies.length);
    throw err;
  }

  const finished = allEnded.then(async () => {
    off();
    await closeTargets(session, prefix, copies.length);
    const failure = [...ended.values()].find((e) => e !== undefined);
    if (failure !== undefined) {
      for (const c of copies) await removeBitmap(session, c.device, c.newBitmap);
      throw new Error(failure);
    }
    for (const c of copies) if (c.sinceBitmap) await removeBitmap(session, c.device, c.sinceBitmap);
  });
  finished.catch(() => undefined);
  return {
    finished,
    async progress() {
      const jobs = (await session.execute<{ device: string; offset: number; len: number }[]>('query-block-jobs')).filter((j) => ids.includes(j.device));
      return jobs.reduce((p, j) => ({ done: p.done + j.offset, total: p.total + j.len }), { done: 0, total: 0 });
    },
  };
}

/**
 * What a backup left in a QEMU whose agent restarted during it: its jobs cancelled, its target
 * nodes closed, its new bitmaps dropped (the copy is not trusted, so neither is the record that
 * starts from it).
 */
export async function abandonDiskCopies(session: QmpSession, prefix: string, newBitmap: string): Promise<void> {
  for (const job of await session.execute<{ device: string }[]>('query-block-jobs'))
    if (job.device.startsWith(`${prefix}-`)) await session.execute('block-job-cancel', { device: job.device, force: true }).catch(() => undefined);
  const nodes = await session.execute<{ 'node-name'?: string }[]>('query-named-block-nodes', { flat: true });
  for (const n of nodes) {
    const name = n['node-name'];
    if (name?.startsWith(`${prefix}-target-`)) await deleteNode(session, name);
  }
  for (const disk of (await guestDisks(session)).values())
    for (const b of disk.bitmaps) if (b.name === newBitmap) await removeBitmap(session, disk.device, b.name);
}

/** Drops a bitmap of Shoal's that can no longer start an incremental (its parent is gone, or it is inconsistent). */
export async function removeBitmap(session: QmpSession, device: string, name: string): Promise<void> {
  await session.execute('block-dirty-bitmap-remove', { node: device, name }).catch((err) => {
    if (!(err instanceof QmpCommandError)) throw err;
  });
}

async function closeTargets(session: QmpSession, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await deleteNode(session, targetNode(prefix, i));
}

/** blockdev-del, which fails while a cancelled job still holds the node: asked again for a moment. */
async function deleteNode(session: QmpSession, node: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      await session.execute('blockdev-del', { 'node-name': node });
      return;
    } catch (err) {
      if (!(err instanceof QmpCommandError)) throw err;
      if (/not found|Cannot find/i.test(err.desc)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
