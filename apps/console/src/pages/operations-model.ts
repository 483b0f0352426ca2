/**
 * How far migrations and backups have got, from their status alone: a Migration's bytes moved
 * (from transferredBytes, or totalBytes less remainingBytes), a Backup's VMs done and bytes
 * copied — the latter summed over its DiskBackups, one per VM, whose node agents report
 * progress as they copy.
 */
import { isTerminalMigrationPhase, type Backup, type BackupPhase, type DiskBackup, type Migration } from '@shoal/api/browser';

export interface Progress {
  done: number;
  total: number;
}

export function migrationProgress(m: Migration): Progress | undefined {
  const s = m.status;
  if (!s?.totalBytes) return undefined;
  const done = s.transferredBytes ?? (s.remainingBytes !== undefined ? s.totalBytes - s.remainingBytes : undefined);
  return done === undefined ? undefined : { done: Math.max(0, Math.min(done, s.totalBytes)), total: s.totalBytes };
}

export const migrationInProgress = (m: Migration): boolean => !isTerminalMigrationPhase(m.status?.phase);

const FINISHED_BACKUP_PHASES: readonly BackupPhase[] = ['Completed', 'PartiallyFailed', 'Failed'];

export const backupInProgress = (b: Backup): boolean => !FINISHED_BACKUP_PHASES.includes(b.status?.phase as BackupPhase);

export interface BackupProgress {
  vms: Progress;
  /** Bytes copied of the bytes to copy, once the agents have said. */
  bytes?: Progress;
}

export function backupProgress(b: Backup, diskBackups: Iterable<DiskBackup>): BackupProgress {
  const vms = b.status?.vms ?? [];
  let done = 0;
  let total = 0;
  let reported = false;
  for (const d of diskBackups) {
    if (d.spec.backupName !== b.metadata.name || d.metadata.namespace !== b.metadata.namespace) continue;
    const p = d.status?.progress;
    if (p?.totalBytes === undefined) continue;
    reported = true;
    total += p.totalBytes;
    done += d.status?.phase === 'Completed' ? p.totalBytes : (p.doneBytes ?? 0);
  }
  return {
    vms: { done: vms.filter((v) => v.phase === 'Completed' || v.phase === 'Failed').length, total: vms.length },
    ...(reported ? { bytes: { done, total } } : {}),
  };
}
