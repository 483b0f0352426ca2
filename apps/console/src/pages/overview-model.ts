/**
 * What the overview shows, computed from the Nodes and VMs it watches: nodes grouped by their
 * topology labels (datacenter, zone, rack), each with its Ready state and the room its VMs
 * hold — counted as the scheduler counts it (@shoal/scheduler/resources) — and the number of VMs
 * in each phase.
 */
import { DATACENTER_LABEL, RACK_LABEL, ZONE_LABEL, findCondition, type Node, type VirtualMachine, type VmPhase } from '@shoal/api/browser';
import { addResources, allocatableOf, holdsResources, NO_RESOURCES, vmRequest, type Resources } from '@shoal/scheduler/resources';

/** Every phase, in the order a VM goes through them. */
export const VM_PHASES = ['Pending', 'Scheduled', 'Starting', 'Running', 'Stopping', 'Stopped', 'Failed'] as const satisfies readonly VmPhase[];
// A phase added to the schema and missing here fails to compile.
export const VM_PHASES_COMPLETE: Exclude<VmPhase, (typeof VM_PHASES)[number]> extends never ? true : never = true;

/** A node without the label is shown under this. */
export const UNLABELLED = '—';

export interface NodeSummary {
  name: string;
  /** The Ready condition's status: True, False or Unknown (no condition yet). */
  ready: string;
  readyMessage?: string;
  unschedulable: boolean;
  allocatable: Resources;
  /** What the VMs holding room on it asked for. */
  requested: Resources;
  vms: number;
}

export interface Rack {
  name: string;
  nodes: NodeSummary[];
}
export interface Zone {
  name: string;
  racks: Rack[];
}
export interface Datacenter {
  name: string;
  zones: Zone[];
}

const byName = <T extends { name: string }>(a: T, b: T) =>
  a.name === UNLABELLED ? 1 : b.name === UNLABELLED ? -1 : a.name.localeCompare(b.name, 'en', { numeric: true });

export function nodeTopology(nodes: Iterable<Node>, vms: Iterable<VirtualMachine>): Datacenter[] {
  const held = new Map<string, { requested: Resources; vms: number }>();
  for (const vm of vms) {
    const node = vm.spec?.nodeName;
    if (!node) continue;
    const h = held.get(node) ?? { requested: NO_RESOURCES, vms: 0 };
    held.set(node, { requested: holdsResources(vm) ? addResources(h.requested, vmRequest(vm)) : h.requested, vms: h.vms + 1 });
  }
  const tree = new Map<string, Map<string, Map<string, NodeSummary[]>>>();
  for (const node of nodes) {
    const labels = node.metadata.labels ?? {};
    const [dc, zone, rack] = [DATACENTER_LABEL, ZONE_LABEL, RACK_LABEL].map((l) => labels[l] || UNLABELLED) as [string, string, string];
    const ready = findCondition(node.status?.conditions, 'Ready');
    const h = held.get(node.metadata.name!) ?? { requested: NO_RESOURCES, vms: 0 };
    const summary: NodeSummary = {
      name: node.metadata.name!,
      ready: ready?.status ?? 'Unknown',
      ...(ready?.message ? { readyMessage: ready.message } : {}),
      unschedulable: Boolean(node.spec?.unschedulable),
      allocatable: allocatableOf(node),
      requested: h.requested,
      vms: h.vms,
    };
    const zones = tree.get(dc) ?? tree.set(dc, new Map()).get(dc)!;
    const racks = zones.get(zone) ?? zones.set(zone, new Map()).get(zone)!;
    (racks.get(rack) ?? racks.set(rack, []).get(rack)!).push(summary);
  }
  return [...tree]
    .map(([name, zones]) => ({
      name,
      zones: [...zones]
        .map(([name, racks]) => ({
          name,
          racks: [...racks].map(([name, nodes]) => ({ name, nodes: nodes.sort(byName) })).sort(byName),
        }))
        .sort(byName),
    }))
    .sort(byName);
}

/** How many VMs are in each phase (every phase listed, zeros too), then those with no phase yet. */
export function phaseCounts(vms: Iterable<VirtualMachine>): { phase: string; count: number }[] {
  const counts = new Map<string, number>(VM_PHASES.map((p) => [p, 0]));
  let none = 0;
  for (const vm of vms) {
    const p = vm.status?.phase;
    if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
    else none++;
  }
  const out = [...counts].map(([phase, count]) => ({ phase, count }));
  if (none) out.push({ phase: 'Unknown', count: none });
  return out;
}
