/**
 * Which of a BackupSchedule's own Backups its retention deletes, pure (STYLE.md 3). Only finished
 * Backups are looked at: New and InProgress ones (their data is being written), and ones already
 * being deleted, are never touched nor counted.
 *
 *   keepLast N   → the newest N Completed Backups are kept, the older Completed ones deleted;
 *                  and, counted apart, the newest N unsuccessful ones (PartiallyFailed,
 *                  Failed) — as CronJob's successful and failed history limits — so failures
 *                  never push out a Backup that can be restored, and never pile up either
 *   maxAge D     → any finished Backup made more than D ago is deleted, whatever keepLast says
 *   neither      → nothing: they go when their ttl says (the backup controller's part)
 *
 * Newest is by creation (a run's Backup is created at its run), then by name (which carries the
 * run's time). Deleting a Backup deletes its data: its finalizer holds it until that is done.
 */
import { backupFinished, parseDuration, type Backup, type BackupRetention } from '@shoal/api';

export interface Pruned {
  backup: Backup;
  /** Why, for the Event and the log. */
  reason: string;
}

export interface RetentionPlan {
  delete: Pruned[];
  /** When a Backup kept now gets older than maxAge: look again then. */
  recheckAt?: number;
}

const createdAt = (b: Backup) => Date.parse(b.metadata.creationTimestamp ?? '') || 0;
const newestFirst = (a: Backup, b: Backup) => createdAt(b) - createdAt(a) || (b.metadata.name ?? '').localeCompare(a.metadata.name ?? '');

export function retentionPlan(own: readonly Backup[], retention: BackupRetention | undefined, now: number): RetentionPlan {
  const keepLast = retention?.keepLast;
  const maxAgeMs = retention?.maxAge ? parseDuration(retention.maxAge) : undefined;
  if (keepLast === undefined && maxAgeMs === undefined) return { delete: [] };
  const finished = own.filter((b) => !b.metadata.deletionTimestamp && backupFinished(b.status?.phase)).sort(newestFirst);
  const doomed = new Map<Backup, string>();
  if (keepLast !== undefined) {
    const completed = finished.filter((b) => b.status?.phase === 'Completed');
    const unsuccessful = finished.filter((b) => b.status?.phase !== 'Completed');
    for (const b of completed.slice(keepLast)) doomed.set(b, `retention keeps the newest ${keepLast} Completed Backup(s)`);
    for (const b of unsuccessful.slice(keepLast)) doomed.set(b, `retention keeps the newest ${keepLast} unsuccessful (PartiallyFailed, Failed) Backup(s)`);
  }
  let recheckAt: number | undefined;
  if (maxAgeMs !== undefined) {
    for (const b of finished) {
      if (doomed.has(b)) continue;
      const expires = createdAt(b) + maxAgeMs;
      if (expires <= now) doomed.set(b, `older than retention.maxAge ${retention!.maxAge}`);
      else recheckAt = Math.min(recheckAt ?? expires, expires);
    }
  }
  return {
    delete: finished.filter((b) => doomed.has(b)).map((backup) => ({ backup, reason: doomed.get(backup)! })),
    ...(recheckAt !== undefined ? { recheckAt } : {}),
  };
}
