/**
 * shoal_agent_fencings_total{node}: the times this node fenced itself — went longer than its fence
 * timeout without renewing its lease, so every VM on it was stopped (by the agent's FenceMonitor,
 * or by the VMs' own supervisors while the agent was frozen) and the health controller may run
 * them elsewhere. Counted once per stale period, whether or not a VM was running then. Each node
 * starts at 0, so `increase()` sees the first fencing too.
 */
import { perRegistry } from '@shoal/controller-runtime';
import { Counter, register as globalRegistry, type Registry } from 'prom-client';

export const FENCINGS_METRIC = 'shoal_agent_fencings_total';

const counter = perRegistry(
  (registers) =>
    new Counter({
      name: FENCINGS_METRIC,
      help: 'Times the node went longer than its fence timeout without renewing its lease, stopping its VMs.',
      labelNames: ['node'],
      registers,
    }),
);

/** What FenceMonitor counts a fencing with. */
export interface FencingCount {
  inc(): void;
}

/** The node's series of shoal_agent_fencings_total, at 0 until its first fencing. */
export function fencingCount(nodeName: string, registry: Registry = globalRegistry): FencingCount {
  const c = counter(registry);
  c.inc({ node: nodeName }, 0);
  return { inc: () => c.inc({ node: nodeName }) };
}
