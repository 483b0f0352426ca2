/**
 * A node as the filters see it: the Node object, what it can give (allocatable) and what the
 * VMs on it already hold (requested) — bound VMs from the informer plus assumed ones.
 */
import { objectKey } from '@shoal/api';
import type { AssumeCache } from './assume-cache.js';
import { addResources, holdsResources, NO_RESOURCES, vmRequest } from './resources.js';
import type { Node, Resources, VirtualMachine } from './types.js';

export interface NodeInfo {
  name: string;
  node: Node;
  /** What VMs may use: status.allocatable, else status.capacity, else nothing. */
  allocatable: Resources;
  /** The sum of what the VMs holding room on this node asked for. */
  requested: Resources;
  /** Keys of the VMs counted in `requested`. */
  vms: string[];
}

export function allocatableOf(node: Node): Resources {
  const a = node.status?.allocatable ?? node.status?.capacity;
  return { vcpus: a?.vcpus ?? 0, memoryMiB: a?.memoryMiB ?? 0 };
}

export function newNodeInfo(node: Node): NodeInfo {
  return { name: node.metadata.name!, node, allocatable: allocatableOf(node), requested: { ...NO_RESOURCES }, vms: [] };
}

/**
 * One NodeInfo per node, sorted by name (the order first fit walks). A VM counts on the node
 * its spec names, or, while unbound in `vms`, on the node it is assumed on.
 */
export function buildNodeInfos(nodes: Iterable<Node>, vms: Iterable<VirtualMachine>, assumed?: AssumeCache): NodeInfo[] {
  const infos = new Map<string, NodeInfo>();
  for (const node of nodes) if (node.metadata.name) infos.set(node.metadata.name, newNodeInfo(node));
  for (const vm of vms) {
    const nodeName = vm.spec.nodeName || assumed?.nodeFor(vm);
    if (!nodeName || !holdsResources(vm)) continue;
    const info = infos.get(nodeName);
    if (!info) continue; // bound to a node that is gone: it holds nothing anywhere we could place
    info.requested = addResources(info.requested, vmRequest(vm));
    info.vms.push(objectKey(vm.metadata));
  }
  return [...infos.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
