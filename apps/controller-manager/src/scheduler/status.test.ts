/** The scheduler's status on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VirtualMachine } from '@shoal/scheduler';
import { saysUnschedulable, setCondition, unschedulableStatus } from './status.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';
const vm = (status?: VirtualMachine['status'], nodeName?: string): VirtualMachine => ({
  metadata: { name: 'v', namespace: 'default', generation: 3 },
  spec: nodeName ? { nodeName } : {},
  ...(status ? { status } : {}),
});

test('setCondition replaces the condition of its type and keeps lastTransitionTime while the status holds', () => {
  const ready = { type: 'Ready', status: 'True' as const, lastTransitionTime: T0 };
  const first = setCondition([ready], { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: 'a' }, T0);
  assert.deepEqual(first, [ready, { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: 'a', lastTransitionTime: T0 }]);
  const sameStatus = setCondition(first, { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: 'b' }, T1);
  assert.equal(sameStatus.find((c) => c.type === 'Scheduled')!.lastTransitionTime, T0);
  assert.equal(sameStatus.find((c) => c.type === 'Scheduled')!.message, 'b');
  const flipped = setCondition(sameStatus, { type: 'Scheduled', status: 'True', reason: 'Bound' }, T1);
  assert.equal(flipped.find((c) => c.type === 'Scheduled')!.lastTransitionTime, T1);
  assert.equal(flipped.filter((c) => c.type === 'Scheduled').length, 1);
});

test('the unschedulable status, and whether a VM already says it', () => {
  const pending = unschedulableStatus(vm(), '0/1 nodes are available: 1 node(s) not ready.', T0);
  assert.deepEqual(pending, {
    phase: 'Pending',
    conditions: [{ type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 node(s) not ready.', observedGeneration: 3, lastTransitionTime: T0 }],
  });
  assert.equal(saysUnschedulable(vm(pending), '0/1 nodes are available: 1 node(s) not ready.'), true);
  assert.equal(saysUnschedulable(vm(pending), '0/2 nodes are available: 2 node(s) not ready.'), false, 'a new reason is news');
  assert.equal(saysUnschedulable(vm(), 'x'), false);
});
