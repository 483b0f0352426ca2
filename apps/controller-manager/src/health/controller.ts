/**
 * The health controller's wiring (STYLE.md 4): node health from Lease renewals, NotReady and
 * the unreachable taint, and the rescue of a fenced node's VMs (reconcile.ts).
 *
 *   Lease in shoal-node-lease changed   → the node it belongs to
 *   Node added/updated                  → that node
 *   VM bound to a node judged unhealthy → that node (a VM that arrived there late is rescued too)
 *   (no event at all)                   → each node wakes itself when its lease would expire
 *
 * Its Node cache is also what shoal_node_ready reads at each scrape (node-ready-metric.ts).
 */
import { NODE_LEASE_NAMESPACE, objectKey, type Lease, type Node, type VirtualMachine } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, RenewalClock, type HealthContext } from './reconcile.js';
import { exportNodeReadiness } from './node-ready-metric.js';

export const HEALTH_NAME = 'health';
export const HEALTH_COMPONENT = 'shoal-node-health';

export function healthController(env: ControllerEnv): Controller {
  const nodes = env.informers.informer<Node>('node');
  const leases = env.informers.informer<Lease>('lease', { namespace: NODE_LEASE_NAMESPACE });
  const vms = env.informers.informer<VirtualMachine>('vm');
  exportNodeReadiness(env.registry, nodes);
  const log = env.log.child({ controller: HEALTH_NAME });
  const now = () => Date.now();
  const ctx: HealthContext = {
    client: env.client,
    nodes,
    leases,
    vms,
    clock: new RenewalClock(now),
    recorder: env.recorder(HEALTH_COMPONENT),
    log,
    // Read at each reconcile: a reload of the config file changes it.
    get gracePeriodMs() {
      return env.settings.nodeMonitorGracePeriodSeconds * 1000;
    },
    unhealthy: new Set(),
    now,
  };
  const controller = new Controller({ name: HEALTH_NAME, workers: 4, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const onLease: EventHandler<Lease> = (change) => {
    const name = change.object.metadata.name;
    return name ? [name] : [];
  };
  const onVm: EventHandler<VirtualMachine> = (change) => {
    const nodeName = change.object.spec.nodeName;
    return nodeName && change.type !== 'delete' && ctx.unhealthy.has(nodeName) ? [nodeName] : [];
  };
  return controller
    .watch(nodes, (change) => [objectKey(change.object.metadata)])
    .watch(leases, onLease)
    .watch(vms, onVm);
}
