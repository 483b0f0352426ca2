/**
 * Reads the apiserver's own Prometheus histogram of its etcd requests, so a phase can say how
 * long etcd took as seen from inside the apiserver (versus the latency the client saw).
 */
import type { Dispatcher } from 'undici';
import { call } from './http-client.js';

const METRIC = 'shoal_apiserver_etcd_request_duration_seconds';

export type EtcdOpTotals = Record<string, { count: number; sumSeconds: number }>;

export async function etcdOpTotals(pool: Dispatcher): Promise<EtcdOpTotals> {
  const { text } = await call(pool, 'GET', '/metrics');
  const out: EtcdOpTotals = {};
  const re = new RegExp(`^${METRIC}_(sum|count)\\{operation="([^"]+)"\\} ([0-9.eE+-]+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const op = (out[m[2]!] ??= { count: 0, sumSeconds: 0 });
    if (m[1] === 'sum') op.sumSeconds = Number(m[3]);
    else op.count = Number(m[3]);
  }
  return out;
}

/** Mean etcd latency per operation between two readings, in ms, for operations that ran. */
export function etcdOpDelta(before: EtcdOpTotals, after: EtcdOpTotals): Record<string, { count: number; meanMs: number }> {
  const out: Record<string, { count: number; meanMs: number }> = {};
  for (const [op, a] of Object.entries(after)) {
    const b = before[op] ?? { count: 0, sumSeconds: 0 };
    const count = a.count - b.count;
    if (count > 0) out[op] = { count, meanMs: Math.round(((a.sumSeconds - b.sumSeconds) / count) * 1e6) / 1e3 };
  }
  return out;
}
