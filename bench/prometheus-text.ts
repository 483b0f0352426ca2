/**
 * Reads Prometheus text exposition (what /metrics answers) into samples, and estimates quantiles
 * from a histogram's cumulative buckets the way PromQL's histogram_quantile() does: find the
 * bucket the rank falls in and interpolate linearly inside it. The estimate is only as fine as
 * the buckets, so the bucket bounds are reported with it.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of every series of a metric (all label values), or of those matching `where`. */
export function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** Values of one counter by one label: `{ scheduled: 9990, conflict: 3 }`. */
export function byLabel(samples: Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) if (s.name === name) out[s.labels[label] ?? ''] = (out[s.labels[label] ?? ''] ?? 0) + s.value;
  return out;
}

export interface Histogram {
  /** Upper bounds in the metric's unit, ascending, +Inf last; counts are cumulative. */
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export function histogram(samples: Sample[], name: string, where: Record<string, string> = {}): Histogram {
  const counts = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !Object.entries(where).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    counts.set(le, (counts.get(le) ?? 0) + s.value);
  }
  return {
    buckets: [...counts].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le),
    sum: total(samples, `${name}_sum`, where),
    count: total(samples, `${name}_count`, where),
  };
}

/** The difference of two readings of one histogram (a phase's own observations). */
export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  const prior = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: after.buckets.map((b) => ({ le: b.le, count: b.count - (prior.get(b.le) ?? 0) })),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

export interface QuantileEstimate {
  q: number;
  /** Linear interpolation inside the bucket, in the histogram's unit; the top finite bound when the rank is past it. */
  estimate: number;
  /** The bucket the quantile lies in: (lowerBound, upperBound]. upperBound is Infinity past the last finite bucket. */
  lowerBound: number;
  upperBound: number;
}

export function quantile(h: Histogram, q: number): QuantileEstimate | undefined {
  if (!h.count || !h.buckets.length) return undefined;
  const rank = q * h.count;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return { q, estimate: prevLe, lowerBound: prevLe, upperBound: Infinity };
      const inBucket = b.count - prevCount;
      const estimate = inBucket > 0 ? prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket : b.le;
      return { q, estimate, lowerBound: prevLe, upperBound: b.le };
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return undefined;
}
