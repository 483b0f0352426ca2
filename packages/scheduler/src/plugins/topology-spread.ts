/**
 * TopologySpread (kube's PodTopologySpread) over spec.topologySpreadConstraints: VMs a
 * constraint selects (same namespace) stay evenly spread across the domains of its
 * topologyKey. The domains considered are those of the nodes the VM may go to at all (its
 * nodeSelector and required node affinity); an empty domain counts as 0.
 *
 *   DoNotSchedule   filter: placing the VM in domain d must keep
 *                   count(d) + (1 if the VM matches the selector) − min over domains ≤ maxSkew;
 *                   a node without the label cannot take the VM
 *   ScheduleAnyway  score: fewer selected VMs in the node's domain is better
 */
import { matchesSelector, selectorFromObject } from '@shoal/api';
import type { NodeInfo } from '../cluster-state.js';
import { FILTER_OK, normalizeReverse, refusal, type CycleState, type FilterPlugin, type ScorePlugin } from '../framework.js';
import { domainOf } from '../topology.js';
import type { TopologySpreadConstraint, VirtualMachine } from '@shoal/api';
import { nodeAffinity } from './node-affinity.js';
import { nodeSelector } from './node-selector.js';

export const SPREAD_MISMATCH = "node(s) didn't match VM topology spread constraints";
export const SPREAD_MISSING_LABEL = "node(s) didn't match VM topology spread constraints (missing required label)";

const MISSING_LABEL_RESULT = refusal(SPREAD_MISSING_LABEL);
const MISMATCH_RESULT = refusal(SPREAD_MISMATCH);

interface ConstraintView {
  constraint: TopologySpreadConstraint;
  /** Selected VMs per eligible domain (every eligible domain present, maybe with 0). */
  counts: Map<string, number>;
  min: number;
  max: number;
  /** 1 when the VM being placed is one of the VMs the constraint selects. */
  self: number;
}

const hardConstraint = (c: TopologySpreadConstraint) => c.whenUnsatisfiable === 'DoNotSchedule';
const hasNodeConstraints = (vm: VirtualMachine) => Boolean(Object.keys(vm.spec.nodeSelector ?? {}).length || vm.spec.affinity?.nodeAffinity?.required?.length);

const views = (vm: VirtualMachine, cycle: CycleState) => cycle.memo(constraintViews, vm);

function constraintViews(vm: VirtualMachine, cycle: CycleState): ConstraintView[] {
  const constrained = hasNodeConstraints(vm);
  const eligible = (info: NodeInfo | undefined): info is NodeInfo =>
    info !== undefined && (!constrained || (nodeSelector.filter(vm, info, cycle).ok && nodeAffinity.filter(vm, info, cycle).ok));
  return (vm.spec.topologySpreadConstraints ?? []).map((constraint) => {
    const counts = new Map<string, number>();
    for (const [domain, nodeNames] of cycle.cluster.domains(constraint.topologyKey)) {
      if (!constrained || nodeNames.some((n) => eligible(cycle.cluster.nodeInfo(n)))) counts.set(domain, 0);
    }
    // A constraint without a selector selects no VMs (Kubernetes' semantics), so it constrains nothing.
    const selector = constraint.labelSelector ? selectorFromObject(constraint.labelSelector) : undefined;
    if (selector) {
      for (const p of cycle.cluster.placedMatching(vm.metadata.namespace, selector)) {
        const info = cycle.cluster.nodeInfo(p.nodeName);
        if (!eligible(info)) continue;
        const domain = domainOf(info.node, constraint.topologyKey);
        if (domain !== undefined && counts.has(domain)) counts.set(domain, counts.get(domain)! + 1);
      }
    }
    let min = Infinity;
    let max = 0;
    for (const n of counts.values()) {
      if (n < min) min = n;
      if (n > max) max = n;
    }
    const self = selector && matchesSelector(selector, vm.metadata.labels) ? 1 : 0;
    return { constraint, counts, min: min === Infinity ? 0 : min, max, self };
  });
}

export const topologySpread: FilterPlugin & ScorePlugin = {
  name: 'TopologySpread',
  skips: (vm) => !vm.spec.topologySpreadConstraints?.some(hardConstraint),
  filter(vm, node, cycle) {
    if (!vm.spec.topologySpreadConstraints?.length) return FILTER_OK;
    for (const v of views(vm, cycle)) {
      if (!hardConstraint(v.constraint)) continue;
      const domain = domainOf(node.node, v.constraint.topologyKey);
      if (domain === undefined) return MISSING_LABEL_RESULT;
      if ((v.counts.get(domain) ?? 0) + v.self - v.min > v.constraint.maxSkew) return MISMATCH_RESULT;
    }
    return FILTER_OK;
  },
  score(vm, node, cycle) {
    let sum = 0;
    for (const v of views(vm, cycle)) {
      if (hardConstraint(v.constraint)) continue;
      const domain = domainOf(node.node, v.constraint.topologyKey);
      // A node outside every domain is the worst place for a VM that wants to be spread.
      sum += domain === undefined ? v.max + 1 : (v.counts.get(domain) ?? 0);
    }
    return sum;
  },
  normalize: normalizeReverse,
  weight: 2,
  appliesTo: (vm) => Boolean(vm.spec.topologySpreadConstraints?.some((c) => !hardConstraint(c))),
};
