/** Moving a call between members: who is asked again, how often, and which error is reported. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { MemberRetry } from './etcd-retry.js';

const noLeader = () => new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: no leader');
const refused = () => new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1.');
const timedOut = () => new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED: Deadline exceeded after 5.000s');

/** A call that fails with these errors in turn, then answers 'ok'. */
function calls(...errors: Error[]) {
  let n = 0;
  const fn = () => {
    const e = errors[n++];
    if (e) throw e;
    return 'ok';
  };
  return { fn, count: () => n };
}

test('a member that is down or has no leader: the next member is asked, each at most once', async () => {
  const c = calls(refused(), noLeader());
  assert.equal(await new MemberRetry(3).execute(c.fn), 'ok');
  assert.equal(c.count(), 3);
  const all = calls(refused(), noLeader(), refused(), refused());
  await assert.rejects(new MemberRetry(3).execute(all.fn), /no leader/, 'the most telling error, not the last one');
  assert.equal(all.count(), 3);
});

test('a timeout is final: a write may still be applied', async () => {
  const c = calls(timedOut());
  await assert.rejects(new MemberRetry(3).execute(c.fn), /DEADLINE_EXCEEDED/);
  assert.equal(c.count(), 1);
});
