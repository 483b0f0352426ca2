/**
 * reconcile(ctx, key) for the preemptor: make room for one VM the scheduler found no node for,
 * by evicting VMs of lower priority (STYLE.md 1–3).
 *
 *   VM gone, bound, or not Unschedulable       → nothing to do
 *   may not preempt (Never, nothing below it)  → nothing to do
 *   its victims are still shutting down        → look again shortly
 *   a node + victims make room                 → each victim: eviction request (agent stops it,
 *                                                then unbinds it), status.preemptedBy, Warning
 *                                                event Preempted; the VM: status
 *                                                nominatedNodeName, Normal event Preempting.
 *                                                The scheduler then places it as room frees up.
 *   nothing would make room                    → nothing to do (a change requeues it)
 *
 * With `dryRun` it only logs and records what it would evict.
 */
import {
  ApiError,
  EVICTION_REQUESTED_ANNOTATION,
  evictionRequestOf,
  objectKey,
  PREEMPTED_VICTIMS_ANNOTATION,
  type EvictionRequest,
  type PriorityClass,
  type VirtualMachine,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import { planPreemption, priorityOf, type ClusterState, type PlacedVm, type Profile } from '@shoal/scheduler';
import type { Logger } from 'pino';
import { SCHEDULED } from '../scheduler/status.js';

export interface PreemptorContext {
  client: ShoalClient;
  state: ClusterState;
  priorityClasses: Pick<Informer<PriorityClass>, 'get'>;
  profile: Profile;
  recorder: EventRecorder;
  log: Logger;
  /** Victims must be at least this much below the preemptor's priority (≥ 1). */
  minPriorityGap: number;
  /** How often to look at a VM whose victims are still shutting down. */
  waitForVictimsMs: number;
  now?: () => Date;
}

/** Grace a victim gets when its PriorityClass says nothing (the schema's default). */
export const DEFAULT_EVICTION_GRACE_SECONDS = 30;

/** The scheduler has said it cannot place this VM. */
export function isUnschedulable(vm: VirtualMachine): boolean {
  if (vm.spec.nodeName || vm.metadata.deletionTimestamp) return false;
  const c = vm.status?.conditions?.find((x) => x.type === SCHEDULED);
  return c?.status === 'False' && c.reason === 'Unschedulable';
}

/** Bound VMs still shutting down because this VM preempted them. */
export function victimsLeaving(state: ClusterState, preemptorKey: string, nodeName: string): PlacedVm[] {
  const node = state.nodeInfo(nodeName);
  if (!node) return [];
  return [...node.vms.values()].filter((p) => p.vm.status?.preemptedBy === preemptorKey && evictionRequestOf(p.vm.metadata));
}

export async function reconcile(ctx: PreemptorContext, key: string): Promise<Result> {
  const vm = ctx.state.vm(key);
  if (!vm || !isUnschedulable(vm) || vm.spec.preemptionPolicy === 'Never') return {};

  const nominated = vm.status?.nominatedNodeName;
  if (nominated && victimsLeaving(ctx.state, key, nominated).length) return { requeueAfterMs: ctx.waitForVictimsMs };

  const result = planPreemption(vm, ctx.state, ctx.profile, { minPriorityGap: ctx.minPriorityGap });
  if (!result.ok) {
    ctx.log.debug({ vm: key, reason: result.reason }, 'preemption would not help');
    return {};
  }
  const { nodeName, victims } = result.plan;
  const names = victims.map((v) => `${v.key} (priority ${priorityOf(v.vm)})`);
  ctx.log.info({ vm: key, node: nodeName, victims: names }, 'preempting');
  for (const victim of victims) await evict(ctx, vm, victim, nodeName);
  if (victims.length) {
    await recordVictims(
      ctx,
      vm,
      victims.map((v) => v.key),
    );
    ctx.recorder.event(vm, 'Normal', 'Preempting', `evicting ${names.join(', ')} on node ${nodeName} to make room`);
  }
  if (nominated !== nodeName) await nominate(ctx, vm, nodeName);
  return { requeueAfterMs: ctx.waitForVictimsMs };
}

async function evict(ctx: PreemptorContext, preemptor: VirtualMachine, victim: PlacedVm, nodeName: string): Promise<void> {
  const preemptorKey = objectKey(preemptor.metadata);
  const className = victim.vm.spec.priorityClassName;
  const grace = (className ? ctx.priorityClasses.get(className)?.spec.evictionGracePeriodSeconds : undefined) ?? DEFAULT_EVICTION_GRACE_SECONDS;
  const request: EvictionRequest = {
    reason: 'Preempted',
    message: `preempted by ${preemptorKey} (priority ${priorityOf(preemptor)}) to make room on node ${nodeName}`,
    gracePeriodSeconds: grace,
    requestedAt: (ctx.now?.() ?? new Date()).toISOString(),
  };
  const { namespace, name } = victim.vm.metadata;
  try {
    // Pinned to the version the plan saw: a victim that changed meanwhile (moved, deleted,
    // re-prioritised) makes this fail, and the retry plans again on the newer state.
    const marked = await ctx.client.patch<VirtualMachine>(
      'vm',
      name!,
      { metadata: { resourceVersion: victim.vm.metadata.resourceVersion, annotations: { [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request) } } },
      { type: 'merge', namespace },
    );
    // Take it in now: the next plan (another preemptor) must see it leaving, not evict again.
    ctx.state.upsertVm(marked);
    const withStatus = await ctx.client.patch<VirtualMachine>(
      'vm',
      name!,
      { status: { preemptedBy: preemptorKey } },
      { type: 'merge', status: true, namespace },
    );
    ctx.state.upsertVm(withStatus);
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return;
    throw err;
  }
  ctx.recorder.event(victim.vm, 'Warning', 'Preempted', request.message);
}

/** The preemptor's side of the record: which VMs were evicted for it (added to any earlier ones). */
async function recordVictims(ctx: PreemptorContext, vm: VirtualMachine, keys: string[]): Promise<void> {
  const earlier = (vm.metadata.annotations?.[PREEMPTED_VICTIMS_ANNOTATION] ?? '').split(',').filter(Boolean);
  const all = [...new Set([...earlier, ...keys])].join(',');
  try {
    const updated = await ctx.client.patch<VirtualMachine>(
      'vm',
      vm.metadata.name!,
      { metadata: { annotations: { [PREEMPTED_VICTIMS_ANNOTATION]: all } } },
      { type: 'merge', namespace: vm.metadata.namespace },
    );
    ctx.state.upsertVm(updated);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
}

async function nominate(ctx: PreemptorContext, vm: VirtualMachine, nodeName: string): Promise<void> {
  try {
    const updated = await ctx.client.patch<VirtualMachine>(
      'vm',
      vm.metadata.name!,
      { status: { nominatedNodeName: nodeName } },
      { type: 'merge', status: true, namespace: vm.metadata.namespace },
    );
    ctx.state.upsertVm(updated);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
}
