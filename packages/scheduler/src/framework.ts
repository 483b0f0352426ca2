/**
 * The scheduling cycle as kube-scheduler's framework shapes it (pkg/scheduler/framework):
 * filter plugins say whether a node can take the VM (and why not); score plugins rank the
 * nodes that can, each plugin's scores normalised to 0–100 and weighted; the best total wins,
 * ties going to the earlier node by name, so a decision is deterministic. Pure functions over a
 * ClusterState: no I/O, no clock, so a decision can be benchmarked and tested on plain objects.
 */
import type { ClusterState, NodeInfo } from './cluster-state.js';
import type { VirtualMachine } from '@shoal/api';

export type FilterResult = { ok: true } | { ok: false; reason: string };

/**
 * What one decision shares between its plugins and nodes: the cluster, and a memo so a plugin
 * computes its per-VM view (kube's PreFilter state: matching VMs per domain, ...) once, not
 * once per node.
 */
export class CycleState {
  private readonly memos = new Map<ViewOf<unknown>, unknown>();
  constructor(readonly cluster: ClusterState) {}

  /**
   * compute(vm, this), worked out on the first call of the cycle. compute is a plugin's
   * module-level function, which is also the memo's key: a plugin asks node after node, and a
   * closure made at each call would be garbage made at each node.
   */
  memo<T>(compute: ViewOf<T>, vm: VirtualMachine): T {
    if (this.memos.has(compute)) return this.memos.get(compute) as T;
    const value = compute(vm, this);
    this.memos.set(compute, value);
    return value;
  }
}

/** A plugin's per-VM view of the cluster (see CycleState.memo). */
export type ViewOf<T> = (vm: VirtualMachine, cycle: CycleState) => T;

export interface FilterPlugin {
  name: string;
  /** Whether `node` can take `vm`; when not, a reason phrased for "N <reason>" ("insufficient memory"). */
  filter(vm: VirtualMachine, node: NodeInfo, cycle: CycleState): FilterResult;
  /**
   * True when the filter has nothing to check for `vm` (no node selector, no host ports, ...),
   * so it would pass every node: a decision then does not call it node by node (kube's PreFilter
   * Skip). Asked once per decision; a plugin that cannot tell leaves it out.
   */
  skips?(vm: VirtualMachine, cycle: CycleState): boolean;
}

/** One plugin's scores of the feasible nodes, in the nodes' order. */
export interface Scores {
  readonly length: number;
  [node: number]: number;
}

export interface ScorePlugin {
  name: string;
  /** Multiplies the plugin's normalised score; default 1. */
  weight?: number;
  /** A raw score; higher is better unless `normalize` says otherwise. Only feasible nodes are scored. */
  score(vm: VirtualMachine, node: NodeInfo, cycle: CycleState): number;
  /** Maps the raw scores of all feasible nodes onto 0–100, in place; without it they must already be 0–100. */
  normalize?(scores: Scores): void;
  /** Whether the plugin has anything to say about this VM; when not, scoring it is skipped. */
  appliesTo?(vm: VirtualMachine): boolean;
}

export interface Profile {
  filters: FilterPlugin[];
  scores: ScorePlugin[];
}

/** One node's verdict, for `shoalctl place` and the dry run. */
export interface NodeVerdict {
  node: string;
  /** Why it cannot take the VM; absent when it can. */
  reason?: string;
  /** Weighted total (feasible nodes only). */
  score?: number;
  /** Normalised score per plugin (feasible nodes only). */
  scores?: Record<string, number>;
}

export type ScheduleResult =
  | { ok: true; nodeName: string; feasibleNodes: number; verdicts?: NodeVerdict[] }
  | {
      ok: false;
      /** `0/3 nodes are available: 2 insufficient memory, 1 node(s) not ready.` */
      message: string;
      /** How many nodes each reason ruled out (one reason per node: the first filter that failed). */
      reasons: Record<string, number>;
      verdicts?: NodeVerdict[];
    };

export const FILTER_OK: FilterResult = Object.freeze({ ok: true });

/**
 * A filter's answer that a node cannot take the VM, for `reason`: made once per reason and
 * shared, as FILTER_OK is, since a decision asks node after node.
 */
export const refusal = (reason: string): FilterResult => Object.freeze({ ok: false, reason });

export interface ScheduleOptions {
  /** Return every node's verdict (slower: only for explaining a decision). Judges every node. */
  explain?: boolean;
  /** Judge these nodes instead of every registered one (preemption's what-if). */
  nodes?: readonly NodeInfo[];
  /**
   * Stop looking once this many feasible nodes are found (kube-scheduler's
   * percentageOfNodesToScore; see feasibleNodesToFind), walking the nodes from `startIndex`
   * round the ring, so successive decisions look at different nodes first.
   */
  sample?: { feasibleNodesToFind: number; startIndex: number };
}

/** How many nodes a decision looked at: where the next one should start (`(start + evaluated) % n`). */
export interface Evaluated {
  evaluated: number;
}

const MIN_FEASIBLE_NODES_TO_FIND = 100;

/**
 * kube-scheduler's adaptive sample: every node in a small cluster; in a big one a share that
 * shrinks from 50 % as the cluster grows (42 % of 1,000 nodes), never under 5 % or 100 nodes.
 * Finding the best of a few hundred feasible nodes is nearly as good as the best of all of them,
 * and a decision costs a fraction.
 */
export function feasibleNodesToFind(totalNodes: number): number {
  if (totalNodes <= MIN_FEASIBLE_NODES_TO_FIND) return totalNodes;
  const percentage = Math.max(5, 50 - totalNodes / 125);
  return Math.max(MIN_FEASIBLE_NODES_TO_FIND, Math.floor((totalNodes * percentage) / 100));
}

/** Where the VM should go, or why it can go nowhere. */
export function schedule(vm: VirtualMachine, cluster: ClusterState, profile: Profile, opts: ScheduleOptions = {}): ScheduleResult & Evaluated {
  const cycle = new CycleState(cluster);
  const nodes = opts.nodes ?? cluster.nodeInfos();
  const filters = filtersToRun(vm, profile.filters, cycle);
  const reasons: Record<string, number> = {};
  const verdicts: NodeVerdict[] | undefined = opts.explain ? [] : undefined;
  const wanted = opts.sample && !opts.explain ? opts.sample.feasibleNodesToFind : nodes.length;
  const start = opts.sample && !opts.explain && nodes.length ? opts.sample.startIndex % nodes.length : 0;
  // Sized once: a decision runs inside a busy controller, where every array it grows is garbage
  // its heap must collect, and a collection that starts inside a decision lengthens it.
  const feasible = new Array<NodeInfo>(Math.min(wanted, nodes.length));
  let found = 0;
  let evaluated = 0;
  for (; evaluated < nodes.length && found < wanted; evaluated++) {
    const node = nodes[(start + evaluated) % nodes.length]!;
    const why = firstFailure(vm, node, filters, cycle);
    if (why === undefined) feasible[found++] = node;
    else {
      reasons[why] = (reasons[why] ?? 0) + 1;
      verdicts?.push({ node: node.name, reason: why });
    }
  }
  feasible.length = found;
  if (found === 0) return { ok: false, message: unschedulableMessage(nodes.length, reasons), reasons, evaluated, ...(verdicts ? { verdicts } : {}) };

  const totals = new Float64Array(found);
  const perPlugin: Record<string, number[]> = {};
  // One feasible node needs no ranking, unless someone wants to see the scores.
  if (found > 1 || verdicts) {
    const scores = new Float64Array(found); // each plugin's in turn
    for (const plugin of profile.scores) {
      if (plugin.appliesTo && !plugin.appliesTo(vm)) continue;
      for (let i = 0; i < found; i++) scores[i] = plugin.score(vm, feasible[i]!, cycle);
      plugin.normalize?.(scores);
      const weight = plugin.weight ?? 1;
      for (let i = 0; i < found; i++) totals[i]! += weight * scores[i]!;
      if (verdicts) perPlugin[plugin.name] = Array.from(scores);
    }
  }
  // Ties go to the node earlier by name, wherever the walk started.
  let best = 0;
  for (let i = 1; i < found; i++) if (totals[i]! > totals[best]! || (totals[i] === totals[best] && feasible[i]!.name < feasible[best]!.name)) best = i;
  if (verdicts) {
    feasible.forEach((node, i) => {
      const scores: Record<string, number> = {};
      for (const [name, s] of Object.entries(perPlugin)) scores[name] = Math.round(s[i]!);
      verdicts.push({ node: node.name, score: Math.round(totals[i]!), scores });
    });
    verdicts.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }
  return { ok: true, nodeName: feasible[best]!.name, feasibleNodes: feasible.length, evaluated, ...(verdicts ? { verdicts } : {}) };
}

/**
 * The filters of `filters` that have something to check for `vm`: a walk over hundreds of nodes
 * (a decision, a preemption's search) leaves the others out once, before it starts.
 */
export function filtersToRun(vm: VirtualMachine, filters: readonly FilterPlugin[], cycle: CycleState): FilterPlugin[] {
  return filters.filter((f) => !f.skips?.(vm, cycle));
}

export function firstFailure(vm: VirtualMachine, node: NodeInfo, filters: readonly FilterPlugin[], cycle: CycleState): string | undefined {
  for (const f of filters) {
    const r = f.filter(vm, node, cycle);
    if (!r.ok) return r.reason;
  }
  return undefined;
}

/** Scales raw scores so the highest becomes 100 (kube's DefaultNormalizeScore); all zero stays zero. */
export function normalizeToMax(scores: Scores): void {
  let max = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  for (let i = 0; i < scores.length; i++) scores[i] = max > 0 ? (100 * scores[i]!) / max : 0;
}

/** Scales raw scores onto 0–100 with the lowest at 0 (for scores that may be negative); all equal → 0. */
export function normalizeMinMax(scores: Scores): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i]! < min) min = scores[i]!;
    if (scores[i]! > max) max = scores[i]!;
  }
  for (let i = 0; i < scores.length; i++) scores[i] = max > min ? (100 * (scores[i]! - min)) / (max - min) : 0;
}

/** Like normalizeMinMax, but lower raw scores are better (a count of things to avoid). */
export function normalizeReverse(scores: Scores): void {
  normalizeMinMax(scores);
  let varied = false;
  for (let i = 0; i < scores.length; i++) if (scores[i] !== 0) varied = true;
  if (varied) for (let i = 0; i < scores.length; i++) scores[i] = 100 - scores[i]!;
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
