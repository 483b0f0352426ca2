/**
 * Carries out an eviction request for a VM bound here (nextAction's `evict`). Each step is one
 * a later reconcile (or a restarted agent) can redo, and each runs only once the one before it
 * is done:
 *
 *   1. status Stopping, reason = the request's (only while a guest still runs)
 *   2. ask the runtime to stop the guest within the request's grace (0: killed at once) and
 *      come back until it has exited — asking again, which kills it past the deadline; no
 *      worker waits out the grace — then forget the instance
 *   3. ONE merge patch: spec.nodeName, the annotation and our finalizer removed. The apiserver
 *      completes the eviction in that write: the VM is Pending, with the request's reason, and
 *      what this node reported about the guest is gone (the VM strategy's unbinding rule), so
 *      no status of a VM that has left is ever this agent's to write.
 *
 * Which steps remain depends only on the instance (nextAction: stop while one lives, remove
 * while one is there), so a reconcile that returned in step 2, or an agent restarted anywhere,
 * resumes at the right step; the stop's deadline stays with the guest (QEMU: stop.json), so a
 * restart neither grants a fresh grace nor skips it.
 *
 * The unbind is the last thing this agent can retry: afterwards the VM leaves our informer
 * (field selector spec.nodeName=<this node>). A crash anywhere before 3 leaves the annotation
 * and the binding in place, so the next agent finds them, with no instance, and finishes the
 * job; the room on this node is held (the VM is still bound and not Stopped) until 3.
 *
 * A VM with evictionStrategy LiveMigrate is moved instead: the migration controller starts a
 * Migration for the request, and the move itself ends the eviction (the apiserver drops the
 * request with the binding). This agent only waits — unless that Migration fails, or none comes
 * within LIVE_MIGRATION_START_MS, and then the guest is shut down as for any eviction, said in
 * an Event: the node is being emptied either way.
 *
 * Every write is pinned to the version the previous step saw or wrote: a VM that changed
 * meanwhile (deleted, request withdrawn) answers 409, and the retry decides again on the
 * newer version rather than unbinding something we no longer know.
 */
import {
  AGENT_FINALIZER,
  ApiError,
  EVICTION_REQUESTED_ANNOTATION,
  isTerminalMigrationPhase,
  objectKey,
  type EvictionRequest,
  type VirtualMachine,
} from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import type { InstanceState } from '../runtime/driver.js';
import { evictionStatus, statusPatch, type Action } from './lifecycle.js';
import type { VmContext } from './context.js';
import { forgetInstance } from './forget-instance.js';
import { requestStop } from './stopping.js';

export async function evict(
  ctx: VmContext,
  vm: VirtualMachine,
  instance: InstanceState | undefined,
  action: Extract<Action, { type: 'evict' }>,
): Promise<Result> {
  const { log } = ctx;
  const key = objectKey(vm.metadata);
  const uid = vm.metadata.uid!;
  const { request } = action;
  let current: VirtualMachine | undefined = vm;
  if (action.stop && instance && vm.spec.evictionStrategy === 'LiveMigrate') {
    const waiting = waitForLiveMigration(ctx, vm, request);
    if (waiting) return waiting;
  }
  if (action.stop && instance) {
    // Said once, as the stop is first asked for; later passes only look again.
    if (instance.phase !== 'stopping')
      log.info({ vm: key, reason: request.reason, gracePeriodSeconds: request.gracePeriodSeconds }, 'evicting VM: stopping its guest');
    current = await writeEvictionStatus(ctx, current, instance, request);
    if (!current) return {};
    const waiting = await requestStop(ctx, uid, action.graceMs);
    if (waiting) return waiting;
  }
  if (action.remove) await forgetInstance(ctx, uid);
  const finalizers = current.metadata.finalizers ?? [];
  const kept = finalizers.filter((f) => f !== AGENT_FINALIZER);
  try {
    await ctx.client.patch(
      'vm',
      current.metadata.name!,
      {
        metadata: {
          resourceVersion: current.metadata.resourceVersion,
          annotations: { [EVICTION_REQUESTED_ANNOTATION]: null },
          // Lists are replaced whole by a merge patch; the version pin keeps others' finalizers safe.
          ...(kept.length !== finalizers.length ? { finalizers: kept.length ? kept : null } : {}),
        },
        spec: { nodeName: null },
      },
      { namespace: current.metadata.namespace, type: 'merge' },
    );
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
    return {};
  }
  log.info({ vm: key, reason: request.reason }, 'evicted VM: unbound from this node');
  return {};
}

/** Writes the eviction status on exactly `vm`'s version; answers the VM as written (or as it was, with nothing to write), undefined when it is gone. */
async function writeEvictionStatus(ctx: VmContext, vm: VirtualMachine, instance: InstanceState, request: EvictionRequest): Promise<VirtualMachine | undefined> {
  const patch = statusPatch(vm.status, evictionStatus(vm, ctx.nodeName, instance, request));
  if (!patch) return vm;
  try {
    return await ctx.client.patch<VirtualMachine>(
      'vm',
      vm.metadata.name!,
      { metadata: { resourceVersion: vm.metadata.resourceVersion }, status: patch },
      {
        namespace: vm.metadata.namespace,
        type: 'merge',
        status: true,
      },
    );
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

/** How long an eviction of a LiveMigrate VM waits for its Migration to appear before it shuts the guest down instead. */
export const LIVE_MIGRATION_START_MS = 30_000;
const LIVE_MIGRATION_RETRY_MS = 2_000;

/**
 * While a Migration started for this eviction (created after the request) is under way, or may
 * still come: the Result to wait with; undefined when the guest is to be shut down instead.
 */
function waitForLiveMigration(ctx: VmContext, vm: VirtualMachine, request: EvictionRequest): Result | undefined {
  const key = objectKey(vm.metadata);
  const requested = Date.parse(request.requestedAt ?? '') || 0;
  const since = (ctx.migrationsOf?.(vm.metadata.uid!) ?? []).filter((m) => Date.parse(m.metadata.creationTimestamp ?? '') >= requested - 1_000);
  const latest = since.sort((a, b) => Date.parse(a.metadata.creationTimestamp!) - Date.parse(b.metadata.creationTimestamp!)).at(-1);
  if (latest && !isTerminalMigrationPhase(latest.status?.phase)) return { requeueAfterMs: LIVE_MIGRATION_RETRY_MS };
  if (!latest && Date.now() - requested < LIVE_MIGRATION_START_MS) return { requeueAfterMs: LIVE_MIGRATION_RETRY_MS };
  const why = latest
    ? `live migration ${latest.metadata.name} ended ${latest.status?.phase}${latest.status?.reason ? ` (${latest.status.reason})` : ''}`
    : `no live migration started within ${LIVE_MIGRATION_START_MS / 1000}s`;
  if (ctx.liveMigrationFallback.get(key) !== why) {
    ctx.liveMigrationFallback.set(key, why);
    const message = `evictionStrategy LiveMigrate: ${why}; shutting the guest down instead`;
    ctx.log.warn({ vm: key }, message);
    ctx.recorder.event(vm, 'Warning', 'LiveMigrationFailed', message);
  }
  return undefined;
}
