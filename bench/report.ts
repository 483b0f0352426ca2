/** Writes a run's figures as JSON under bench/results/ and prints a short table of them. */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { CpuFigures } from './process-meter.js';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export interface Ratio {
  /** Total operations ÷ total wall time of each side, over all their interleaved slices. */
  value: number;
  /** The project's aim for this ratio, or null when none is set (reported for context). */
  aim: number | null;
  met: boolean | null;
  definition: string;
  /** The same ratio within each slice pair, when both sides ran interleaved: its spread shows how much the host's other load moved it. */
  perSlice?: { values: number[]; median: number; min: number; max: number };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function ratio(
  numerator: { perSecond: number; perSlicePerSecond?: number[] },
  denominator: { perSecond: number; perSlicePerSecond?: number[] },
  aim: number | null,
  definition: string,
): Ratio {
  const value = r3(numerator.perSecond / denominator.perSecond);
  const a = numerator.perSlicePerSecond;
  const b = denominator.perSlicePerSecond;
  let perSlice: Ratio['perSlice'];
  if (a && b && a.length === b.length && a.length > 1) {
    const values = a.map((x, i) => r3(x / b[i]!));
    const sorted = [...values].sort((x, y) => x - y);
    const mid = sorted.length / 2;
    const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : r3((sorted[mid - 1]! + sorted[mid]!) / 2);
    perSlice = { values, median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
  }
  return { value, aim, met: aim === null ? null : value >= aim, definition, ...(perSlice ? { perSlice } : {}) };
}

/** CPU milliseconds each process spent per operation of a phase. */
export function cpuMsPerOperation(cpu: CpuFigures, operations: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, s] of Object.entries(cpu.cpuSeconds)) out[name] = Math.round((s / operations) * 1e6) / 1e3;
  return out;
}

/** `api-2025-01-01T12-00-00.000Z.json`: ISO 8601 with the colons made file-name safe. */
export async function writeResults(prefix: string, startedAt: Date, data: unknown): Promise<{ file: string; latest: string }> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const json = `${JSON.stringify(data, null, 2)}\n`;
  const file = join(RESULTS_DIR, `${prefix}-${startedAt.toISOString().replace(/:/g, '-')}.json`);
  const latest = join(RESULTS_DIR, `${prefix}-latest.json`);
  await writeFile(file, json);
  await writeFile(latest, json);
  return { file, latest };
}

export interface Row {
  phase: string;
  ops: number | string;
  perSecond: number | string;
  p50Ms: number | string;
  p99Ms: number | string;
  cpu?: CpuFigures;
}

const fmt = (v: number | string) => (typeof v === 'number' ? (Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)) : '-') : v);

export function printTable(rows: Row[], processNames: string[]): void {
  const header = ['phase', 'ops', 'ops/s', 'p50 ms', 'p99 ms', ...processNames.map((p) => `${p} cores`), 'others cores'];
  const body = rows.map((r) => [
    r.phase,
    fmt(r.ops),
    fmt(r.perSecond),
    fmt(r.p50Ms),
    fmt(r.p99Ms),
    ...processNames.map((p) => (r.cpu ? fmt(r.cpu.averageCores[p] ?? NaN) : '-')),
    r.cpu ? fmt(r.cpu.otherCores) : '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b.map(String)));
}
