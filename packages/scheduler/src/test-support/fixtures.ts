/** Plain Node and VirtualMachine objects for the scheduler's unit tests, and a one-node filter check. */
import { ClusterState, type NodeInfo } from '../cluster-state.js';
import { CycleState, type FilterPlugin, type FilterResult } from '../framework.js';
import {
  withDefaults,
  type Manifest,
  type Node,
  type PlacementPolicy,
  type PlacementPolicySpec,
  type RunStrategy,
  type VirtualMachine,
  type VirtualMachineSpec,
  type VmPhase,
} from '@shoal/api';

export interface NodeOpts {
  ready?: 'True' | 'False' | 'Unknown' | null;
  unschedulable?: boolean;
  vcpus?: number;
  memoryMiB?: number;
  labels?: Record<string, string>;
}

export function node(name: string, o: NodeOpts = {}): Node {
  return withDefaults('Node', {
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: { unschedulable: o.unschedulable ?? false },
    status: {
      allocatable: { vcpus: o.vcpus ?? 4, memoryMiB: o.memoryMiB ?? 4096 },
      conditions: o.ready === null ? [] : [{ type: 'Ready', status: o.ready ?? 'True' }],
    },
  });
}

export interface VmOpts {
  vcpus?: number;
  memoryMiB?: number;
  nodeName?: string;
  phase?: VmPhase;
  runStrategy?: RunStrategy;
  deleting?: boolean;
  selector?: Record<string, string>;
  rv?: string;
  labels?: Record<string, string>;
  namespace?: string;
  priority?: number;
  spec?: Manifest<VirtualMachineSpec>;
  status?: VirtualMachine['status'];
}

export function vm(name: string, o: VmOpts = {}): VirtualMachine {
  return withDefaults('VirtualMachine', {
    metadata: {
      name,
      namespace: o.namespace ?? 'default',
      uid: `uid-${name}`,
      resourceVersion: o.rv ?? '1',
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: {
      runStrategy: o.runStrategy ?? 'Always',
      resources: { vcpus: o.vcpus ?? 1, memoryMiB: o.memoryMiB ?? 256 },
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.selector ? { nodeSelector: o.selector } : {}),
      ...(o.priority !== undefined ? { priority: o.priority } : {}),
      ...o.spec,
    },
    ...(o.phase || o.status ? { status: { ...(o.phase ? { phase: o.phase } : {}), ...o.status } } : {}),
  });
}

export function policy(name: string, spec: Manifest<PlacementPolicySpec>): PlacementPolicy {
  return withDefaults('PlacementPolicy', { metadata: { name }, spec });
}

/** The NodeInfo of `n` in a cluster of just that node and `vms`. */
export function info(n: Node, vms: VirtualMachine[] = [], policies: PlacementPolicy[] = []): NodeInfo {
  return ClusterState.from([n], vms, policies).nodeInfo(n.metadata.name!)!;
}

/** `plugin`'s verdict on node `n` for `v`, with `vms` placed in the cluster. */
export function check(plugin: FilterPlugin, v: VirtualMachine, n: Node, vms: VirtualMachine[] = [], policies: PlacementPolicy[] = []): FilterResult {
  const cluster = ClusterState.from([n], vms, policies);
  return plugin.filter(v, cluster.nodeInfo(n.metadata.name!)!, new CycleState(cluster));
}
