/** NodeReady: only nodes whose agent reports Ready=True take VMs. */
import { FILTER_OK, type FilterPlugin } from '../framework.js';

export const NOT_READY = 'node(s) not ready';

export const nodeReady: FilterPlugin = {
  name: 'NodeReady',
  filter(_vm, { node }) {
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' ? FILTER_OK : { ok: false, reason: NOT_READY };
  },
};
