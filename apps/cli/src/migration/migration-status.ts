/** Facts about a Migration's status that `migrate` and `describe migration` both read. */
import type { Migration, MigrationPhase, MigrationStatus } from '@shoal/api';
import { formatBytes } from '../output/progress.js';

export const TERMINAL_PHASES: readonly MigrationPhase[] = ['Succeeded', 'Failed', 'Aborted'];

export function isTerminal(phase: MigrationPhase | undefined): boolean {
  return phase !== undefined && TERMINAL_PHASES.includes(phase);
}

/** The phase a Migration is in; a new one is Pending until the controller takes it. */
export function phaseOf(m: Migration): MigrationPhase {
  return m.status?.phase ?? 'Pending';
}

/** `48.0 MiB/256.0 MiB`, `48.0 MiB` without a total, '' before any count. */
export function bytesText(status: MigrationStatus | undefined): string {
  const total = status?.totalBytes;
  const done = status?.transferredBytes;
  if (total === undefined) return done === undefined ? '' : formatBytes(done);
  return `${formatBytes(done ?? 0)}/${formatBytes(total)}`;
}

/** Bytes still to send: what the source reports, else total less transferred. */
export function remainingBytes(status: MigrationStatus | undefined): number | undefined {
  if (status?.remainingBytes !== undefined) return status.remainingBytes;
  if (status?.totalBytes === undefined) return undefined;
  return Math.max(0, status.totalBytes - (status.transferredBytes ?? 0));
}
