/**
 * How a Migration is kept: what the migration controller, the node agents taking part and the
 * CLI all read the same way.
 */
import type { Migration, MigrationPhase } from './model/generated.js';

/**
 * On every Migration the migration controller has taken (it adds it first): removed once the
 * Migration is Succeeded, Failed or Aborted, so one deleted in flight stays until it is Aborted
 * (or, its VM moved already, Succeeded) and its agents see how it ended. A Migration that is gone
 * counts as ended.
 */
export const MIGRATION_PROTECTION_FINALIZER = 'shoal.dev/migration-protection';

/** The phases a Migration never leaves. */
export const TERMINAL_MIGRATION_PHASES: readonly MigrationPhase[] = ['Succeeded', 'Failed', 'Aborted'];

export const isTerminalMigrationPhase = (phase: MigrationPhase | undefined): boolean => phase !== undefined && TERMINAL_MIGRATION_PHASES.includes(phase);

/** Whether the Migration is still under way (or not started): one such Migration per VM at most. A new one is Pending. */
export const migrationIsActive = (m: Pick<Migration, 'status'>): boolean => !isTerminalMigrationPhase(m.status?.phase);

/**
 * The Migration as its current attempt sees it: a side's report (status.source, status.target)
 * written for another mode — the Live attempt before a fallback to Cold, written late — is left
 * out. Every reader of the sides (the migration controller, the agents) reads through this.
 */
export function currentAttempt(m: Migration): Migration {
  const status = m.status;
  if (!status) return m;
  const stale = (side: { mode?: string } | undefined) => side?.mode !== undefined && side.mode !== status.mode;
  if (!stale(status.source) && !stale(status.target)) return m;
  const { source, target, ...rest } = status;
  return { ...m, status: { ...rest, ...(stale(source) ? {} : { source }), ...(stale(target) ? {} : { target }) } };
}
