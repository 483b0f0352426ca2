/** A GitRepository's status from a fetch's outcome, on plain objects (status.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCondition, type GitRepository, type GitRepositoryStatus } from '@shoal/api';
import { computeStatus, PROGRESSING_WITH_RETRY, READY, RECONCILING, STALLED, SUCCEEDED } from './status.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';
const T2 = '2026-01-01T00:02:00Z';

const repo = (status?: GitRepositoryStatus, generation = 3): GitRepository => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'GitRepository',
  metadata: { name: 'vms', namespace: 'default', generation },
  spec: { url: '/srv/git/vms.git', interval: '1m', timeout: '60s', suspend: false },
  ...(status ? { status } : {}),
});
const fetched = (commit: string, message = 'msg') => ({ artifact: { commit, revision: `main@sha1:${commit}`, message } });

test('a first fetch: the artifact, Ready True, the times, observedGeneration, the request it answered', () => {
  const s = computeStatus(repo(), fetched(A, 'first'), T0, '2026-01-01T00:00:00.123Z');
  assert.deepEqual(s, {
    artifact: { revision: `main@sha1:${A}`, commit: A, message: 'first', lastUpdateTime: T0 },
    lastFetchTime: T0,
    lastHandledReconcileAt: '2026-01-01T00:00:00.123Z',
    conditions: [{ type: READY, status: 'True', reason: SUCCEEDED, message: `stored artifact for revision 'main@sha1:${A}'`, lastTransitionTime: T0 }],
    observedGeneration: 3,
  });
});

test('the same commit again: lastUpdateTime and the transition time stay; a new commit moves lastUpdateTime', () => {
  const first = computeStatus(repo(), fetched(A), T0, undefined);
  const again = computeStatus(repo(first), fetched(A), T1, undefined);
  assert.equal(again.artifact!.lastUpdateTime, T0);
  assert.equal(again.lastFetchTime, T1);
  assert.equal(findCondition(again.conditions, READY)!.lastTransitionTime, T0);
  const next = computeStatus(repo(again), fetched(B), T2, undefined);
  assert.equal(next.artifact!.lastUpdateTime, T2);
  assert.equal(next.artifact!.commit, B);
  // An empty commit message is left out rather than written empty.
  assert.equal(computeStatus(repo(), fetched(A, ''), T0, undefined).artifact!.message, undefined);
});

test('a failure that may pass: Ready False with its reason, Reconciling with retry, the last artifact kept; a success clears them', () => {
  const good = computeStatus(repo(undefined, 1), fetched(A), T0, 'r1');
  const failed = computeStatus(
    repo(good, 1),
    { failure: { reason: 'GitOperationFailed', message: 'git ls-remote failed: fatal: x', retryable: true } },
    T1,
    undefined,
  );
  assert.deepEqual(failed.artifact, good.artifact);
  assert.equal(failed.lastHandledReconcileAt, 'r1', 'kept when no new request was answered');
  assert.deepEqual(
    failed.conditions!.map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime]),
    [
      [READY, 'False', 'GitOperationFailed', 'git ls-remote failed: fatal: x', T1],
      [RECONCILING, 'True', PROGRESSING_WITH_RETRY, 'retrying: git ls-remote failed: fatal: x', T1],
    ],
  );
  const recovered = computeStatus(repo(failed, 1), fetched(A), T2, undefined);
  assert.deepEqual(
    recovered.conditions!.map((c) => [c.type, c.status]),
    [[READY, 'True']],
  );
});

test('a failure that cannot pass (a bad range): Stalled, not Reconciling; a fixed spec clears it', () => {
  const stalled = computeStatus(
    repo(),
    { failure: { reason: 'InvalidRef', message: 'spec.ref.semver: "x" is not a semantic version range', retryable: false } },
    T0,
    undefined,
  );
  assert.deepEqual(
    stalled.conditions!.map((c) => [c.type, c.status, c.reason]),
    [
      [READY, 'False', 'InvalidRef'],
      [STALLED, 'True', 'InvalidRef'],
    ],
  );
  assert.equal(stalled.artifact, undefined);
  assert.deepEqual(
    computeStatus(repo(stalled, 4), fetched(A), T1, undefined).conditions!.map((c) => c.type),
    [READY],
  );
});
