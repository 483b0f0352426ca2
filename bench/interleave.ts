/**
 * Runs workloads in alternating slices (A B C, then B C A, then C A B, ...) instead of one
 * after the other. Other work on the machine comes and goes; interleaving makes every workload
 * see the same mix of it, so their ratio means something even on a shared, busy host.
 */
import { runSlice, summarizeSlices, type LoadResult, type SliceRun } from './load.js';
import { combineCpu, CpuMeter, type CpuFigures, type Processes } from './process-meter.js';
import { rate } from './stats.js';
import { etcdOpDelta, type EtcdOpTotals } from './apiserver-metrics.js';

export interface Workload {
  name: string;
  n: number;
  op: (i: number) => Promise<void>;
  /** Reads the apiserver's etcd request totals, for workloads that go through it. */
  etcdTotals?: () => Promise<EtcdOpTotals>;
  sampleEveryMs?: number;
}

export interface Phase extends LoadResult {
  cpu: CpuFigures;
  slices: number;
  /** Throughput of each slice, in the order they ran. */
  perSlicePerSecond: number[];
  /** Mean latency of the apiserver's own etcd requests during the phase, from its /metrics. */
  apiserverEtcdRequests?: Record<string, { count: number; meanMs: number }>;
}

export async function interleave(workloads: Workload[], slices: number, concurrency: number, procs: Processes): Promise<Record<string, Phase>> {
  const runs = new Map<string, { parts: SliceRun[]; cpu: CpuFigures[]; etcd: Record<string, { count: number; sumMs: number }> }>();
  for (const w of workloads) runs.set(w.name, { parts: [], cpu: [], etcd: {} });
  for (let s = 0; s < slices; s++) {
    for (let k = 0; k < workloads.length; k++) {
      const w = workloads[(s + k) % workloads.length]!;
      const run = runs.get(w.name)!;
      const start = Math.floor((s * w.n) / slices);
      const end = Math.floor(((s + 1) * w.n) / slices);
      const before = await w.etcdTotals?.();
      const meter = new CpuMeter(procs, w.sampleEveryMs).start();
      run.parts.push(await runSlice(start, end, concurrency, w.op));
      run.cpu.push(meter.stop());
      if (before && w.etcdTotals) {
        for (const [op, d] of Object.entries(etcdOpDelta(before, await w.etcdTotals()))) {
          const acc = (run.etcd[op] ??= { count: 0, sumMs: 0 });
          acc.count += d.count;
          acc.sumMs += d.meanMs * d.count;
        }
      }
    }
  }
  const out: Record<string, Phase> = {};
  for (const w of workloads) {
    const run = runs.get(w.name)!;
    out[w.name] = {
      ...summarizeSlices(run.parts, concurrency),
      cpu: combineCpu(run.cpu),
      slices,
      perSlicePerSecond: run.parts.map((p) => rate(p.latenciesMs.length, p.wallMs)),
      ...(w.etcdTotals
        ? {
            apiserverEtcdRequests: Object.fromEntries(
              Object.entries(run.etcd).map(([op, a]) => [op, { count: a.count, meanMs: Math.round((a.sumMs / a.count) * 1000) / 1000 }]),
            ),
          }
        : {}),
    };
  }
  return out;
}
