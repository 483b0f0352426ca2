/** Summaries of latency samples: percentiles by the nearest-rank method, in milliseconds. */

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** x to `digits` decimals, for figures written to results. */
export function roundTo(x: number, digits: number): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

/** Rounds to three decimals (microseconds when the unit is ms), so the JSON stays readable. */
export function round3(x: number): number {
  return roundTo(x, 3);
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samplesMs: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  let sum = 0;
  for (const x of sorted) sum += x;
  const n = sorted.length;
  return {
    count: n,
    minMs: round3(n ? sorted[0]! : NaN),
    meanMs: round3(n ? sum / n : NaN),
    p50Ms: round3(percentile(sorted, 50)),
    p90Ms: round3(percentile(sorted, 90)),
    p99Ms: round3(percentile(sorted, 99)),
    maxMs: round3(n ? sorted[n - 1]! : NaN),
  };
}

/** Operations per second, rounded to one decimal. */
export function rate(ops: number, wallMs: number): number {
  return wallMs > 0 ? Math.round((ops / (wallMs / 1000)) * 10) / 10 : NaN;
}
