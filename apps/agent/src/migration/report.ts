/** What an agent writes on a Migration: its own part of the status (status.target or status.source, and the byte counts), nothing else; merge patches of just those fields. */
import {
  ApiError,
  isTerminalMigrationPhase,
  objectKey,
  type Migration,
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

export const reportTarget = (ctx: MigrationContext, m: Migration, target: MigrationTargetStatus) => patchStatus(ctx, m, { target });

export const reportSource = (ctx: MigrationContext, m: Migration, source: MigrationSourceStatus, bytes: Partial<MigrationStatus> = {}) =>
  patchStatus(ctx, m, { ...bytes, source });

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
