/** NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new VMs. */
import { FILTER_OK, refusal, type FilterPlugin } from '../framework.js';

export const UNSCHEDULABLE = 'node(s) were unschedulable';
const UNSCHEDULABLE_RESULT = refusal(UNSCHEDULABLE);

export const nodeUnschedulable: FilterPlugin = {
  name: 'NodeUnschedulable',
  filter: (_vm, node) => (node.unschedulable ? UNSCHEDULABLE_RESULT : FILTER_OK),
};
