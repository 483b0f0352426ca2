/**
 * VmAffinity (kube's InterPodAffinity) over spec.affinity.vmAffinity / vmAntiAffinity: rules
 * relative to the VMs already placed in the same namespace, per failure domain (topologyKey).
 *
 * Filter:
 *   required affinity       the node's domain must hold a VM the term selects — except for the
 *                           first of a group: when no VM matches anywhere and the VM matches its
 *                           own term, any node with the label will do (as Kubernetes does)
 *   required anti-affinity  the node's domain must hold no VM the term selects
 *   existing anti-affinity  no placed VM whose required anti-affinity selects this VM may share
 *                           its domain with it (the rule binds both ways)
 * Score: each preferred term adds (affinity) or subtracts (anti-affinity) weight × the number
 * of selected VMs in the node's domain; min-max normalised.
 */
import { matchesSelector, selectorFromObject } from '@shoal/api';
import type { NodeInfo, PlacedVm } from '../cluster-state.js';
import { FILTER_OK, normalizeMinMax, refusal, type CycleState, type FilterPlugin, type FilterResult, type ScorePlugin } from '../framework.js';
import { domainOf } from '../topology.js';
import type { VirtualMachine, VmAffinityTerm } from '@shoal/api';

export const VM_AFFINITY_MISMATCH = "node(s) didn't match VM affinity rules";
export const VM_ANTI_AFFINITY_MISMATCH = "node(s) didn't match VM anti-affinity rules";
export const EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing VMs' anti-affinity rules";
const AFFINITY_MISMATCH_RESULT = refusal(VM_AFFINITY_MISMATCH);
const ANTI_AFFINITY_RESULT = refusal(VM_ANTI_AFFINITY_MISMATCH);
const EXISTING_ANTI_AFFINITY_RESULT = refusal(EXISTING_ANTI_AFFINITY);

/** Domain → how many VMs a term selects there. */
type DomainCounts = Map<string, number>;

function countByDomain(cycle: CycleState, placed: readonly PlacedVm[], topologyKey: string): DomainCounts {
  const counts: DomainCounts = new Map();
  for (const p of placed) {
    const info = cycle.cluster.nodeInfo(p.nodeName);
    const domain = info && domainOf(info.node, topologyKey);
    if (domain !== undefined) counts.set(domain, (counts.get(domain) ?? 0) + 1);
  }
  return counts;
}

const selected = (cycle: CycleState, vm: VirtualMachine, term: VmAffinityTerm) =>
  cycle.cluster.placedMatching(vm.metadata.namespace, selectorFromObject(term.labelSelector));

interface RequiredView {
  /** Per required affinity term: the domains holding a selected VM; undefined when the term may start a group anywhere. */
  affinity: { topologyKey: string; domains?: DomainCounts }[];
  /** Per topologyKey, the domains the VM must stay out of (its own anti-affinity and others' against it). */
  forbidden: { topologyKey: string; rules: { domains: Set<string>; refusal: FilterResult }[] }[];
}

const requiredView = (vm: VirtualMachine, cycle: CycleState) => cycle.memo(requiredTerms, vm);

function requiredTerms(vm: VirtualMachine, cycle: CycleState): RequiredView {
  const view: RequiredView = { affinity: [], forbidden: [] };
  for (const term of vm.spec.affinity?.vmAffinity?.required ?? []) {
    const domains = countByDomain(cycle, selected(cycle, vm, term), term.topologyKey);
    const startsGroup = domains.size === 0 && matchesSelector(selectorFromObject(term.labelSelector), vm.metadata.labels);
    view.affinity.push({ topologyKey: term.topologyKey, domains: startsGroup ? undefined : domains });
  }
  const forbid = (topologyKey: string, domains: Iterable<string>, why: FilterResult) => {
    const set = new Set(domains);
    if (set.size === 0) return;
    let byKey = view.forbidden.find((f) => f.topologyKey === topologyKey);
    if (!byKey) view.forbidden.push((byKey = { topologyKey, rules: [] }));
    byKey.rules.push({ domains: set, refusal: why });
  };
  for (const term of vm.spec.affinity?.vmAntiAffinity?.required ?? [])
    forbid(term.topologyKey, countByDomain(cycle, selected(cycle, vm, term), term.topologyKey).keys(), ANTI_AFFINITY_RESULT);
  for (const { owner, term } of cycle.cluster.antiAffinityAgainst(vm)) {
    const info = cycle.cluster.nodeInfo(owner.nodeName);
    const domain = info && domainOf(info.node, term.topologyKey);
    if (domain !== undefined) forbid(term.topologyKey, [domain], EXISTING_ANTI_AFFINITY_RESULT);
  }
  return view;
}

function filter(vm: VirtualMachine, node: NodeInfo, cycle: CycleState): FilterResult {
  const view = requiredView(vm, cycle);
  for (const a of view.affinity) {
    const domain = domainOf(node.node, a.topologyKey);
    if (domain === undefined || (a.domains && !a.domains.has(domain))) return AFFINITY_MISMATCH_RESULT;
  }
  for (const { topologyKey, rules } of view.forbidden) {
    const domain = domainOf(node.node, topologyKey);
    if (domain === undefined) continue;
    for (const r of rules) if (r.domains.has(domain)) return r.refusal;
  }
  return FILTER_OK;
}

interface PreferredTerm {
  topologyKey: string;
  /** +weight for affinity, −weight for anti-affinity. */
  weight: number;
  counts: DomainCounts;
}

const preferredView = (vm: VirtualMachine, cycle: CycleState) => cycle.memo(preferredTerms, vm);

function preferredTerms(vm: VirtualMachine, cycle: CycleState): PreferredTerm[] {
  const terms: PreferredTerm[] = [];
  for (const t of vm.spec.affinity?.vmAffinity?.preferred ?? [])
    terms.push({ topologyKey: t.topologyKey, weight: t.weight, counts: countByDomain(cycle, selected(cycle, vm, t), t.topologyKey) });
  for (const t of vm.spec.affinity?.vmAntiAffinity?.preferred ?? [])
    terms.push({ topologyKey: t.topologyKey, weight: -t.weight, counts: countByDomain(cycle, selected(cycle, vm, t), t.topologyKey) });
  return terms;
}

const hasRequired = (vm: VirtualMachine) => Boolean(vm.spec.affinity?.vmAffinity?.required?.length || vm.spec.affinity?.vmAntiAffinity?.required?.length);

export const vmAffinity: FilterPlugin & ScorePlugin = {
  name: 'VmAffinity',
  // The common VM: no rules of its own and none against it.
  skips: (vm, cycle) => !hasRequired(vm) && requiredView(vm, cycle).forbidden.length === 0,
  filter,
  score(vm, node, cycle) {
    let sum = 0;
    for (const t of preferredView(vm, cycle)) {
      const domain = domainOf(node.node, t.topologyKey);
      if (domain !== undefined) sum += t.weight * (t.counts.get(domain) ?? 0);
    }
    return sum;
  },
  normalize: normalizeMinMax,
  weight: 2,
  appliesTo: (vm) => Boolean(vm.spec.affinity?.vmAffinity?.preferred?.length || vm.spec.affinity?.vmAntiAffinity?.preferred?.length),
};
