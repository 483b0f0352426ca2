/**
 * A node's health from its Lease, as pure functions of time (STYLE.md 3).
 *
 *   renewal observed at t ──► Ready until t + grace ──► Unreachable until t + lease + fence ──► Fenced
 *                                                       (NotReady, tainted; its VMs may still
 *                                                        run: nothing is moved yet)
 *
 * Times are when this controller *saw* each renewal, not the renewTime the agent wrote, so the
 * two hosts' clocks never need to agree (Kubernetes' node lifecycle controller does the same).
 * The agent kills its VMs once it has gone `fenceTimeout` without a successful renewal; it
 * renewed at the latest when we saw it, so by `seen + leaseDuration + fenceTimeout` its VMs are
 * gone — with a whole lease duration to spare for delays — and they may run elsewhere.
 */
import { setCondition, UNREACHABLE_TAINT_KEY, type Condition, type Taint } from '@shoal/api';

export interface NodeTiming {
  leaseDurationMs: number;
  fenceTimeoutMs: number;
  /** NotReady once a renewal is this old (default: the lease duration). */
  graceMs: number;
}

export type NodeHealth =
  | { state: 'Ready'; /** When it turns Unreachable without another renewal. */ until: number }
  | { state: 'Unreachable'; since: number; /** When its VMs may be rescheduled. */ fencedAt: number }
  | { state: 'Fenced'; since: number };

export function nodeHealth(now: number, lastSeenRenewal: number, t: NodeTiming): NodeHealth {
  const unreachableAt = lastSeenRenewal + t.graceMs;
  const fencedAt = lastSeenRenewal + t.leaseDurationMs + t.fenceTimeoutMs;
  if (now < unreachableAt) return { state: 'Ready', until: unreachableAt };
  if (now < fencedAt) return { state: 'Unreachable', since: unreachableAt, fencedAt };
  return { state: 'Fenced', since: fencedAt };
}

/** The node's taints with the unreachable taint added (healthy: removed); undefined when they already say so. */
export function taintsFor(taints: readonly Taint[] | undefined, reachable: boolean, now: string): Taint[] | undefined {
  const has = (taints ?? []).some((t) => t.key === UNREACHABLE_TAINT_KEY);
  if (has === !reachable) return undefined;
  const others = (taints ?? []).filter((t) => t.key !== UNREACHABLE_TAINT_KEY);
  return reachable ? others : [...others, { key: UNREACHABLE_TAINT_KEY, effect: 'NoSchedule', timeAdded: now }];
}

/** The Ready condition for a health state; undefined when the node already says exactly that. */
export function readyConditionFor(current: Condition | undefined, health: NodeHealth, now: string): Condition | undefined {
  const ready = health.state === 'Ready';
  const status = ready ? 'True' : 'Unknown';
  const reason = ready ? 'AgentReady' : health.state === 'Unreachable' ? 'NodeStatusUnknown' : 'NodeFenced';
  const message = ready
    ? 'the node agent is renewing its lease'
    : health.state === 'Unreachable'
      ? 'the node agent stopped renewing its lease; its VMs are rescheduled once the fence timeout has passed'
      : 'the node agent stopped renewing its lease for longer than its fence timeout: its VMs were stopped there and rescheduled';
  if (current?.status === status && current.reason === reason) return undefined;
  return setCondition(current ? [current] : [], { type: 'Ready', status, reason, message }, now)[0];
}
