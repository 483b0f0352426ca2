/** NodeSelector: every label in the VM's spec.nodeSelector must be on the node with that value. */
import { FILTER_OK, type FilterPlugin } from '../framework.js';

export const SELECTOR_MISMATCH = "node(s) didn't match the VM's node selector";

export const nodeSelector: FilterPlugin = {
  name: 'NodeSelector',
  skips: (vm) => !vm.spec.nodeSelector || Object.keys(vm.spec.nodeSelector).length === 0,
  filter(vm, { node }) {
    const labels = node.metadata.labels ?? {};
    for (const [key, value] of Object.entries(vm.spec.nodeSelector ?? {})) {
      if (!Object.hasOwn(labels, key) || labels[key] !== value) return { ok: false, reason: SELECTOR_MISMATCH };
    }
    return FILTER_OK;
  },
};
