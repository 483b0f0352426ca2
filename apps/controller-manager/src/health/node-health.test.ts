/** Node health from lease renewals, and the fate of a fenced node's VMs, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_FINALIZER, evictionRequestOf, REQUESTED_STATE_ANNOTATION, UNREACHABLE_TAINT_KEY, withDefaults, type VirtualMachine } from '@shoal/api';
import { nodeHealth, readyConditionFor, taintsFor } from './node-health.js';
import { RenewalClock } from './reconcile.js';
import { rescueFromFencedNode } from './rescue.js';

const timing = { leaseDurationMs: 4000, fenceTimeoutMs: 6000, graceMs: 4000 };

test('Ready until the grace period, Unreachable until lease + fence timeout, then Fenced', () => {
  assert.deepEqual(nodeHealth(1000, 1000, timing), { state: 'Ready', until: 5000 });
  assert.deepEqual(nodeHealth(4999, 1000, timing), { state: 'Ready', until: 5000 });
  assert.deepEqual(nodeHealth(5000, 1000, timing), { state: 'Unreachable', since: 5000, fencedAt: 11000 });
  assert.deepEqual(nodeHealth(10999, 1000, timing), { state: 'Unreachable', since: 5000, fencedAt: 11000 });
  assert.deepEqual(nodeHealth(11000, 1000, timing), { state: 'Fenced', since: 11000 });
  // Without a known fence timeout a node is never fenced: its VMs are never moved.
  assert.equal(nodeHealth(1e12, 1000, { ...timing, fenceTimeoutMs: Infinity }).state, 'Unreachable');
});

test('renewals are timed by when they were seen, not by the agent clock', () => {
  let now = 100;
  const clock = new RenewalClock(() => now);
  const lease = (renewTime: string) => withDefaults('Lease', { metadata: { name: 'n' }, spec: { renewTime } });
  assert.equal(clock.observe('n', lease('1999-01-01T00:00:00Z')), 100, 'an old renewTime seen now counts from now');
  now = 500;
  assert.equal(clock.observe('n', lease('1999-01-01T00:00:00Z')), 100, 'the same renewal again: no news');
  assert.equal(clock.observe('n', lease('1999-01-01T00:00:01Z')), 500);
});

test('the Ready condition and the unreachable taint follow the health state, changing only when needed', () => {
  const unknown = readyConditionFor(undefined, { state: 'Unreachable', since: 0, fencedAt: 1 }, 'T1')!;
  assert.deepEqual([unknown.status, unknown.reason, unknown.lastTransitionTime], ['Unknown', 'NodeStatusUnknown', 'T1']);
  assert.equal(readyConditionFor(unknown, { state: 'Unreachable', since: 0, fencedAt: 1 }, 'T2'), undefined);
  const fenced = readyConditionFor(unknown, { state: 'Fenced', since: 1 }, 'T2')!;
  assert.deepEqual([fenced.status, fenced.reason, fenced.lastTransitionTime], ['Unknown', 'NodeFenced', 'T1'], 'same status: the transition time stays');
  assert.equal(readyConditionFor(fenced, { state: 'Ready', until: 9 }, 'T3')!.status, 'True');

  const own = { key: 'gpu', effect: 'NoSchedule' as const };
  const tainted = taintsFor([own], false, 'T1')!;
  assert.deepEqual(tainted, [own, { key: UNREACHABLE_TAINT_KEY, effect: 'NoSchedule', timeAdded: 'T1' }]);
  assert.equal(taintsFor(tainted, false, 'T2'), undefined);
  assert.deepEqual(taintsFor(tainted, true, 'T3'), [own], 'other taints are kept');
  assert.equal(taintsFor([own], true, 'T3'), undefined);
});

function vm(runStrategy: VirtualMachine['spec']['runStrategy'], o: { deleting?: boolean } = {}): VirtualMachine {
  return withDefaults('VirtualMachine', {
    metadata: { name: 'v', namespace: 'default', finalizers: [AGENT_FINALIZER, 'other'], ...(o.deleting ? { deletionTimestamp: 'T0' } : {}) },
    spec: { runStrategy, nodeName: 'dead' },
    status: {
      phase: 'Running',
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'Scheduled', status: 'True' },
      ],
    },
  });
}

test('a fenced node’s VMs are unbound in one write that says why (an eviction request the unbind completes); a deleting one is only finalized', () => {
  const always = rescueFromFencedNode(vm('Always'), 'dead', 'T');
  const request = (r: ReturnType<typeof rescueFromFencedNode>) => evictionRequestOf(r.patch.metadata);
  assert.deepEqual(always.patch.spec, { nodeName: null });
  assert.deepEqual(always.patch.metadata.finalizers, ['other']);
  assert.deepEqual(request(always), { reason: 'NodeLost', message: 'node dead was lost (fenced); rescheduling', gracePeriodSeconds: 0, requestedAt: 'T' });
  assert.ok(!('status' in always.patch), 'health writes no VM status');
  assert.equal(request(rescueFromFencedNode(vm('RerunOnFailure'), 'dead', 'T'))?.message, 'node dead was lost (fenced); rescheduling');

  const manual = rescueFromFencedNode(vm('Manual'), 'dead', 'T');
  assert.equal(manual.patch.metadata.annotations?.[REQUESTED_STATE_ANNOTATION], 'Stopped', 'a Manual VM waits to be started again');
  assert.equal(request(manual)?.message, 'node dead was lost (fenced); runStrategy Manual keeps it stopped');
  assert.equal(request(rescueFromFencedNode(vm('Halted'), 'dead', 'T'))?.message, 'node dead was lost (fenced); runStrategy Halted keeps it stopped');

  assert.deepEqual(rescueFromFencedNode(vm('Always', { deleting: true }), 'dead', 'T'), { patch: { metadata: { finalizers: ['other'] } } });
});
