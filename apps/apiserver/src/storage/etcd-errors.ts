/**
 * What an etcd failure means for the request that met it. Three kinds matter:
 *
 * - unreachable: no connection to the member was made, so it never saw the request;
 * - no leader: the member refused before doing anything (we ask for that, see etcd-client.ts),
 *   which is what a member says when the cluster lost its quorum;
 * - timed out: the request was sent and no answer came; a write may still be applied later.
 *
 * The first two are safe to send again to another member, even for a write; the third is not
 * (a create retried after it was applied would answer AlreadyExists, an update Conflict).
 */

const UNREACHABLE = /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|failed to connect/i;
const NO_LEADER = /etcdserver: no leader/;
const TIMED_OUT = /DEADLINE_EXCEEDED|Deadline ?exceeded|etcdserver: request timed out/i;
const BROKEN_CIRCUIT = /circuit breaker is open|BrokenCircuit/i;

export type EtcdFailure = 'unreachable' | 'no-leader' | 'timed-out' | 'unavailable';

function describe(err: Error): string {
  return `${err.constructor?.name ?? ''} ${err.message}`;
}

export function isUnreachable(err: Error): boolean {
  return UNREACHABLE.test(err.message);
}

/** The request surely did not take effect, so another member may be asked. */
export function neverApplied(err: Error): boolean {
  return isUnreachable(err) || NO_LEADER.test(err.message);
}

/** How an etcd error should be reported, or undefined when it is not an availability problem. */
export function etcdFailure(err: Error): EtcdFailure | undefined {
  const text = describe(err);
  if (NO_LEADER.test(text)) return 'no-leader';
  if (TIMED_OUT.test(text)) return 'timed-out';
  if (UNREACHABLE.test(text) || BROKEN_CIRCUIT.test(text)) return 'unreachable';
  if (/GRPCUnavailable|GRPCCancelled|ClientClosed|UNAVAILABLE|etcdserver: (leader changed|too many requests)/.test(text)) return 'unavailable';
  return undefined;
}

/** One sentence for a Status message: what happened and whether a write may have been applied. */
export function etcdFailureMessage(kind: EtcdFailure, err: Error): string {
  const detail = err.message.split('\n')[0];
  switch (kind) {
    case 'no-leader':
      return `etcd has no quorum: the member asked has no leader, so nothing can be written or read consistently; nothing was changed (${detail})`;
    case 'timed-out':
      return `etcd did not answer in time: it is unavailable or has lost quorum; a write may or may not have been applied (${detail})`;
    case 'unreachable':
      return `etcd is unavailable: no etcd member could be reached; nothing was changed (${detail})`;
    case 'unavailable':
      return `etcd is unavailable; a write may or may not have been applied (${detail})`;
  }
}
