/**
 * The scheduling cycle as kube-scheduler's framework shapes it (pkg/scheduler/framework):
 * filter plugins say whether a node can take the VM (and why not); score plugins rank the
 * nodes that can; the best score wins, ties going to the earlier node in the order given
 * (buildNodeInfos sorts by name, so the result is deterministic). Pure functions only: no I/O,
 * no clock, so a decision can be benchmarked and tested on plain objects.
 */
import type { NodeInfo } from './node-info.js';
import type { VirtualMachine } from './types.js';

export type FilterResult = { ok: true } | { ok: false; reason: string };

export interface FilterPlugin {
  name: string;
  /** Whether `node` can take `vm`; when not, a reason phrased for "N <reason>" ("insufficient memory"). */
  filter(vm: VirtualMachine, node: NodeInfo): FilterResult;
}

export interface ScorePlugin {
  name: string;
  /** Multiplies the plugin's score; default 1. */
  weight?: number;
  /** Higher is better. Only nodes that passed every filter are scored. */
  score(vm: VirtualMachine, node: NodeInfo): number;
}

export interface Profile {
  filters: FilterPlugin[];
  scores: ScorePlugin[];
}

export type ScheduleResult =
  | { ok: true; nodeName: string; feasibleNodes: number }
  | {
      ok: false;
      /** `0/3 nodes are available: 2 insufficient memory, 1 node(s) not ready.` */
      message: string;
      /** How many nodes each reason ruled out (one reason per node: the first filter that failed). */
      reasons: Record<string, number>;
    };

export const FILTER_OK: FilterResult = Object.freeze({ ok: true });

/** Where the VM should go, or why it can go nowhere. */
export function schedule(vm: VirtualMachine, nodes: readonly NodeInfo[], profile: Profile): ScheduleResult {
  const reasons: Record<string, number> = {};
  let best: NodeInfo | undefined;
  let bestScore = -Infinity;
  let feasible = 0;
  for (const node of nodes) {
    const why = firstFailure(vm, node, profile.filters);
    if (why !== undefined) {
      reasons[why] = (reasons[why] ?? 0) + 1;
      continue;
    }
    feasible++;
    let score = 0;
    for (const p of profile.scores) score += (p.weight ?? 1) * p.score(vm, node);
    if (score > bestScore) {
      best = node;
      bestScore = score;
    }
  }
  if (best) return { ok: true, nodeName: best.name, feasibleNodes: feasible };
  return { ok: false, message: unschedulableMessage(nodes.length, reasons), reasons };
}

function firstFailure(vm: VirtualMachine, node: NodeInfo, filters: FilterPlugin[]): string | undefined {
  for (const f of filters) {
    const r = f.filter(vm, node);
    if (!r.ok) return r.reason;
  }
  return undefined;
}

/**
 * Kubernetes' FitError wording: `0/N nodes are available: <count> <reason>, ...`, the most
 * common reason first, equal counts in alphabetical order.
 */
export function unschedulableMessage(totalNodes: number, reasons: Record<string, number>): string {
  const parts = Object.entries(reasons)
    .sort(([ra, a], [rb, b]) => b - a || (ra < rb ? -1 : ra > rb ? 1 : 0))
    .map(([reason, n]) => `${n} ${reason}`);
  if (totalNodes === 0) return '0/0 nodes are available: no nodes are registered.';
  return `0/${totalNodes} nodes are available: ${parts.join(', ')}.`;
}
