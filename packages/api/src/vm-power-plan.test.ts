/** What start, stop and restart write, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults } from './defaults.js';
import type { RunStrategy, VirtualMachine } from './model/generated.js';
import { planPower, PowerRequestError } from './vm-power-plan.js';

const NOW = new Date('2030-01-02T03:04:05.000Z');

const vm = (runStrategy?: RunStrategy, annotations?: Record<string, string>): VirtualMachine =>
  withDefaults('VirtualMachine', {
    metadata: { name: 'web', namespace: 'default', resourceVersion: '42', ...(annotations ? { annotations } : {}) },
    spec: runStrategy ? { runStrategy } : {},
  });

test('stop halts the VM and remembers the strategy it replaces', () => {
  assert.deepEqual(planPower('stop', vm('RerunOnFailure'), NOW), {
    patch: { metadata: { resourceVersion: '42', annotations: { 'shoal.dev/previous-run-strategy': 'RerunOnFailure' } }, spec: { runStrategy: 'Halted' } },
    done: 'stopped',
  });
  // No runStrategy means the default, Always.
  assert.deepEqual(planPower('stop', vm(), NOW), {
    patch: { metadata: { resourceVersion: '42', annotations: { 'shoal.dev/previous-run-strategy': 'Always' } }, spec: { runStrategy: 'Halted' } },
    done: 'stopped',
  });
  assert.deepEqual(planPower('stop', vm('Halted'), NOW), { unchanged: 'already stopped' });
});

test('start restores the remembered strategy, or Always, and drops the annotation', () => {
  assert.deepEqual(planPower('start', vm('Halted', { 'shoal.dev/previous-run-strategy': 'RerunOnFailure' }), NOW), {
    patch: { metadata: { resourceVersion: '42', annotations: { 'shoal.dev/previous-run-strategy': null } }, spec: { runStrategy: 'RerunOnFailure' } },
    done: 'started',
  });
  assert.deepEqual(planPower('start', vm('Halted'), NOW), {
    patch: { metadata: { resourceVersion: '42', annotations: { 'shoal.dev/previous-run-strategy': null } }, spec: { runStrategy: 'Always' } },
    done: 'started',
  });
  // A value that is not a strategy to go back to (Halted, garbage) means Always.
  for (const bad of ['Halted', 'sometimes']) {
    const plan = planPower('start', vm('Halted', { 'shoal.dev/previous-run-strategy': bad }), NOW);
    assert.equal('patch' in plan && plan.patch.spec?.runStrategy, 'Always');
  }
  // Back to Manual, start is also the request to run.
  assert.deepEqual(planPower('start', vm('Halted', { 'shoal.dev/previous-run-strategy': 'Manual' }), NOW), {
    patch: {
      metadata: {
        resourceVersion: '42',
        annotations: {
          'shoal.dev/previous-run-strategy': null,
          'shoal.dev/requested-state': 'Running',
          'shoal.dev/start-requested-at': '2030-01-02T03:04:05.000Z',
        },
      },
      spec: { runStrategy: 'Manual' },
    },
    done: 'started',
  });
  assert.deepEqual(planPower('start', vm('Always'), NOW), { unchanged: 'already started' });
  assert.deepEqual(planPower('start', vm('RerunOnFailure'), NOW), { unchanged: 'already started' });
});

test('Manual VMs are started (with the request time, so a second start after an exit counts) and stopped through annotations only', () => {
  assert.deepEqual(planPower('start', vm('Manual'), NOW), {
    patch: {
      metadata: { resourceVersion: '42', annotations: { 'shoal.dev/requested-state': 'Running', 'shoal.dev/start-requested-at': '2030-01-02T03:04:05.000Z' } },
    },
    done: 'started',
  });
  assert.deepEqual(planPower('stop', vm('Manual', { 'shoal.dev/requested-state': 'Running' }), NOW), {
    patch: { metadata: { resourceVersion: '42', annotations: { 'shoal.dev/requested-state': 'Stopped' } } },
    done: 'stopped',
  });
});

test('restart stamps the request time; a stopped VM is refused rather than started behind its strategy', () => {
  const expected = {
    patch: { metadata: { resourceVersion: '42', annotations: { 'shoal.dev/restart-requested-at': '2030-01-02T03:04:05.000Z' } } },
    done: 'restart requested',
  };
  assert.deepEqual(planPower('restart', vm('Always'), NOW), expected);
  assert.deepEqual(planPower('restart', vm('Manual', { 'shoal.dev/requested-state': 'Running' }), NOW), expected);
  assert.throws(() => planPower('restart', vm('Halted'), NOW), PowerRequestError);
  assert.throws(() => planPower('restart', vm('Manual', { 'shoal.dev/requested-state': 'Stopped' }), NOW), /is stopped \(runStrategy Manual\)/);
  assert.throws(() => planPower('restart', vm('Manual'), NOW), PowerRequestError);
});
