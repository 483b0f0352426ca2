/** NodeReady: only nodes whose agent reports Ready=True take VMs. */
import { FILTER_OK, refusal, type FilterPlugin } from '../framework.js';

export const NOT_READY = 'node(s) not ready';
const NOT_READY_RESULT = refusal(NOT_READY);

export const nodeReady: FilterPlugin = {
  name: 'NodeReady',
  filter: (_vm, node) => (node.ready ? FILTER_OK : NOT_READY_RESULT),
};
