/**
 * reconcile(ctx, key) for the scheduler: place one unbound VM on a node, or say why it cannot
 * go anywhere (STYLE.md 1–3).
 *
 *   VM gone, being deleted, or already bound  → nothing to do
 *   bound by us, informer not caught up yet   → nothing to do (its room stays reserved)
 *   a node fits                               → reserve (assume) and hand the bind to the
 *                                               Binder (binder.ts), which binds in the
 *                                               background with the VM's resourceVersion as
 *                                               precondition and records the Scheduled event
 *   a node fits, this VM's last bind failed   → the same, but bound in the worker: a failure
 *                                               throws, so the queue keeps backing off
 *                                               (binder.ts says why)
 *   no node fits                              → status Pending + Scheduled=False/Unschedulable
 *                                               and a Warning FailedScheduling event when the
 *                                               reason changed; look again in 30 s (node and
 *                                               VM changes requeue it sooner, see controller.ts)
 */
import { ApiError, objectKey, timestamp as formatTimestamp, type VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import { feasibleNodesToFind, schedule, type ClusterState, type Profile } from '@shoal/scheduler';
import type { Logger } from 'pino';
import type { Binder } from './binder.js';
import type { SchedulerMetrics } from './metrics.js';
import { saysUnschedulable, unschedulableStatus } from './status.js';

export interface SchedulerContext {
  client: ShoalClient;
  vms: Pick<Informer<VirtualMachine>, 'get' | 'list'>;
  /** Nodes, policies and where every VM holds room, kept current by the informers' events. */
  state: ClusterState;
  /** Carries out the binds decided here, in the background. */
  binder: Binder;
  /** Where the next decision starts walking the nodes (see ScheduleOptions.sample). */
  nextStartIndex: number;
  profile: Profile;
  recorder: EventRecorder;
  log: Logger;
  metrics?: SchedulerMetrics;
  /** How long an unschedulable VM waits before it is tried again without any change (30 s). */
  unschedulableRetryMs: number;
  now?: () => Date;
}

const timestamp = (ctx: SchedulerContext) => formatTimestamp(ctx.now?.() ?? new Date());

export async function reconcile(ctx: SchedulerContext, key: string): Promise<Result> {
  let vm = ctx.vms.get(key);
  const stillAssumed = ctx.state.observe(key, vm);
  if (!vm || vm.metadata.deletionTimestamp || vm.spec.nodeName) {
    ctx.binder.settled(key);
    return {};
  }

  if (stillAssumed) {
    // Bound by us at exactly this version, or being bound: the informer has not shown it yet.
    if (ctx.state.assumed.get(key)!.bound || ctx.binder.binding(key)) return {};
    // The last bind's outcome is unknown (the connection broke mid-call): ask the server.
    const live = await getLive(ctx, vm);
    if (!live) {
      ctx.state.forget(key);
      ctx.binder.settled(key);
      return {};
    }
    if (live.spec.nodeName) {
      ctx.state.confirm(key);
      ctx.binder.settled(key);
      return {};
    }
    ctx.state.forget(key);
    vm = live;
  }

  const started = performance.now();
  const nodeCount = ctx.state.nodeInfos().length;
  const decision = schedule(vm, ctx.state, ctx.profile, { sample: { feasibleNodesToFind: feasibleNodesToFind(nodeCount), startIndex: ctx.nextStartIndex } });
  ctx.nextStartIndex = nodeCount ? (ctx.nextStartIndex + decision.evaluated) % nodeCount : 0;
  ctx.metrics?.decided((performance.now() - started) / 1000);
  if (!decision.ok) return unschedulable(ctx, vm, decision.message);

  // Reserve the room in the same synchronous step as the decision, before any await: no other
  // worker can decide on the old free room in between (see AssumeCache).
  ctx.state.assume(vm, decision.nodeName);
  if (ctx.binder.failedBefore(key)) await ctx.binder.bindNow(vm, decision.nodeName);
  else await ctx.binder.start(vm, decision.nodeName);
  return {};
}

async function unschedulable(ctx: SchedulerContext, vm: VirtualMachine, message: string): Promise<Result> {
  ctx.metrics?.attempt('unschedulable');
  if (!saysUnschedulable(vm, message)) {
    try {
      // Pinned to the version we judged: a VM that changed since gets judged again (409 → retry).
      await patchStatus(ctx, vm, unschedulableStatus(vm, message, timestamp(ctx)));
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return {};
      throw err;
    }
    // Only when the reason changes: a VM stuck for hours must not write an Event every 30 s.
    ctx.recorder.event(vm, 'Warning', 'FailedScheduling', message);
  }
  return { requeueAfterMs: ctx.unschedulableRetryMs };
}

function patchStatus(ctx: SchedulerContext, vm: VirtualMachine, status: Record<string, unknown>): Promise<VirtualMachine> {
  return ctx.client.patch<VirtualMachine>(
    'vm',
    vm.metadata.name!,
    { metadata: { resourceVersion: vm.metadata.resourceVersion }, status },
    { type: 'merge', status: true, namespace: vm.metadata.namespace },
  );
}

/** The VM as the server has it now, or undefined when it is gone (another incarnation counts as gone). */
async function getLive(ctx: SchedulerContext, vm: VirtualMachine): Promise<VirtualMachine | undefined> {
  try {
    const live = await ctx.client.get<VirtualMachine>('vm', vm.metadata.name!, { namespace: vm.metadata.namespace });
    return live.metadata.uid === vm.metadata.uid ? live : undefined;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}
