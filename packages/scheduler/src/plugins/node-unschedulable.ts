/** NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new VMs. */
import { FILTER_OK, type FilterPlugin } from '../framework.js';

export const UNSCHEDULABLE = 'node(s) were unschedulable';

export const nodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  filter(_vm, { node }) {
    return node.spec?.unschedulable ? { ok: false, reason: UNSCHEDULABLE } : FILTER_OK;
  },
};
