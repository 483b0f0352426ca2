/**
 * The metrics API (metrics.shoal.dev): VMs' and nodes' CPU and memory use, answered by the
 * apiserver from the agents' samples, as metrics.k8s.io is by metrics-server. Usage travels as
 * Kubernetes quantities, as there: CPU in nanocores (`1500000n`), memory in KiB (`123456Ki`).
 */

export const METRICS_GROUP = 'metrics.shoal.dev';
export const METRICS_VERSION = 'v1alpha1';
export const METRICS_API_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;

/** Cores as a quantity in nanocores, the unit metrics-server answers in. */
export function cpuQuantity(cores: number): string {
  return `${Math.round(cores * 1e9)}n`;
}

/** Bytes as a quantity in KiB, the unit metrics-server answers in. */
export function memoryQuantity(bytes: number): string {
  return `${Math.round(bytes / 1024)}Ki`;
}

const SUFFIXES: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** A quantity (`250m`, `1.5`, `180Mi`, `1e3`) as a plain number; throws on anything else. */
export function parseQuantity(q: string): number {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(n|u|m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q.trim());
  if (!m) throw new Error(`not a quantity: "${q}"`);
  return Number(m[1]) * SUFFIXES[m[2] ?? '']!;
}

/** Seconds as the duration string of a metrics object's window (`10s`, `1.5s`). */
export function windowDuration(seconds: number): string {
  return `${Number(seconds.toFixed(3))}s`;
}
