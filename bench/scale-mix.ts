/**
 * The VMs the scale benchmark schedules: a fixed, seeded mix of plain VMs, anti-affinity groups
 * (one member per zone, or per host) and topology-spread groups (even over the zones), spread
 * over a few namespaces and shuffled so the scheduler meets every kind all the way through.
 * Pure: the same arguments give the same VMs.
 */

import { HOSTNAME_LABEL, ZONE_LABEL } from '@shoal/api';

/** Which part of the mix a VM belongs to, as a label, for the report and the checks. */
export const MIX_LABEL = 'bench.shoal.dev/mix';
export const VM_VCPUS = 1;
export const VM_MEMORY_MIB = 512;

export type MixKind = 'plain' | 'antiAffinityZone' | 'antiAffinityHost' | 'spreadZone';

export interface VmGroup {
  namespace: string;
  /** The `app` label every member carries and every member's selector matches. */
  app: string;
  kind: Exclude<MixKind, 'plain'>;
  topologyKey: string;
  /** Spread groups only. */
  maxSkew?: number;
  size: number;
}

export interface PlannedVm {
  namespace: string;
  name: string;
  kind: MixKind;
  group?: VmGroup;
}

export interface MixOptions {
  vms: number;
  namespaces: string[];
  /** Zones that have nodes: an anti-affinity group over zones has at most this many members. */
  zones: number;
  nodes: number;
  /** Fractions of all VMs; the rest are plain. */
  antiAffinityFraction?: number;
  spreadFraction?: number;
  seed?: number;
}

export interface Mix {
  vms: PlannedVm[];
  groups: VmGroup[];
  counts: Record<MixKind, number>;
}

/** mulberry32: a small seeded PRNG, so every run schedules the same VMs in the same order. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Anti-affinity groups over zones: 5 to 9 members, never more than there are zones. */
const ZONE_GROUP_SIZES = [9, 7, 5, 8, 6];
/** Anti-affinity groups over hosts: one member per node. */
const HOST_GROUP_SIZES = [8, 12, 10];
/** Spread groups: sizes that do and do not divide evenly over 9 zones. */
const SPREAD_GROUP_SIZES = [20, 27, 30, 36, 14];

export function planMix(o: MixOptions): Mix {
  const antiTarget = Math.round(o.vms * (o.antiAffinityFraction ?? 0.15));
  const spreadTarget = Math.round(o.vms * (o.spreadFraction ?? 0.15));
  const groups: VmGroup[] = [];
  let g = 0;
  const addGroup = (kind: VmGroup['kind'], size: number, topologyKey: string, maxSkew?: number) => {
    const namespace = o.namespaces[g % o.namespaces.length]!;
    const prefix = { antiAffinityZone: 'anti-zone', antiAffinityHost: 'anti-host', spreadZone: 'spread-zone' }[kind];
    groups.push({ namespace, app: `${prefix}-${String(g).padStart(4, '0')}`, kind, topologyKey, size, ...(maxSkew ? { maxSkew } : {}) });
    g++;
  };

  // Anti-affinity: alternately over zones and over hosts, until about 15 % of the VMs.
  let anti = 0;
  for (let k = 0; anti < antiTarget; k++) {
    const byZone = k % 2 === 0;
    const cap = byZone ? o.zones : o.nodes;
    const size = Math.min(
      antiTarget - anti,
      cap,
      (byZone ? ZONE_GROUP_SIZES : HOST_GROUP_SIZES)[Math.floor(k / 2) % (byZone ? ZONE_GROUP_SIZES.length : HOST_GROUP_SIZES.length)]!,
    );
    if (size < 1) break;
    addGroup(byZone ? 'antiAffinityZone' : 'antiAffinityHost', size, byZone ? ZONE_LABEL : HOSTNAME_LABEL);
    anti += size;
  }
  let spread = 0;
  for (let k = 0; spread < spreadTarget; k++) {
    const size = Math.min(spreadTarget - spread, SPREAD_GROUP_SIZES[k % SPREAD_GROUP_SIZES.length]!);
    addGroup('spreadZone', size, ZONE_LABEL, 1);
    spread += size;
  }

  const unnamed: Omit<PlannedVm, 'name'>[] = [];
  for (const group of groups) for (let m = 0; m < group.size; m++) unnamed.push({ namespace: group.namespace, kind: group.kind, group });
  const plain = o.vms - unnamed.length;
  for (let i = 0; i < plain; i++) unnamed.push({ namespace: o.namespaces[i % o.namespaces.length]!, kind: 'plain' });

  // Fisher–Yates with the seeded generator; names follow the shuffled order, so the scheduler
  // (which meets VMs roughly in name order) sees the kinds mixed from first to last.
  const rnd = random(o.seed ?? 42);
  for (let i = unnamed.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [unnamed[i], unnamed[j]] = [unnamed[j]!, unnamed[i]!];
  }
  const vms = unnamed.map((v, i) => ({ ...v, name: `vm-${String(i).padStart(6, '0')}` }));
  const counts: Record<MixKind, number> = { plain: 0, antiAffinityZone: 0, antiAffinityHost: 0, spreadZone: 0 };
  for (const v of vms) counts[v.kind]++;
  return { vms, groups, counts };
}

/** The body of the create request for one planned VM. */
export function scaleVmBody(v: PlannedVm): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    runStrategy: 'Always',
    resources: { vcpus: VM_VCPUS, memoryMiB: VM_MEMORY_MIB },
    command: ['sh', '-c', 'echo hello from $(hostname); sleep infinity'],
    network: { mode: 'user' },
  };
  const g = v.group;
  if (g && (g.kind === 'antiAffinityZone' || g.kind === 'antiAffinityHost')) {
    spec.affinity = { vmAntiAffinity: { required: [{ labelSelector: { matchLabels: { app: g.app } }, topologyKey: g.topologyKey }] } };
  } else if (g) {
    spec.topologySpreadConstraints = [
      { maxSkew: g.maxSkew ?? 1, topologyKey: g.topologyKey, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: g.app } } },
    ];
  }
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: {
      name: v.name,
      namespace: v.namespace,
      labels: { app: g?.app ?? 'plain', [MIX_LABEL]: v.kind, tier: 'bench', 'shoal.dev/owner': 'team-platform' },
    },
    spec,
  };
}
