/**
 * The source's transfer (live: source.ts, cold: cold-source.ts) runs in the background, never
 * inside a reconcile. This is what both share: the record that holds it (its abort, so that a
 * Migration that ends cancels it), a failure reported in status.source, and, when it ends, the
 * record kept as "ended" (the cache may not show the outcome yet) and the Migration requeued.
 */
import { objectKey, type Migration } from '@shoal/api';
import { MigrationError } from '../runtime/qemu/migration/index.js';
import type { LocalMigration, MigrationContext } from './context.js';
import { failure, reportSource } from './report.js';

/** Starts `work` in the background as `local`'s transfer; `onEnd` runs after it, however it ended. */
export function runTransfer(
  ctx: MigrationContext,
  m: Migration,
  local: LocalMigration,
  work: (signal: AbortSignal) => Promise<void>,
  onEnd?: () => void,
): void {
  const key = objectKey(m.metadata);
  const abort = new AbortController();
  // Recorded before the work begins: whatever it sets off (a guest's exit) finds the transfer held.
  local.transfer = { abort, done: Promise.resolve() };
  ctx.local.set(key, local);
  const done = work(abort.signal)
    .catch(async (err: unknown) => {
      const e = err instanceof MigrationError ? err : new MigrationError(abort.signal.aborted ? 'Cancelled' : 'SourceFailed', (err as Error).message);
      ctx.log.warn({ migration: key, reason: e.reason }, e.message);
      await reportSource(ctx, m, failure(e.reason, e.message)).catch(() => undefined);
    })
    .finally(() => {
      local.transfer = undefined;
      local.transferEnded = true;
      ctx.requeue(key);
      onEnd?.();
    });
  local.transfer = { abort, done };
}
