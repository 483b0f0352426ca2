/**
 * What a VM asks for, what a node offers, and which VMs hold what they asked for on their node.
 * Types only from @shoal/api: the web console's bundle imports this module (`@shoal/scheduler/resources`)
 * to draw the same allocation the scheduler counts.
 */
import type { Node, VirtualMachine, VmResources } from '@shoal/api';

/** An amount of vCPUs and memory: what a VM asks for, what a node has or has left. */
export type Resources = VmResources;

export function vmRequest(vm: VirtualMachine): Resources {
  return vm.spec.resources;
}

/**
 * Whether a VM bound to a node counts against the node's allocatable. Everything bound does,
 * except a VM that is Stopped and will stay stopped: runStrategy Halted, or being deleted. A
 * stopped Manual or RerunOnFailure VM still counts: it may start again at any moment and must
 * find its room.
 */
export function holdsResources(vm: VirtualMachine): boolean {
  if (vm.status?.phase !== 'Stopped') return true;
  if (vm.spec.runStrategy === 'Halted') return false;
  if (vm.metadata.deletionTimestamp) return false;
  return true;
}

/** status.allocatable, else status.capacity, else nothing. */
export function allocatableOf(node: Node): Resources {
  const a = node.status?.allocatable ?? node.status?.capacity;
  return { vcpus: a?.vcpus ?? 0, memoryMiB: a?.memoryMiB ?? 0 };
}

export function addResources(a: Resources, b: Resources): Resources {
  return { vcpus: a.vcpus + b.vcpus, memoryMiB: a.memoryMiB + b.memoryMiB };
}

export const NO_RESOURCES: Readonly<Resources> = Object.freeze({ vcpus: 0, memoryMiB: 0 });
