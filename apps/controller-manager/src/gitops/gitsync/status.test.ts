import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCondition, type GitSync } from '@shoal/api';
import { computeStatus, problemLine } from './status.js';

const sync = (status: GitSync['status'] = {}): GitSync =>
  ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'GitSync',
    metadata: { name: 'apps', namespace: 'default', generation: 3 },
    spec: { sourceRef: { name: 'repo' } },
    status,
  }) as GitSync;
const NOW = '2026-12-04T10:00:00Z';
const conditions = (s: ReturnType<typeof computeStatus>) =>
  Object.fromEntries((s.conditions ?? []).map((c) => [c.type, [c.status, c.reason, c.observedGeneration]]));

test('an applied revision: Ready, not Reconciling, not Stalled, each for the generation judged; the inventory and revisions recorded', () => {
  const inventory = [{ kind: 'VirtualMachine', namespace: 'default', name: 'web', uid: 'u1' }];
  const s = computeStatus(sync(), { type: 'applied', revision: 'main@sha1:abc', inventory }, NOW, 'req-1');
  assert.deepEqual(conditions(s), {
    Ready: ['True', 'ReconciliationSucceeded', 3],
    Reconciling: ['False', 'ReconciliationSucceeded', 3],
    Stalled: ['False', 'ReconciliationSucceeded', 3],
  });
  assert.equal(s.lastAppliedRevision, 'main@sha1:abc');
  assert.equal(s.lastAttemptedRevision, 'main@sha1:abc');
  assert.deepEqual(s.inventory, inventory);
  assert.equal(s.lastHandledReconcileAt, 'req-1');
  assert.equal(s.observedGeneration, 3);
});

test('an invalid commit: Stalled and not Ready, naming file, object and field; the last good revision and inventory stay', () => {
  const before = computeStatus(sync(), { type: 'applied', revision: 'main@sha1:good', inventory: [{ kind: 'Volume', name: 'v', namespace: 'default' }] }, NOW);
  const problems = [{ file: 'apps/bad.yaml', kind: 'VirtualMachine', name: 'web', field: 'spec.resources.memoryMiB', message: 'must be integer' }];
  const s = computeStatus(sync(before), { type: 'invalid', revision: 'main@sha1:bad', problems }, NOW);
  assert.deepEqual(conditions(s), {
    Ready: ['False', 'ValidationFailed', 3],
    Reconciling: ['False', 'ValidationFailed', 3],
    Stalled: ['True', 'ValidationFailed', 3],
  });
  assert.equal(s.lastAppliedRevision, 'main@sha1:good');
  assert.equal(s.lastAttemptedRevision, 'main@sha1:bad');
  assert.deepEqual(s.inventory, before.inventory);
  assert.deepEqual(s.errors, problems);
  assert.equal(
    findCondition(s.conditions, 'Ready')!.message,
    'revision main@sha1:bad applies nothing: apps/bad.yaml: VirtualMachine web: spec.resources.memoryMiB: must be integer',
  );
});

test('a failure that a retry may fix: not Ready, Reconciling with retry, not Stalled', () => {
  const s = computeStatus(sync(), { type: 'failed', revision: 'main@sha1:x', reason: 'ApplyFailed', message: 'forbidden' }, NOW);
  assert.deepEqual(conditions(s), {
    Ready: ['False', 'ApplyFailed', 3],
    Reconciling: ['True', 'ProgressingWithRetry', 3],
    Stalled: ['False', 'ApplyFailed', 3],
  });
});

test('a problem line says as much of where as is known', () => {
  assert.equal(problemLine({ message: 'boom' }), 'boom');
  assert.equal(problemLine({ file: 'a.yaml', message: 'document 1: bad' }), 'a.yaml: document 1: bad');
  assert.equal(problemLine({ kind: 'Volume', name: 'v', message: 'gone' }), 'Volume v: gone');
});
