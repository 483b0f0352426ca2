/**
 * Counters and histograms whose label values are bound once, for metrics updated on every
 * request. prom-client's own metrics validate and hash their labels object on each inc() or
 * observe(), which cost about as much as a create's whole etcd round trip bookkeeping in
 * profiles; a bound series here is a few additions. They register with prom-client's default
 * registry and export in its format, so /metrics reads the same.
 */
import { register, type Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Sample {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

export interface CounterSeries {
  inc(by?: number): void;
}

export interface HistogramSeries {
  observe(value: number): void;
}

class CounterValue implements CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
  inc(by = 1): void {
    this.value += by;
  }
}

class HistogramValue implements HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }
  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
  }
}

abstract class BoundMetric<S extends { labels: Labels }> {
  readonly aggregator = 'sum';
  protected readonly series = new Map<string, S>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    readonly labelNames: readonly string[],
    registry: Registry = register,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series for these label values (in labelNames order); keep it, and update it directly. */
  with(...values: string[]): S {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    const id = values.join('\u0000');
    let s = this.series.get(id);
    if (!s) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      s = this.create(labels);
      this.series.set(id, s);
    }
    return s;
  }

  protected abstract create(labels: Labels): S;
  protected abstract samples(s: S): Sample[];

  /** prom-client's metric interface: what the registry formats for /metrics. */
  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [...this.series.values()].flatMap((s) => this.samples(s)),
    };
  }

  reset(): void {
    this.series.clear();
  }
}

export class BoundCounter extends BoundMetric<CounterValue> {
  constructor(opts: { name: string; help: string; labelNames: string[]; registry?: Registry }) {
    super(opts.name, opts.help, 'counter', opts.labelNames, opts.registry);
  }
  protected create(labels: Labels) {
    return new CounterValue(labels);
  }
  protected samples(s: CounterValue): Sample[] {
    return [{ labels: s.labels, value: s.value }];
  }
}

export class BoundHistogram extends BoundMetric<HistogramValue> {
  private readonly buckets: readonly number[];
  constructor(opts: { name: string; help: string; labelNames: string[]; buckets: number[]; registry?: Registry }) {
    super(opts.name, opts.help, 'histogram', opts.labelNames, opts.registry);
    this.buckets = [...opts.buckets].sort((a, b) => a - b);
  }
  protected create(labels: Labels) {
    return new HistogramValue(labels, this.buckets);
  }
  protected samples(s: HistogramValue): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    this.buckets.forEach((le, i) => {
      cumulative += s.counts[i]!;
      out.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: cumulative });
    });
    out.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count });
    out.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
    out.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    return out;
  }
}
