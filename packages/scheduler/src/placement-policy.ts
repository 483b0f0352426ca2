/**
 * Which PlacementPolicy governs a node, and what it makes of the node's room. A node follows
 * the policy whose nodeSelector matches its labels with the most keys (the most specific),
 * ties going to the earlier name; a policy without a selector matches every node. With none,
 * the node gets the built-in default: no overcommit, bin-packing.
 */
import type { Node, PlacementPolicy, ScoringStrategy } from '@shoal/api';
import type { Resources } from './resources.js';

export interface EffectivePolicy {
  /** The governing policy's name, or undefined for the built-in default. */
  name?: string;
  /** Multipliers on allocatable (≥ 1). */
  vcpuOvercommit: number;
  memoryOvercommit: number;
  scoring: ScoringStrategy;
}

export const DEFAULT_POLICY: Readonly<EffectivePolicy> = Object.freeze({ vcpuOvercommit: 1, memoryOvercommit: 1, scoring: 'BinPack' });

function selects(policy: PlacementPolicy, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(policy.spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  return true;
}

const specificity = (p: PlacementPolicy) => Object.keys(p.spec.nodeSelector ?? {}).length;

export function policyFor(node: Node, policies: readonly PlacementPolicy[]): EffectivePolicy {
  const labels = node.metadata.labels ?? {};
  let best: PlacementPolicy | undefined;
  for (const p of policies) {
    if (!selects(p, labels)) continue;
    if (!best || specificity(p) > specificity(best) || (specificity(p) === specificity(best) && p.metadata.name! < best.metadata.name!)) best = p;
  }
  if (!best) return DEFAULT_POLICY;
  return {
    name: best.metadata.name,
    vcpuOvercommit: Math.max(1, best.spec.overcommit.vcpus),
    memoryOvercommit: Math.max(1, best.spec.overcommit.memory),
    scoring: best.spec.scoring,
  };
}

/** What the scheduler may place on a node: allocatable × the policy's overcommit, rounded down. */
export function schedulableRoom(allocatable: Resources, policy: EffectivePolicy): Resources {
  return { vcpus: Math.floor(allocatable.vcpus * policy.vcpuOvercommit), memoryMiB: Math.floor(allocatable.memoryMiB * policy.memoryOvercommit) };
}
