/**
 * A closed-loop load generator: operations over an index range, at most C in flight, each one
 * timed. Failures are counted and sampled, never thrown: a benchmark reports what happened.
 */
import { performance } from 'node:perf_hooks';
import { rate, summarize, type LatencySummary } from './stats.js';

export interface LoadResult {
  operations: number;
  concurrency: number;
  succeeded: number;
  failed: number;
  /** Up to five distinct failure messages. */
  failureSamples: string[];
  /** Wall time the operations ran (summed over slices when interleaved). */
  wallMs: number;
  /** Successful operations per second of wall time. */
  perSecond: number;
  latency: LatencySummary;
}

/** One run over [start, end): raw latencies of the successful operations. */
export interface SliceRun {
  operations: number;
  wallMs: number;
  latenciesMs: number[];
  failed: number;
  failureSamples: string[];
}

/** Runs op(start..end-1) with `concurrency` workers pulling the next index; op throws to report a failure. */
export async function runSlice(start: number, end: number, concurrency: number, op: (i: number) => Promise<void>): Promise<SliceRun> {
  const latenciesMs: number[] = [];
  const failureSamples = new Set<string>();
  let failed = 0;
  let next = start;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= end) return;
      const t0 = performance.now();
      try {
        await op(i);
        latenciesMs.push(performance.now() - t0);
      } catch (err) {
        failed++;
        if (failureSamples.size < 5) failureSamples.add((err as Error).message.slice(0, 300));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, end - start) }, worker));
  return { operations: end - start, wallMs: performance.now() - t0, latenciesMs, failed, failureSamples: [...failureSamples] };
}

export function summarizeSlices(parts: SliceRun[], concurrency: number): LoadResult {
  const latencies = parts.flatMap((p) => p.latenciesMs);
  const wallMs = parts.reduce((a, p) => a + p.wallMs, 0);
  return {
    operations: parts.reduce((a, p) => a + p.operations, 0),
    concurrency,
    succeeded: latencies.length,
    failed: parts.reduce((a, p) => a + p.failed, 0),
    failureSamples: [...new Set(parts.flatMap((p) => p.failureSamples))].slice(0, 5),
    wallMs: Math.round(wallMs * 10) / 10,
    perSecond: rate(latencies.length, wallMs),
    latency: summarize(latencies),
  };
}

export async function runLoad(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<LoadResult> {
  return summarizeSlices([await runSlice(0, n, concurrency, op)], concurrency);
}
