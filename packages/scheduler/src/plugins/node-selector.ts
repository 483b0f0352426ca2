/** NodeSelector: every label in the VM's spec.nodeSelector must be on the node with that value. */
import { FILTER_OK, refusal, type FilterPlugin } from '../framework.js';

export const SELECTOR_MISMATCH = "node(s) didn't match the VM's node selector";
const MISMATCH_RESULT = refusal(SELECTOR_MISMATCH);

export const nodeSelector: FilterPlugin = {
  name: 'NodeSelector',
  skips: (vm) => !vm.spec.nodeSelector || Object.keys(vm.spec.nodeSelector).length === 0,
  filter(vm, { node }) {
    const labels = node.metadata.labels ?? {};
    const wanted = vm.spec.nodeSelector ?? {};
    for (const key in wanted) if (!Object.hasOwn(labels, key) || labels[key] !== wanted[key]) return MISMATCH_RESULT;
    return FILTER_OK;
  },
};
