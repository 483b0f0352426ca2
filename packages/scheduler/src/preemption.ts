/**
 * Preemption as a pure plan (kube-scheduler's DefaultPreemption, narrowed to room): for a VM no
 * node can take, find the node where evicting the fewest, least important VMs makes room, and
 * which VMs those are. Only VMs at least `minPriorityGap` below the preemptor's priority may be
 * evicted (Nomad's rule; a gap of 1 means strictly lower), so equal or higher priority is never
 * touched. Preemption frees vCPUs and memory; it never evicts to satisfy affinity or spread
 * rules — a node that fails any other filter is not a candidate.
 *
 * Per candidate node: take away every VM that may be evicted; if the VM still does not fit, the
 * node is out. Otherwise give victims back, most important first, while the VM still fits
 * (kube's "reprieve"); those not given back are the victims. VMs already being evicted count as
 * gone and are not victims again. Among candidate nodes the best has the lowest top victim
 * priority, then the lowest priority sum, then the fewest victims, then the earlier name.
 */
import { evictionRequestOf } from '@shoal/api';
import { priorityOf, type ClusterState, type PlacedVm } from './cluster-state.js';
import { CycleState, filtersToRun, firstFailure, type Profile } from './framework.js';
import { fitsOn, resourcesFit } from './plugins/resources-fit.js';
import type { VirtualMachine } from '@shoal/api';
import type { Resources } from './resources.js';

export interface PreemptionOptions {
  /** A victim's priority must be at most the preemptor's minus this (≥ 1). */
  minPriorityGap: number;
}

export interface PreemptionPlan {
  nodeName: string;
  /** VMs to evict, least important first; empty when VMs already leaving the node make room. */
  victims: PlacedVm[];
}

export type PreemptionResult = { ok: true; plan: PreemptionPlan } | { ok: false; reason: string };

const minus = (a: Resources, b: Resources): Resources => ({ vcpus: a.vcpus - b.vcpus, memoryMiB: a.memoryMiB - b.memoryMiB });
const plus = (a: Resources, b: Resources): Resources => ({ vcpus: a.vcpus + b.vcpus, memoryMiB: a.memoryMiB + b.memoryMiB });

export function mayPreempt(vm: VirtualMachine): boolean {
  return vm.spec.preemptionPolicy !== 'Never';
}

export function planPreemption(vm: VirtualMachine, cluster: ClusterState, profile: Profile, opts: PreemptionOptions): PreemptionResult {
  if (!mayPreempt(vm)) return { ok: false, reason: 'its preemptionPolicy is Never' };
  const ceiling = priorityOf(vm) - Math.max(1, opts.minPriorityGap);
  if (ceiling < 0) return { ok: false, reason: `no VM can have a priority ${Math.max(1, opts.minPriorityGap)} below its own (${priorityOf(vm)})` };
  const cycle = new CycleState(cluster);
  const otherFilters = filtersToRun(
    vm,
    profile.filters.filter((f) => f !== resourcesFit),
    cycle,
  );

  let best: PreemptionPlan | undefined;
  let bestRank: number[] | undefined;
  for (const node of cluster.nodeInfos()) {
    if (firstFailure(vm, node, otherFilters, cycle) !== undefined) continue;
    const reserved = cluster.nominatedRoom(node.name, vm);
    let held = node.requested;
    const evictable: PlacedVm[] = [];
    for (const p of node.vms.values()) {
      if (evictionRequestOf(p.vm.metadata) || p.vm.metadata.deletionTimestamp) held = minus(held, p.request);
      else if (priorityOf(p.vm) <= ceiling) evictable.push(p);
    }
    for (const p of evictable) held = minus(held, p.request);
    if (!fitsOn(vm, node, held, reserved).ok) continue;

    // Give back the most important first; ties: the bigger VM first, so fewer VMs are evicted.
    evictable.sort((a, b) => priorityOf(b.vm) - priorityOf(a.vm) || b.request.memoryMiB - a.request.memoryMiB || b.request.vcpus - a.request.vcpus);
    const victims: PlacedVm[] = [];
    for (const p of evictable) {
      const withIt = plus(held, p.request);
      if (fitsOn(vm, node, withIt, reserved).ok) held = withIt;
      else victims.push(p);
    }
    victims.reverse();
    const rank = [victims.length ? priorityOf(victims.at(-1)!.vm) : -1, victims.reduce((s, v) => s + priorityOf(v.vm), 0), victims.length];
    if (!bestRank || lexicographicallyLess(rank, bestRank)) {
      best = { nodeName: node.name, victims };
      bestRank = rank;
    }
  }
  if (!best) return { ok: false, reason: `no node has room for it even after evicting every VM of priority ${ceiling} or lower` };
  return { ok: true, plan: best };
}

function lexicographicallyLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}
