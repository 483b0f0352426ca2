/**
 * How one etcd call moves between members (etcd3's "global" fault-handling policy). A call that
 * surely did not take effect (etcd-errors.ts) goes on to another member, at once, each member
 * at most once per call: a member that refuses connections is down; a member without a leader
 * may be cut off from a majority that still has one. Anything else — above all a timeout,
 * after which a write may still be applied — is final.
 *
 * When every member failed, the error that says most is the one reported: "no leader" (the
 * cluster has no quorum) over "connection refused" (that one member is down).
 */
import type * as Cockatiel from 'cockatiel';
import { isUnreachable, neverApplied } from './etcd-errors.js';

export class MemberRetry {
  constructor(private readonly members: number) {}

  async execute<T>(fn: (context: Cockatiel.IDefaultPolicyContext) => PromiseLike<T> | T, signal: AbortSignal = new AbortController().signal): Promise<T> {
    let best: Error | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn({ signal });
      } catch (err) {
        const e = err as Error;
        if (!neverApplied(e)) throw e;
        if (!best || isUnreachable(best)) best = e;
        if (attempt >= this.members || signal.aborted) throw best;
      }
    }
  }

  /** As etcd3 wants it: it only ever calls execute. */
  asPolicy(): Cockatiel.IPolicy<Cockatiel.IDefaultPolicyContext> {
    return this as unknown as Cockatiel.IPolicy<Cockatiel.IDefaultPolicyContext>;
  }
}
