/**
 * HostPorts: a VM that publishes ports (spec.ports) goes only to a node where no VM placed there
 * publishes the same host port and protocol (kube-scheduler's NodePorts). The ports cannot
 * change after creation, so what is placed stays free of clashes.
 */
import type { VirtualMachine } from '@shoal/api';
import { FILTER_OK, type FilterPlugin } from '../framework.js';

const published = (vm: VirtualMachine) => (vm.spec.ports ?? []).map((p) => `${p.protocol ?? 'TCP'}/${p.hostPort}`);

export const hostPorts: FilterPlugin = {
  name: 'HostPorts',
  skips: (vm) => !vm.spec.ports?.length,
  filter(vm, node) {
    const wanted = published(vm);
    if (!wanted.length) return FILTER_OK;
    for (const placed of node.vms.values()) {
      if (placed.vm.metadata.uid === vm.metadata.uid) continue;
      const taken = published(placed.vm).find((p) => wanted.includes(p));
      if (taken) return { ok: false, reason: `node(s) didn't have free host port ${taken} (published by ${placed.key})` };
    }
    return FILTER_OK;
  },
};
