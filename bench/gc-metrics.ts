/**
 * Garbage collection of a process between two scrapes of its /metrics, from prom-client's
 * default `<prefix>nodejs_gc_duration_seconds` histogram: how many collections of each kind
 * (minor: scavenges of the young generation; major: mark-compact of the whole heap) and the
 * seconds they took. A process's pauses are time none of its work moves.
 */
import { total, type Sample } from './prometheus-text.js';

export interface GcKind {
  count: number;
  seconds: number;
}

/** By kind (minor, major, incremental, weakcb), as prom-client labels them. */
export type GcTotals = Record<string, GcKind>;

export function gcTotals(samples: Sample[], prefix: string): GcTotals {
  const name = `${prefix}nodejs_gc_duration_seconds`;
  const kinds = new Set(samples.filter((s) => s.name === `${name}_count`).map((s) => s.labels.kind ?? ''));
  const out: GcTotals = {};
  for (const kind of kinds) out[kind] = { count: total(samples, `${name}_count`, { kind }), seconds: total(samples, `${name}_sum`, { kind }) };
  return out;
}

/** What was collected between `before` (empty: since the process started) and `after`, seconds to the millisecond. */
export function gcDelta(after: GcTotals, before: GcTotals = {}): GcTotals {
  const out: GcTotals = {};
  for (const [kind, a] of Object.entries(after)) {
    const b = before[kind] ?? { count: 0, seconds: 0 };
    out[kind] = { count: a.count - b.count, seconds: Math.round((a.seconds - b.seconds) * 1000) / 1000 };
  }
  return out;
}

/** `minor 75 in 0.61 s, major 3 in 0.42 s`: the kinds that pause the process. */
export function describeGc(gc: GcTotals): string {
  return (['minor', 'major'] as const)
    .filter((kind) => gc[kind])
    .map((kind) => `${kind} ${gc[kind]!.count} in ${gc[kind]!.seconds} s`)
    .join(', ');
}
