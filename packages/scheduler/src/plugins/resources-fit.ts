/**
 * ResourcesFit: the VM's vCPUs and memory fit in the node's room — allocatable × the
 * PlacementPolicy's overcommit — minus what the VMs there hold (bound and assumed, see
 * cluster-state.ts) and minus what is promised to VMs of at least this VM's priority that the
 * preemptor nominated to the node.
 */
import type { NodeInfo } from '../cluster-state.js';
import { FILTER_OK, refusal, type FilterPlugin, type FilterResult } from '../framework.js';
import { NO_RESOURCES, vmRequest } from '../resources.js';
import type { VirtualMachine } from '@shoal/api';
import type { Resources } from '../resources.js';

export const INSUFFICIENT_VCPUS = 'insufficient vcpus';
export const INSUFFICIENT_MEMORY = 'insufficient memory';
const NO_VCPUS = refusal(INSUFFICIENT_VCPUS);
const NO_MEMORY = refusal(INSUFFICIENT_MEMORY);

/** Whether `vm` fits in `node`'s room on top of `held` (what is already there, however counted). */
export function fitsOn(vm: VirtualMachine, node: NodeInfo, held: Resources, reserved: Resources = NO_RESOURCES): FilterResult {
  const want = vmRequest(vm);
  if (held.vcpus + reserved.vcpus + want.vcpus > node.room.vcpus) return NO_VCPUS;
  if (held.memoryMiB + reserved.memoryMiB + want.memoryMiB > node.room.memoryMiB) return NO_MEMORY;
  return FILTER_OK;
}

export const resourcesFit: FilterPlugin = {
  name: 'ResourcesFit',
  filter: (vm, node, cycle) => fitsOn(vm, node, node.requested, cycle.cluster.nominatedRoom(node.name, vm)),
};
