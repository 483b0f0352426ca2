/**
 * A stop, one look at a time: the reconcile asks the runtime and returns, instead of waiting out
 * the guest's grace (runtime/driver.ts has the contract).
 */
import type { Result } from '@shoal/controller-runtime';
import { STOP_ASK_AGAIN_MS, type InstanceState } from '../runtime/driver.js';
import type { VmContext } from './context.js';

/**
 * Asks the runtime to stop the guest (again: a guest that missed the request hears it now, and
 * one past its deadline is killed) and says how soon to look again while it has not exited.
 * Answers undefined once it has: the caller carries on in this same reconcile.
 */
export async function requestStop(ctx: VmContext, uid: string, graceMs: number): Promise<Result | undefined> {
  await ctx.driver.requestStop(uid, graceMs);
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
