/**
 * Following one Migration until it ends: a watch by name from the version the command created
 * (so no change in between is missed), relisting if the watch falls too far behind (410), each
 * version shown through the shared wait progress (../../output/wait-progress.ts): a bar with
 * rate and ETA redrawn in place on a terminal, a line per phase change otherwise.
 */
import { ApiError, type Migration } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { RateMeter } from '../../output/progress.js';
import type { WaitProgress } from '../../output/wait-progress.js';
import { isTerminal, phaseOf } from '../../migration/migration-status.js';
import { migrationStatus, PENDING_HINT_AFTER_MS, pendingHint } from './status-lines.js';

export type FollowEnd =
  /** It reached Succeeded, Failed or Aborted. */
  | { ended: Migration }
  /** It went away before it ended (deleted and its finalizers done). */
  | { deleted: Migration }
  /** The signal aborted first; the Migration as last seen. */
  | { stopped: Migration };

/** Watches `created` until it ends, is deleted, or `signal` aborts, showing each version on `progress`. */
export async function followMigration(client: ShoalClient, created: Migration, progress: WaitProgress, signal: AbortSignal): Promise<FollowEnd> {
  const namespace = created.metadata.namespace;
  const selectors = { namespace, fieldSelector: `metadata.name=${created.metadata.name}` };
  const meter = new RateMeter();
  let current = created;
  let phaseSince = Date.now();
  let hinted = false;
  const show = (m: Migration) => {
    const now = Date.now();
    if (phaseOf(m) !== phaseOf(current)) phaseSince = now;
    current = m;
    if (m.status?.transferredBytes !== undefined) meter.add(now, m.status.transferredBytes);
    progress.update(migrationStatus(m, meter.rate()));
  };
  const hint = setInterval(() => {
    const now = Date.now();
    if (!hinted && phaseOf(current) === 'Pending' && now - phaseSince >= PENDING_HINT_AFTER_MS) {
      hinted = true;
      progress.note(pendingHint(current, now - phaseSince));
    }
  }, 1000);

  try {
    show(created);
    let resourceVersion = created.metadata.resourceVersion;
    while (!isTerminal(phaseOf(current))) {
      try {
        for await (const event of client.watch<Migration>('Migration', { ...selectors, resourceVersion, allowWatchBookmarks: true }, signal)) {
          if (event.type === 'BOOKMARK') continue;
          // Another object of the same name is not the one this command created.
          if (event.object.metadata.uid !== created.metadata.uid) continue;
          if (event.type === 'DELETED') return { deleted: event.object };
          show(event.object);
          if (isTerminal(phaseOf(current))) return { ended: current };
        }
        return { stopped: current }; // the watch ends only when the signal aborts
      } catch (err) {
        if (signal.aborted) return { stopped: current };
        if (!(err instanceof ApiError && err.code === 410)) throw err;
        // Too far behind to resume: read it afresh and watch from there.
        const list = await client.list<Migration>('Migration', { ...selectors, signal });
        const latest = list.items.find((m) => m.metadata.uid === created.metadata.uid);
        if (!latest) return { deleted: current };
        show(latest);
        resourceVersion = list.metadata.resourceVersion;
      }
    }
    return { ended: current };
  } finally {
    clearInterval(hint);
  }
}
