/** NodeReady: only nodes whose agent reports Ready=True take VMs. */
import { FILTER_OK, type FilterPlugin } from '../framework.js';

export const NOT_READY = 'node(s) not ready';
const NOT_READY_RESULT = { ok: false, reason: NOT_READY } as const;

export const nodeReady: FilterPlugin = {
  name: 'NodeReady',
  filter: (_vm, node) => (node.ready ? FILTER_OK : NOT_READY_RESULT),
};
