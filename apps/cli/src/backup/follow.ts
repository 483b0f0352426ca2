/**
 * Following a Backup or a Restore until its phase is final: read every second (with its
 * DiskBackups, for the bytes under way) and shown through the shared wait progress
 * (../output/wait-progress.ts). Ctrl-C stops following, not the work.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Backup, DiskBackup, KubeObject, Restore } from '@shoal/api';
import { BACKUP_NAME_LABEL } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { formatBytes } from '../output/progress.js';
import type { WaitProgress, WaitStatus } from '../output/wait-progress.js';

const FINAL = new Set(['Completed', 'PartiallyFailed', 'Failed']);
const POLL_MS = 1_000;

/** A Backup under way: its phase, and the bytes its node agents copied so far. */
export function backupStatus(b: Backup, disks: DiskBackup[]): WaitStatus {
  const phase = b.status?.phase ?? 'New';
  if (FINAL.has(phase)) return { phase, detail: `${formatBytes(b.status?.totalBytes ?? 0)} written` };
  // No agent has started on it yet: nothing to count.
  if (disks.length === 0) return { phase };
  const done = disks.reduce(
    (n, d) =>
      n + (d.status?.progress?.doneBytes ?? (d.status?.phase === 'Completed' ? (d.status.volumes ?? []).reduce((m, v) => m + (v.sizeBytes ?? 0), 0) : 0)),
    0,
  );
  const total = disks.reduce((n, d) => n + (d.status?.progress?.totalBytes ?? (d.status?.volumes ?? []).reduce((m, v) => m + (v.sizeBytes ?? 0), 0)), 0);
  const vms = disks.filter((d) => d.status?.phase === 'Completed').length;
  const bytes = total ? `, ${formatBytes(done)} of ${formatBytes(total)} read (${Math.floor((100 * done) / total)}%)` : '';
  return { phase, detail: `${vms} of ${disks.length} virtualmachines done${bytes}`, ...(total ? { fraction: done / total } : {}) };
}

export function restoreStatus(r: Restore): WaitStatus {
  const items = r.status?.items ?? [];
  const count = (result: string) => items.filter((i) => i.result === result).length;
  const underWay = items.length - count('Restored') - count('Skipped') - count('Failed');
  return {
    phase: r.status?.phase ?? 'New',
    detail: `${count('Restored')} restored, ${count('Skipped')} skipped, ${count('Failed')} failed, ${underWay} under way${r.status?.message ? ` (${r.status.message})` : ''}`,
  };
}

/** Reads the object until its phase is final; answers it then, or the last version read when `signal` aborts. */
export async function followUntilFinal<T extends KubeObject & { status?: { phase?: string } }>(
  client: ShoalClient,
  kind: 'backup' | 'restore',
  created: T,
  status: (o: T) => Promise<WaitStatus>,
  progress: WaitProgress,
  signal: AbortSignal,
): Promise<T> {
  let current = created;
  for (;;) {
    progress.update(await status(current));
    if (FINAL.has(current.status?.phase ?? '') || signal.aborted) return current;
    // Resolves early, without an error, when the signal aborts; and leaves no listener behind.
    await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
    if (signal.aborted) return current;
    current = await client.get<T>(kind, current.metadata.name!, { namespace: current.metadata.namespace });
  }
}

export async function diskBackupsOf(client: ShoalClient, b: Backup): Promise<DiskBackup[]> {
  return (await client.list<DiskBackup>('diskbackup', { namespace: b.metadata.namespace, labelSelector: `${BACKUP_NAME_LABEL}=${b.metadata.name}` })).items;
}
