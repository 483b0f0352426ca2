/** What a VM asks for, and which VMs hold what they asked for on their node. */
import type { Resources, VirtualMachine } from './types.js';

/** The schema's defaults (1 vCPU, 256 MiB); the apiserver fills them in, so these only cover hand-made objects. */
const DEFAULT_REQUEST: Resources = { vcpus: 1, memoryMiB: 256 };

export function vmRequest(vm: VirtualMachine): Resources {
  return {
    vcpus: vm.spec.resources?.vcpus ?? DEFAULT_REQUEST.vcpus,
    memoryMiB: vm.spec.resources?.memoryMiB ?? DEFAULT_REQUEST.memoryMiB,
  };
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

export function addResources(a: Resources, b: Resources): Resources {
  return { vcpus: a.vcpus + b.vcpus, memoryMiB: a.memoryMiB + b.memoryMiB };
}

export const NO_RESOURCES: Readonly<Resources> = Object.freeze({ vcpus: 0, memoryMiB: 0 });
