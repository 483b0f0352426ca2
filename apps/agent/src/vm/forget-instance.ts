/** How an instance leaves this node for good. */
import type { VmContext } from './context.js';

/**
 * Removes an instance for good — its VM deleted, evicted, or no longer bound here — with all the
 * agent remembered about it: its fence report and its crash loop. Not for a restart, which
 * replaces the instance and keeps the loop going.
 */
export async function forgetInstance(ctx: VmContext, uid: string): Promise<void> {
  await ctx.driver.remove(uid);
  ctx.reportedFence.delete(uid);
  await ctx.restartBackoff.store.delete(uid);
}
