/**
 * TaintToleration, as kube-scheduler's plugin of that name: a node taint with effect
 * NoSchedule or NoExecute that none of the VM's tolerations tolerates rules the node out;
 * PreferNoSchedule taints only lower the node's score (one point per untolerated taint).
 */
import { FILTER_OK, normalizeReverse, type FilterPlugin, type ScorePlugin } from '../framework.js';
import type { Taint, Toleration } from '@shoal/api';

/** Kubernetes' wording, `node(s) had untolerated taint {key: value}`, for the first such taint. */
export function untoleratedTaintReason(taint: Taint): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
}

/**
 * k8s.io/api/core/v1 Toleration.ToleratesTaint: an empty effect matches every effect, an
 * empty key (only valid with Exists) matches every key; Exists matches any value, Equal (the
 * default) needs the values equal.
 */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator) {
    case 'Exists':
      return true;
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** The first taint in `taints` that passes `include` and that no toleration tolerates. */
export function findUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[], include: (t: Taint) => boolean): Taint | undefined {
  for (const taint of taints) {
    if (!include(taint)) continue;
    if (!tolerations.some((t) => toleratesTaint(t, taint))) return taint;
  }
  return undefined;
}

const hardEffect = (t: Taint) => t.effect === 'NoSchedule' || t.effect === 'NoExecute';

export const taintToleration: FilterPlugin & ScorePlugin = {
  name: 'TaintToleration',
  filter(vm, node) {
    if (node.taints.length === 0) return FILTER_OK;
    const taint = findUntoleratedTaint(node.taints, vm.spec.tolerations ?? [], hardEffect);
    return taint ? { ok: false, reason: untoleratedTaintReason(taint) } : FILTER_OK;
  },
  score(vm, node) {
    if (node.taints.length === 0) return 0;
    // As Kubernetes: only tolerations that could apply to PreferNoSchedule count here.
    const tolerations = (vm.spec.tolerations ?? []).filter((t) => !t.effect || t.effect === 'PreferNoSchedule');
    let untolerated = 0;
    for (const taint of node.taints) {
      if (taint.effect === 'PreferNoSchedule' && !tolerations.some((t) => toleratesTaint(t, taint))) untolerated++;
    }
    return untolerated;
  },
  // Fewer untolerated PreferNoSchedule taints is better (kube's reverse normalisation).
  normalize: normalizeReverse,
  weight: 3,
};
