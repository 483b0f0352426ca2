/**
 * Which etcd failures may be sent to another member and how each is reported, on the errors
 * etcd3 really throws (the texts are the ones seen against etcd 3.4 in e2e/etcd-quorum.test.ts).
 * A write must never be resent after an error that leaves its outcome open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { etcdFailure, etcdFailureMessage, neverApplied } from './etcd-errors.js';

const noLeader = new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: no leader');
const refused = new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:34231.');
const deadline = new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED: Deadline exceeded after 4.001s,metadata filters: 0.001s');
const serverTimeout = new GRPCUnavailableError('14 UNAVAILABLE: etcdserver: request timed out');
const dropped = new GRPCUnavailableError('14 UNAVAILABLE: Connection dropped');

test('only errors that prove the request never took effect may be resent', () => {
  assert.equal(neverApplied(noLeader), true);
  assert.equal(neverApplied(refused), true);
  assert.equal(neverApplied(deadline), false);
  assert.equal(neverApplied(serverTimeout), false);
  assert.equal(neverApplied(dropped), false);
  assert.equal(neverApplied(new Error('etcdserver: key not found')), false);
});

test('each failure is named, and the message says whether a write may have happened', () => {
  assert.equal(etcdFailure(noLeader), 'no-leader');
  assert.match(etcdFailureMessage('no-leader', noLeader), /^etcd has no quorum: .*nothing was changed/);
  assert.equal(etcdFailure(refused), 'unreachable');
  assert.match(etcdFailureMessage('unreachable', refused), /no etcd member could be reached; nothing was changed/);
  assert.equal(etcdFailure(new Error('Execution prevented because the circuit breaker is open')), 'unreachable');
  for (const e of [deadline, serverTimeout]) {
    assert.equal(etcdFailure(e), 'timed-out');
    assert.match(etcdFailureMessage('timed-out', e), /may or may not have been applied/);
  }
  assert.equal(etcdFailure(dropped), 'unavailable');
  assert.equal(etcdFailure(new Error('unexpected end of JSON input')), undefined, 'not an availability problem: a 500');
});
