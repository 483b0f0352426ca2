/**
 * What the scale benchmark checks once the run is over, on the VMs and Nodes as the API lists
 * them: every VM bound to a node that exists and Running, no node holding more than its
 * allocatable, every anti-affinity group on distinct domains, every spread group within maxSkew.
 * Pure, so it can be read (and tried) on plain objects.
 */
import type { Node, VirtualMachine } from '@shoal/api';
import type { VmGroup } from './scale-mix.js';

export interface Verification {
  ok: boolean;
  vms: number;
  expectedVms: number;
  unbound: number;
  boundToUnknownNode: number;
  notRunning: number;
  /** Phases of the VMs that are not Running, counted. */
  phasesNotRunning: Record<string, number>;
  overcommittedNodes: number;
  antiAffinityGroups: number;
  /** Groups with two bound members in one domain of their topology key. */
  antiAffinityViolations: number;
  spreadGroups: number;
  /** Groups whose member count per domain varies by more than maxSkew. */
  spreadViolations: number;
  /** Largest skew seen in any spread group. */
  worstSpreadSkew: number;
  /** Up to ten lines, one per problem found, for the human reading the report. */
  samples: string[];
}

const MAX_SAMPLES = 10;

export function verifyPlacement(vms: VirtualMachine[], nodes: Node[], groups: VmGroup[], expectedVms: number): Verification {
  const samples: string[] = [];
  const note = (s: string) => void (samples.length < MAX_SAMPLES && samples.push(s));
  const nodeByName = new Map(nodes.map((n) => [n.metadata.name, n]));
  const used = new Map<string, { vcpus: number; memoryMiB: number }>();
  let unbound = 0;
  let boundToUnknownNode = 0;
  let notRunning = 0;
  const phasesNotRunning: Record<string, number> = {};
  const byGroup = new Map<string, VirtualMachine[]>();

  for (const vm of vms) {
    const key = `${vm.metadata.namespace}/${vm.metadata.name}`;
    const phase = vm.status?.phase ?? '(none)';
    if (phase !== 'Running') {
      notRunning++;
      phasesNotRunning[phase] = (phasesNotRunning[phase] ?? 0) + 1;
    }
    const app = vm.metadata.labels?.app;
    if (app) {
      const gk = `${vm.metadata.namespace}/${app}`;
      (byGroup.get(gk) ?? byGroup.set(gk, []).get(gk)!).push(vm);
    }
    const nodeName = vm.spec.nodeName;
    if (!nodeName) {
      unbound++;
      continue;
    }
    if (!nodeByName.has(nodeName)) {
      boundToUnknownNode++;
      note(`${key} is bound to ${nodeName}, which is not a node`);
      continue;
    }
    const u = used.get(nodeName) ?? { vcpus: 0, memoryMiB: 0 };
    u.vcpus += vm.spec.resources?.vcpus ?? 1;
    u.memoryMiB += vm.spec.resources?.memoryMiB ?? 256;
    used.set(nodeName, u);
  }
  if (unbound) note(`${unbound} VMs have no spec.nodeName`);
  if (notRunning) note(`${notRunning} VMs are not Running: ${JSON.stringify(phasesNotRunning)}`);

  let overcommittedNodes = 0;
  for (const [name, u] of used) {
    const a = nodeByName.get(name)!.status?.allocatable ?? {};
    if (u.vcpus > (a.vcpus ?? 0) || u.memoryMiB > (a.memoryMiB ?? 0)) {
      overcommittedNodes++;
      note(`node ${name} holds ${u.vcpus} vCPUs / ${u.memoryMiB} MiB, allocatable ${a.vcpus} / ${a.memoryMiB}`);
    }
  }

  const domainOf = (nodeName: string | undefined, key: string) => (nodeName ? nodeByName.get(nodeName)?.metadata.labels?.[key] : undefined);
  let antiAffinityGroups = 0;
  let antiAffinityViolations = 0;
  let spreadGroups = 0;
  let spreadViolations = 0;
  let worstSpreadSkew = 0;
  for (const g of groups) {
    const members = (byGroup.get(`${g.namespace}/${g.app}`) ?? []).filter((vm) => vm.spec.nodeName && nodeByName.has(vm.spec.nodeName));
    if (g.kind === 'spreadZone') {
      spreadGroups++;
      // Every domain that has a node counts, empty ones too (they are where the minimum is).
      const counts = new Map<string, number>();
      for (const n of nodes) {
        const d = n.metadata.labels?.[g.topologyKey];
        if (d !== undefined) counts.set(d, 0);
      }
      for (const vm of members) {
        const d = domainOf(vm.spec.nodeName, g.topologyKey);
        if (d !== undefined) counts.set(d, (counts.get(d) ?? 0) + 1);
      }
      const values = [...counts.values()];
      const skew = values.length ? Math.max(...values) - Math.min(...values) : 0;
      worstSpreadSkew = Math.max(worstSpreadSkew, skew);
      if (skew > (g.maxSkew ?? 1)) {
        spreadViolations++;
        note(`spread group ${g.namespace}/${g.app}: skew ${skew} > maxSkew ${g.maxSkew} over ${g.topologyKey} (${JSON.stringify(Object.fromEntries(counts))})`);
      }
    } else {
      antiAffinityGroups++;
      const seen = new Map<string, string>();
      let clash: string | undefined;
      for (const vm of members) {
        const d = domainOf(vm.spec.nodeName, g.topologyKey) ?? `(node ${vm.spec.nodeName} has no ${g.topologyKey})`;
        if (seen.has(d)) clash ??= `${seen.get(d)} and ${vm.metadata.name} share ${g.topologyKey}=${d}`;
        seen.set(d, vm.metadata.name!);
      }
      if (clash) {
        antiAffinityViolations++;
        note(`anti-affinity group ${g.namespace}/${g.app}: ${clash}`);
      }
    }
  }

  return {
    ok: vms.length === expectedVms && !unbound && !boundToUnknownNode && !notRunning && !overcommittedNodes && !antiAffinityViolations && !spreadViolations,
    vms: vms.length,
    expectedVms,
    unbound,
    boundToUnknownNode,
    notRunning,
    phasesNotRunning,
    overcommittedNodes,
    antiAffinityGroups,
    antiAffinityViolations,
    spreadGroups,
    spreadViolations,
    worstSpreadSkew,
    samples,
  };
}
