/**
 * ResourceAllocation scores a node by how full it would be with the VM, per its PlacementPolicy:
 * BinPack prefers the fullest node (fewer hosts busy, whole hosts left free for big VMs),
 * Spread the emptiest (kube's MostAllocated and LeastAllocated). Fullness is the mean of the
 * vCPU and memory fractions of the node's room, each capped at 1.
 */
import type { ScorePlugin } from '../framework.js';
import { vmRequest } from '../resources.js';

const fraction = (used: number, room: number) => (room > 0 ? Math.min(1, used / room) : 1);

export const resourceAllocation: ScorePlugin = {
  name: 'ResourceAllocation',
  score(vm, node) {
    const want = vmRequest(vm);
    const full = (fraction(node.requested.vcpus + want.vcpus, node.room.vcpus) + fraction(node.requested.memoryMiB + want.memoryMiB, node.room.memoryMiB)) / 2;
    return 100 * (node.policy.scoring === 'Spread' ? 1 - full : full);
  },
};
