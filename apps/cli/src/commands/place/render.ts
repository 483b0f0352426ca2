/** The placement report `place` prints: plain data (for -o json) and its text rendering. */
import { objectKey, type VirtualMachine } from '@shoal/api';
import { priorityOf, type NodeVerdict, type PreemptionResult, type ScheduleResult } from '@shoal/scheduler';

export interface PlacementReport {
  vm: string;
  priority: number;
  /** The node it would be bound to, if any fits. */
  node?: string;
  feasibleNodes: number;
  totalNodes: number;
  /** The unschedulable message, when no node fits. */
  message?: string;
  /** Nodes ruled out, per reason. */
  reasons: Record<string, number>;
  /** Every node's verdict: feasible ones best first (with scores), then the others by name. */
  nodes: NodeVerdict[];
  /** When no node fits: what preemption would do. */
  preemption?: { node: string; victims: { vm: string; priority: number }[] } | { impossible: string };
}

export function placementReport(vm: VirtualMachine, decision: ScheduleResult, preemption: PreemptionResult | undefined): PlacementReport {
  const verdicts = decision.verdicts ?? [];
  const feasible = verdicts.filter((v) => v.reason === undefined).sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || (a.node < b.node ? -1 : 1));
  const ruledOut = verdicts.filter((v) => v.reason !== undefined);
  const reasons: Record<string, number> = {};
  for (const v of ruledOut) reasons[v.reason!] = (reasons[v.reason!] ?? 0) + 1;
  return {
    vm: objectKey(vm.metadata),
    priority: priorityOf(vm),
    ...(decision.ok ? { node: decision.nodeName } : { message: decision.message }),
    feasibleNodes: feasible.length,
    totalNodes: verdicts.length,
    reasons,
    nodes: [...feasible, ...ruledOut],
    ...(preemption
      ? {
          preemption: preemption.ok
            ? { node: preemption.plan.nodeName, victims: preemption.plan.victims.map((v) => ({ vm: v.key, priority: priorityOf(v.vm) })) }
            : { impossible: preemption.reason },
        }
      : {}),
  };
}

const SHOWN_CANDIDATES = 5;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function renderPlacement(r: PlacementReport, opts: { allNodes: boolean }): string {
  let out = r.node
    ? `VirtualMachine ${r.vm} would be placed on node ${r.node} (${r.feasibleNodes} of ${r.totalNodes} nodes can take it).\n`
    : `VirtualMachine ${r.vm} cannot be placed now: ${r.message}\n`;
  const feasible = r.nodes.filter((n) => n.reason === undefined);
  const shown = opts.allNodes ? r.nodes : feasible.slice(0, SHOWN_CANDIDATES);
  if (shown.length) {
    const plugins = [...new Set(shown.flatMap((n) => Object.keys(n.scores ?? {})))];
    const rows = [['NODE', 'SCORE', ...plugins.map((p) => p.toUpperCase()), 'VERDICT']];
    for (const n of shown)
      rows.push([
        n.node,
        n.score === undefined ? '-' : String(n.score),
        ...plugins.map((p) => (n.scores?.[p] === undefined ? '-' : String(n.scores[p]))),
        n.reason ?? 'fits',
      ]);
    out += `\n${table(rows)}`;
    if (!opts.allNodes && feasible.length > shown.length) out += `… and ${feasible.length - shown.length} more that fit (--all-nodes lists them)\n`;
  }
  if (!opts.allNodes && Object.keys(r.reasons).length) {
    out += '\nRuled out:\n';
    for (const [reason, n] of Object.entries(r.reasons).sort(([, a], [, b]) => b - a)) out += `  ${n} ${reason}\n`;
  }
  if (r.preemption) {
    if ('impossible' in r.preemption) out += `\nPreemption would not help (priority ${r.priority}): ${r.preemption.impossible}.\n`;
    else if (r.preemption.victims.length === 0) out += `\nPreemption: room on node ${r.preemption.node} is already being freed; the VM would wait for it.\n`;
    else {
      out += `\nPreemption (priority ${r.priority}) would evict on node ${r.preemption.node}:\n`;
      for (const v of r.preemption.victims) out += `  ${v.vm} (priority ${v.priority})\n`;
    }
  }
  return out;
}
