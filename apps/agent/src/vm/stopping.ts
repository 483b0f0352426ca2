/**
 * A stop, one look at a time: the reconcile asks the runtime and returns, instead of waiting out
 * the guest's grace (runtime/driver.ts has the contract).
 */
import { objectKey } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { STOP_ASK_AGAIN_MS, type InstanceState } from '../runtime/driver.js';
import type { VmContext } from './context.js';

/** The Event reason of a guest killed because it did not power off within its grace period. */
export const STOP_TIMED_OUT = 'StopTimedOut';

/**
 * Asks the runtime to stop the guest (again: a guest that missed the request hears it now, and
 * one past its deadline is killed) and says how soon to look again while it has not exited.
 * Answers undefined once it has: the caller carries on in this same reconcile.
 */
export async function requestStop(ctx: VmContext, uid: string, graceMs: number): Promise<Result | undefined> {
  const before = ctx.driver.state(uid);
  await ctx.driver.requestStop(uid, graceMs);
  if (before && pastItsGrace(before)) reportKill(ctx, before);
  const instance = ctx.driver.state(uid);
  if (!instance || instance.phase === 'exited') return undefined;
  return { requeueAfterMs: untilAskingAgain(instance) };
}

/** Until the guest should be asked again: every few seconds, and right at its deadline, when asking kills it. */
function untilAskingAgain(instance: InstanceState, now = Date.now()): number {
  const deadline = instance.stopDeadline ? Date.parse(instance.stopDeadline) : Infinity;
  // Killed already (the deadline passed): the 'change' of its exit brings the key back sooner.
  if (deadline <= now) return STOP_ASK_AGAIN_MS;
  return Math.min(STOP_ASK_AGAIN_MS, deadline - now);
}

/** A guest asked to stop whose deadline has passed: this request kills it. */
function pastItsGrace(instance: InstanceState, now = Date.now()): boolean {
  return instance.phase === 'stopping' && !!instance.stopDeadline && Date.parse(instance.stopDeadline) <= now;
}

/** The kill that ends a stop the guest ignored: said, on the VM when it still exists, with the reason. */
function reportKill(ctx: VmContext, instance: InstanceState): void {
  const askedFor = instance.stopDeadline ? ` (its deadline was ${instance.stopDeadline})` : '';
  const message = `the guest did not power off after the ACPI power button within its grace period${askedFor}: killed on node ${ctx.nodeName}`;
  ctx.log.warn({ vm: objectKey(instance), uid: instance.uid }, message);
  const vm = ctx.vms.get(objectKey(instance));
  if (vm?.metadata.uid === instance.uid) ctx.recorder.event(vm, 'Warning', STOP_TIMED_OUT, message);
}
