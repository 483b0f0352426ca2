/**
 * The workload's Migrations, judged once the faults have stopped: each must have ended
 * (Succeeded, Failed or Aborted) within the convergence bound — a Migration left under way holds
 * its VM and a paused copy on the target — and the report says how they ended, with the reasons
 * of those that did not move their VM (a fault in the middle is a fair reason to fail; hanging
 * is not).
 */
import { isTerminalMigrationPhase, type Migration } from '@shoal/api';

/** The Migrations still under way, each with its phase (and node pair, when known). */
export function unendedMigrations(migrations: readonly Migration[]): Record<string, string> {
  const under: Record<string, string> = {};
  for (const m of migrations) {
    if (isTerminalMigrationPhase(m.status?.phase)) continue;
    const nodes = m.status?.sourceNode ? ` ${m.status.sourceNode} → ${m.status.targetNode ?? '?'}` : '';
    under[`migration ${m.metadata.name}`] = `${m.status?.phase ?? 'not taken'}${nodes}`;
  }
  return under;
}

export interface MigrationOutcomes {
  /** How many ended in each phase (and how many were under way when counted). */
  byPhase: Record<string, number>;
  /** How many went on as Cold after their Live attempt failed. */
  fellBackToCold: number;
  /** Those that did not move their VM: name, phase, reason, message. */
  notMoved: { name: string; phase: string; reason?: string; message?: string }[];
}

export function migrationOutcomes(migrations: readonly Migration[]): MigrationOutcomes {
  const out: MigrationOutcomes = { byPhase: {}, fellBackToCold: 0, notMoved: [] };
  for (const m of migrations) {
    const phase = m.status?.phase ?? 'Pending';
    out.byPhase[phase] = (out.byPhase[phase] ?? 0) + 1;
    if (m.spec.mode === 'Live' && m.status?.mode === 'Cold') out.fellBackToCold++;
    if (phase !== 'Succeeded')
      out.notMoved.push({
        name: m.metadata.name!,
        phase,
        ...(m.status?.reason ? { reason: m.status.reason } : {}),
        ...(m.status?.message ? { message: m.status.message } : {}),
      });
  }
  return out;
}
