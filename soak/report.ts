/** The soak's results: one JSON document (soak/results/, ignored by git), a printed summary, and each process's output when asked. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize, type LatencySummary } from '../bench/stats.js';
import type { Measurement } from './convergence.js';
import type { FaultRecord } from './fault-runner.js';
import type { Leak } from './leaks.js';
import type { LostWrite } from './ledger.js';
import type { MigrationOutcomes } from './migrations.js';
import type { ManagedProcess, UnexpectedExit } from './managed-process.js';
import type { CacheMismatch } from './cache-consistency.js';
import type { LateFence, MemoryViolation, TwiceViolation } from './sampler.js';
import { FAULT_KINDS, type PlannedFault } from './schedule.js';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export interface InvariantResult {
  ok: boolean;
  /** How many times it was checked. */
  checks: number;
  /** What it found, for people. */
  failures: string[];
}

export interface SoakReport {
  soak: 'chaos';
  passed: boolean;
  seed: number;
  runId: string;
  replay: string;
  startedAt: string;
  options: Record<string, unknown>;
  machine: unknown;
  topology: unknown;
  timing: Record<string, number>;
  phasesMs: Record<string, number>;
  schedule: PlannedFault[];
  faults: { injected: Record<string, number>; total: number; skipped: number; failed: number; records: FaultRecord[] };
  workload: { operations: Record<string, number>; writes: { acked: number; rejected: number; ambiguous: number }; migrations: MigrationOutcomes };
  invariants: {
    neverTwice: InvariantResult & { samples: number; scans: number; maxCopiesSeen: number; violations: TwiceViolation[] };
    fencedInTime: InvariantResult & { boundMs: number; late: LateFence[] };
    apiserversAgreeWithEtcd: InvariantResult & { mismatches: CacheMismatch[] };
    acknowledgedWritesKept: InvariantResult & { ackedWrites: number; lost: LostWrite[] };
    convergence: InvariantResult & { boundMs: number; afterFaultsStoppedMs: number | null; unconverged: Record<string, string> };
    noLeaks: InvariantResult & { afterConvergence: Leak[]; afterDrain: Leak[] };
    processesUp: InvariantResult & {
      unexpectedExits: UnexpectedExit[];
      memory: MemoryViolation[];
      peakRssMiB: Record<string, number>;
      restartsFailed: string[];
    };
  };
  /** Convergence time of every measurement (see convergence.ts), and by what started its clock. */
  convergence: LatencySummary & { byCause: Record<string, LatencySummary>; slowest: { vm: string; cause: string; ms: number; startMs: number }[] };
  /** Every failed invariant, one line each. */
  failures: string[];
}

export function faultCounts(records: FaultRecord[]): SoakReport['faults'] {
  const injected = Object.fromEntries(FAULT_KINDS.map((k) => [k, records.filter((r) => r.kind === k && r.injectedAtMs !== undefined).length]));
  return {
    injected,
    total: Object.values(injected).reduce((a, b) => a + b, 0),
    skipped: records.filter((r) => r.skipped).length,
    failed: records.filter((r) => r.error).length,
    records,
  };
}

export function convergenceFigures(measurements: readonly Measurement[]): SoakReport['convergence'] {
  const done = measurements.filter((m) => m.endMs !== undefined);
  const causeOf = (m: Measurement) => (m.cause.startsWith('write') ? 'write' : m.cause.startsWith('fault') ? 'fault end' : m.cause);
  const byCause: Record<string, LatencySummary> = {};
  for (const cause of new Set(done.map(causeOf))) byCause[cause] = summarize(done.filter((m) => causeOf(m) === cause).map((m) => m.endMs! - m.startMs));
  const slowest = [...done]
    .sort((a, b) => b.endMs! - b.startMs - (a.endMs! - a.startMs))
    .slice(0, 10)
    .map((m) => ({ vm: m.vm, cause: m.cause, ms: m.endMs! - m.startMs, startMs: m.startMs }));
  return { ...summarize(done.map((m) => m.endMs! - m.startMs)), byCause, slowest };
}

const s = (ms: number | null | undefined) => (ms === null || ms === undefined || !Number.isFinite(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);

export function printSummary(r: SoakReport, print: (line: string) => void): void {
  const i = r.invariants;
  const line = (name: string, v: InvariantResult, detail: string) => print(`  ${name.padEnd(28)} ${v.ok ? 'ok    ' : 'FAILED'} ${detail}`);
  print('');
  print(`soak ${r.passed ? 'PASSED' : 'FAILED'}: seed ${r.seed}, ${s(Number(r.options.durationMs))} of chaos, ${r.options.vms} VMs (run ${r.runId})`);
  print(
    `faults injected: ${r.faults.total} (${Object.entries(r.faults.injected)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}); skipped ${r.faults.skipped}, failed ${r.faults.failed}`,
  );
  print(
    `workload: ${r.workload.writes.acked + r.workload.writes.rejected + r.workload.writes.ambiguous} writes (${r.workload.writes.acked} acked, ${r.workload.writes.rejected} rejected, ${r.workload.writes.ambiguous} ambiguous)`,
  );
  const m = r.workload.migrations;
  print(
    `migrations: ${
      Object.entries(m.byPhase)
        .map(([phase, n]) => `${phase} ${n}`)
        .join(', ') || 'none'
    }${m.fellBackToCold ? `; ${m.fellBackToCold} fell back to Cold` : ''}${m.notMoved.length ? `; not moved: ${m.notMoved.map((n) => `${n.name} ${n.reason ?? n.phase}`).join(', ')}` : ''}`,
  );
  print('invariants:');
  line(
    'never two running copies',
    i.neverTwice,
    `(${i.neverTwice.scans} /proc scans, ${i.neverTwice.samples} with QMP; ${i.neverTwice.checks} checks, ${i.neverTwice.violations.length} violations)`,
  );
  line(
    `fenced within ${s(i.fencedInTime.boundMs)}`,
    i.fencedInTime,
    `(${i.fencedInTime.checks} checks of a QEMU against its host's heartbeat, ${i.fencedInTime.late.length} late)`,
  );
  line(
    'no acknowledged write lost',
    i.acknowledgedWritesKept,
    `(${i.acknowledgedWritesKept.ackedWrites} acked writes, ${i.acknowledgedWritesKept.lost.length} lost)`,
  );
  line(
    'apiservers agree with etcd',
    i.apiserversAgreeWithEtcd,
    `(whole lists from each watch cache vs etcd: ${i.apiserversAgreeWithEtcd.mismatches.length} differences)`,
  );
  line(
    `converged within ${s(i.convergence.boundMs)}`,
    i.convergence,
    i.convergence.afterFaultsStoppedMs === null
      ? `(${Object.keys(i.convergence.unconverged).length} VMs did not)`
      : `(all, ${s(i.convergence.afterFaultsStoppedMs)} after the faults stopped)`,
  );
  line(
    'no leaks',
    i.noLeaks,
    `(QEMU, supervisors, run dirs, taps: ${i.noLeaks.afterConvergence.length} after convergence, ${i.noLeaks.afterDrain.length} after the final drain)`,
  );
  line(
    'processes up, RSS bounded',
    i.processesUp,
    `(${i.processesUp.checks} checks; peak RSS ${Object.entries(i.processesUp.peakRssMiB)
      .map(([p, m]) => `${p} ${m}`)
      .join(', ')} MiB)`,
  );
  print(
    `convergence time: p50 ${s(r.convergence.p50Ms)}, p99 ${s(r.convergence.p99Ms)}, max ${s(r.convergence.maxMs)} (n=${r.convergence.count}; ${Object.entries(
      r.convergence.byCause,
    )
      .map(([c, v]) => `${c}: p50 ${s(v.p50Ms)} p99 ${s(v.p99Ms)} n=${v.count}`)
      .join('; ')})`,
  );
  for (const f of r.failures) print(`  ✗ ${f}`);
  print(`replay: ${r.replay}`);
}

/** soak-2025-01-01T12-00-00.000Z.json and soak-latest.json; with logs, a dir of each process incarnation's output beside them. */
export async function writeReport(
  r: SoakReport,
  name: string,
  processes: readonly ManagedProcess[],
  withLogs: boolean,
): Promise<{ file: string; logs?: string }> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = r.startedAt.replace(/:/g, '-');
  const json = `${JSON.stringify(r, null, 2)}\n`;
  const file = join(RESULTS_DIR, `${name}-${stamp}.json`);
  await writeFile(file, json);
  await writeFile(join(RESULTS_DIR, `${name}-latest.json`), json);
  if (!withLogs) return { file };
  const logs = join(RESULTS_DIR, `${name}-${stamp}-logs`);
  await mkdir(logs, { recursive: true });
  for (const p of processes) for (const o of p.outputs) await writeFile(join(logs, `${p.name}.${o.incarnation}.log`), o.output());
  return { file, logs };
}
