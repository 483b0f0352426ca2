/** The scheduler's status on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults, type VirtualMachine } from '@shoal/api';
import { saysUnschedulable, unschedulableStatus } from './status.js';

const T0 = '2026-01-01T00:00:00Z';
const vm = (status?: VirtualMachine['status'], nodeName?: string): VirtualMachine =>
  withDefaults('VirtualMachine', {
    metadata: { name: 'v', namespace: 'default', generation: 3 },
    spec: nodeName ? { nodeName } : {},
    ...(status ? { status } : {}),
  });

test('the unschedulable status, and whether a VM already says it', () => {
  const pending = unschedulableStatus(vm(), '0/1 nodes are available: 1 node(s) not ready.', T0);
  assert.deepEqual(pending, {
    conditions: [
      {
        type: 'Scheduled',
        status: 'False',
        reason: 'Unschedulable',
        message: '0/1 nodes are available: 1 node(s) not ready.',
        observedGeneration: 3,
        lastTransitionTime: T0,
      },
    ],
  });
  assert.equal(saysUnschedulable(vm(pending), '0/1 nodes are available: 1 node(s) not ready.'), true);
  assert.equal(saysUnschedulable(vm(pending), '0/2 nodes are available: 2 node(s) not ready.'), false, 'a new reason is news');
  assert.equal(saysUnschedulable(vm(), 'x'), false);
});
