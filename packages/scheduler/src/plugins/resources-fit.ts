/**
 * ResourcesFit: the VM's vCPUs and memory fit in what the node can give (allocatable) minus
 * what the VMs already there hold (NodeInfo.requested: bound and assumed VMs; see
 * resources.ts for which of them hold room). No overcommit yet (issue 4: PlacementPolicy).
 */
import { FILTER_OK, type FilterPlugin } from '../framework.js';
import { vmRequest } from '../resources.js';

export const INSUFFICIENT_VCPUS = 'insufficient vcpus';
export const INSUFFICIENT_MEMORY = 'insufficient memory';

export const resourcesFit: FilterPlugin = {
  name: 'ResourcesFit',
  filter(vm, info) {
    const want = vmRequest(vm);
    if (info.requested.vcpus + want.vcpus > info.allocatable.vcpus) return { ok: false, reason: INSUFFICIENT_VCPUS };
    if (info.requested.memoryMiB + want.memoryMiB > info.allocatable.memoryMiB) return { ok: false, reason: INSUFFICIENT_MEMORY };
    return FILTER_OK;
  },
};
