/**
 * Following a Backup or a Restore until its phase is final: read every second (with its
 * DiskBackups, for the bytes under way), a line on stderr whenever what it says changes.
 * Ctrl-C stops following, not the work.
 */
import type { Backup, DiskBackup, KubeObject, Restore } from '@shoal/api';
import { BACKUP_NAME_LABEL } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { formatBytes } from '../output/progress.js';

const FINAL = new Set(['Completed', 'PartiallyFailed', 'Failed']);
const POLL_MS = 1_000;

/** The line for a Backup under way: its phase, and the bytes its node agents copied so far. */
export function backupLine(b: Backup, disks: DiskBackup[]): string {
  const phase = b.status?.phase ?? 'New';
  if (FINAL.has(phase)) return `${phase}: ${formatBytes(b.status?.totalBytes ?? 0)} written`;
  const done = disks.reduce(
    (n, d) =>
      n + (d.status?.progress?.doneBytes ?? (d.status?.phase === 'Completed' ? (d.status.volumes ?? []).reduce((m, v) => m + (v.sizeBytes ?? 0), 0) : 0)),
    0,
  );
  const total = disks.reduce((n, d) => n + (d.status?.progress?.totalBytes ?? (d.status?.volumes ?? []).reduce((m, v) => m + (v.sizeBytes ?? 0), 0)), 0);
  const vms = disks.filter((d) => d.status?.phase === 'Completed').length;
  return `${phase}: ${vms} of ${disks.length} virtualmachines done${total ? `, ${formatBytes(done)} of ${formatBytes(total)} read (${Math.floor((100 * done) / total)}%)` : ''}`;
}

export function restoreLine(r: Restore): string {
  const items = r.status?.items ?? [];
  const count = (result: string) => items.filter((i) => i.result === result).length;
  return `${r.status?.phase ?? 'New'}: ${count('Restored')} restored, ${count('Skipped')} skipped, ${count('Failed')} failed, ${items.length - count('Restored') - count('Skipped') - count('Failed')} under way${r.status?.message ? ` (${r.status.message})` : ''}`;
}

/** Reads the object until its phase is final; answers it then, or the last version read when `signal` aborts. */
export async function followUntilFinal<T extends KubeObject & { status?: { phase?: string } }>(
  client: ShoalClient,
  kind: 'backup' | 'restore',
  created: T,
  describe: (o: T) => Promise<string>,
  signal: AbortSignal,
): Promise<T> {
  let current = created;
  let said = '';
  for (;;) {
    const line = await describe(current);
    if (line !== said) process.stderr.write(`${kind} ${current.metadata.name}: ${line}\n`);
    said = line;
    if (FINAL.has(current.status?.phase ?? '') || signal.aborted) return current;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, POLL_MS);
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
    if (signal.aborted) return current;
    current = await client.get<T>(kind, current.metadata.name!, { namespace: current.metadata.namespace });
  }
}

export async function diskBackupsOf(client: ShoalClient, b: Backup): Promise<DiskBackup[]> {
  return (await client.list<DiskBackup>('diskbackup', { namespace: b.metadata.namespace, labelSelector: `${BACKUP_NAME_LABEL}=${b.metadata.name}` })).items;
}
