/** What an agent writes on a Migration: its own part of the status (status.target or status.source, and the byte counts), nothing else; merge patches of just those fields. */
import {
  ApiError,
  isTerminalMigrationPhase,
  objectKey,
  type Migration,
  type MigrationMode,
  type MigrationSourceStatus,
  type MigrationStatus,
  type MigrationTargetStatus,
} from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import type { MigrationContext } from './context.js';

async function patchStatus(ctx: MigrationContext, m: Migration, status: Partial<MigrationStatus>): Promise<void> {
  try {
    await ctx.client.patch('migration', m.metadata.name!, { status }, { namespace: m.metadata.namespace, type: 'merge', status: true });
  } catch (err) {
    // Gone: the controller let it go once it was over; nothing left to report to.
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
}

/** The attempt a Migration as read is in: Live until a fallback to Cold. */
export const attemptMode = (m: Migration): MigrationMode => m.status?.mode ?? m.spec.mode ?? 'Live';

// Each report is stamped with the attempt it was made in (`m` as it was read when the work began):
// one about a Live attempt that arrives after a fallback to Cold counts for nothing (currentAttempt).
export const reportTarget = (ctx: MigrationContext, m: Migration, target: MigrationTargetStatus) =>
  patchStatus(ctx, m, { target: { ...target, mode: attemptMode(m) } });

export const reportSource = (ctx: MigrationContext, m: Migration, source: MigrationSourceStatus, bytes: Partial<MigrationStatus> = {}) =>
  patchStatus(ctx, m, { ...bytes, source: { ...source, mode: attemptMode(m) } });

/**
 * The first report of a side's attempt — the source's startedAt, the target's readyAt — clears
 * whatever else that side holds: after a fallback, what the Live attempt wrote late (a merge
 * patch would keep it) must not pass for the Cold attempt's.
 */
export const startSource = (ctx: MigrationContext, m: Migration, startedAt: string) =>
  reportSource(ctx, m, { startedAt, ...cleared(['completedAt', 'qemuDowntimeMs', 'resumedAt', 'failure']) });

export const startTarget = (ctx: MigrationContext, m: Migration, ready: Pick<MigrationTargetStatus, 'migrationUri' | 'nbd' | 'readyAt'>) =>
  reportTarget(ctx, m, { ...cleared(['nbd', 'resumedAt', 'failure']), ...ready });

/** Fields a merge patch deletes (null), typed as the side's own so that only its names are accepted. */
function cleared<K extends string>(keys: K[]): Record<K, undefined> {
  return Object.fromEntries(keys.map((k) => [k, null])) as unknown as Record<K, undefined>;
}

export const reportBytes = (ctx: MigrationContext, m: Migration, bytes: Pick<MigrationStatus, 'totalBytes' | 'transferredBytes' | 'remainingBytes'>) =>
  patchStatus(ctx, m, bytes);

export const failure = (reason: string, message: string) => ({ failure: { reason, message } });

/**
 * `fail(reason, message)` for one side of a Migration: logged, reported in that side's part of
 * the status, and the Result of a reconcile that has nothing more to do.
 */
export function failSide(ctx: MigrationContext, m: Migration, side: 'source' | 'target'): (reason: string, message: string) => Promise<Result> {
  return async (reason, message) => {
    ctx.log.warn({ migration: objectKey(m.metadata), reason }, message);
    await (side === 'source' ? reportSource : reportTarget)(ctx, m, failure(reason, message));
    return {};
  };
}

/** Over, or gone (the migration controller lets a Migration go only once it is over). */
export const isTerminal = (m: Migration | undefined) => !m || isTerminalMigrationPhase(m.status?.phase);
