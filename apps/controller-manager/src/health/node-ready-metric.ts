/**
 * shoal_node_ready{node}: 1 while the Node's Ready condition is True, 0 otherwise (NotReady,
 * Unknown, or not judged yet), as kube-state-metrics' kube_node_status_condition. Computed at each
 * scrape from the health controller's Node informer, so it says exactly what the cache holds and
 * never drifts: a deleted Node's series goes with it.
 *
 * A standby controller-manager (--leader-elect) keeps its informers warm and so exports the same
 * figures as the leader; alerts take the max per node.
 */
import { isConditionTrue, type Node } from '@shoal/api';
import { perRegistry } from '@shoal/controller-runtime';
import { Gauge, type Registry } from 'prom-client';

export const NODE_READY_METRIC = 'shoal_node_ready';

/** What the gauge reads at a scrape: the Nodes in the cache. */
export interface NodeSource {
  list(): readonly Node[];
}

/** 1 for a node whose Ready condition is True, 0 for any other. */
export function nodeReadiness(nodes: readonly Node[]): Map<string, 0 | 1> {
  return new Map(nodes.map((n) => [n.metadata.name!, isConditionTrue(n.status?.conditions, 'Ready') ? 1 : 0]));
}

const gauge = perRegistry((registers) => {
  const sources = { current: undefined as NodeSource | undefined };
  new Gauge({
    name: NODE_READY_METRIC,
    help: "Whether the Node's Ready condition is True (1) or not (0), from the health controller's cache.",
    labelNames: ['node'],
    registers,
    collect() {
      this.reset();
      for (const [node, ready] of nodeReadiness(sources.current?.list() ?? [])) this.set({ node }, ready);
    },
  });
  return sources;
});

/**
 * Makes `nodes` what shoal_node_ready reads in `registry`. The health controller is built again
 * after a lost leadership, on the same shared informer: the last one given is read.
 */
export function exportNodeReadiness(registry: Registry, nodes: NodeSource): void {
  gauge(registry).current = nodes;
}
