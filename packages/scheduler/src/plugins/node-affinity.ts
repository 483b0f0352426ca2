/**
 * NodeAffinity, as kube-scheduler's plugin of that name, over spec.affinity.nodeAffinity
 * (schemas/meta/node-affinity.json): `required` is a list of label selectors, ORed, one of
 * which the node's labels must match; each `preferred` entry whose selector matches adds its
 * weight to the node's score. An absent or empty `required` list constrains nothing; an empty
 * selector matches every node (label-selector semantics).
 */
import { matchesSelector, selectorFromObject, type LabelSelectorObject, type Selector } from '@shoal/api';
import { FILTER_OK, normalizeToMax, refusal, type FilterPlugin, type ScorePlugin } from '../framework.js';

export const NODE_AFFINITY_MISMATCH = "node(s) didn't match VM's node affinity/selector";
const MISMATCH_RESULT = refusal(NODE_AFFINITY_MISMATCH);

/** Each selector of a VM parsed once, not once per node a decision walks. */
const parsed = new WeakMap<LabelSelectorObject, Selector>();
function selector(s: LabelSelectorObject): Selector {
  let sel = parsed.get(s);
  if (!sel) parsed.set(s, (sel = selectorFromObject(s)));
  return sel;
}

export const nodeAffinity: FilterPlugin & ScorePlugin = {
  name: 'NodeAffinity',
  skips: (vm) => !vm.spec.affinity?.nodeAffinity?.required?.length,
  filter(vm, { node }) {
    const required = vm.spec.affinity?.nodeAffinity?.required;
    if (!required || required.length === 0) return FILTER_OK;
    const labels = node.metadata.labels ?? {};
    for (const s of required) if (matchesSelector(selector(s), labels)) return FILTER_OK;
    return MISMATCH_RESULT;
  },
  score(vm, { node }) {
    const preferred = vm.spec.affinity?.nodeAffinity?.preferred;
    if (!preferred) return 0;
    const labels = node.metadata.labels ?? {};
    let sum = 0;
    for (const p of preferred) if (matchesSelector(selector(p.selector), labels)) sum += p.weight;
    return sum;
  },
  normalize: normalizeToMax,
  weight: 2,
  appliesTo: (vm) => Boolean(vm.spec.affinity?.nodeAffinity?.preferred?.length),
};
