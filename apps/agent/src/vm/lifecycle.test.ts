import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceState } from '../runtime/driver.js';
import { REQUESTED_STATE_ANNOTATION, RESTART_REQUESTED_ANNOTATION, START_REQUESTED_ANNOTATION } from '@shoal/api';
import { computeStatus, nextAction, statusPatch, type RunStrategy, type VirtualMachine } from './lifecycle.js';

const vm = (runStrategy: RunStrategy, annotations: Record<string, string> = {}): VirtualMachine => ({
  metadata: { name: 'web', namespace: 'default', uid: 'u1', generation: 3, annotations },
  spec: { runStrategy, nodeName: 'n1' },
});

const instance = (phase: InstanceState['phase'], exit?: InstanceState['exit']): InstanceState => ({
  uid: 'u1',
  namespace: 'default',
  name: 'web',
  phase,
  startedAt: '2026-01-01T00:00:00Z',
  ...(phase === 'running' ? { bootedAt: '2026-01-01T00:00:03Z', pid: 42, ip: '10.0.2.15' } : {}),
  ...(exit ? { exit } : {}),
});
const failed = { success: false, reason: 'CommandFailed', code: 1, at: '2026-01-01T00:01:00Z' };
const completed = { success: true, reason: 'Completed', code: 0, at: '2026-01-01T00:01:00Z' };
const killed = { success: false, reason: 'QemuFailed', at: '2026-01-01T00:01:00Z' };

test('a VM with nothing running starts unless its strategy says not to', () => {
  assert.deepEqual(nextAction(vm('Always'), undefined), { type: 'start', restart: false });
  assert.deepEqual(nextAction(vm('RerunOnFailure'), undefined), { type: 'start', restart: false });
  assert.deepEqual(nextAction(vm('Halted'), undefined), { type: 'none' });
  assert.deepEqual(nextAction(vm('Manual'), undefined), { type: 'none' }, 'Manual waits for a start request');
  assert.deepEqual(nextAction(vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running' }), undefined), { type: 'start', restart: false });
});

test('after an exit: Always restarts on any exit, RerunOnFailure only on failure, Manual never', () => {
  for (const exit of [failed, completed, killed]) assert.deepEqual(nextAction(vm('Always'), instance('exited', exit)), { type: 'start', restart: true });
  assert.deepEqual(nextAction(vm('RerunOnFailure'), instance('exited', failed)), { type: 'start', restart: true });
  assert.deepEqual(nextAction(vm('RerunOnFailure'), instance('exited', killed)), { type: 'start', restart: true });
  assert.deepEqual(nextAction(vm('RerunOnFailure'), instance('exited', completed)), { type: 'none' });
  assert.deepEqual(nextAction(vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running' }), instance('exited', failed)), { type: 'none' });
});

test('Manual: a start request made after the guest exited boots it again; an older one does not', () => {
  const again = vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running', [START_REQUESTED_ANNOTATION]: '2026-01-01T00:05:00Z' });
  assert.deepEqual(nextAction(again, instance('exited', completed)), { type: 'start', restart: false });
  const old = vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running', [START_REQUESTED_ANNOTATION]: '2025-12-31T00:00:00Z' });
  assert.deepEqual(nextAction(old, instance('exited', completed)), { type: 'none' });
  assert.deepEqual(nextAction(again, instance('running')), { type: 'none' }, 'a running guest is left alone');
});

test('Halted or a stop request stops a running guest once', () => {
  assert.equal(nextAction(vm('Halted'), instance('running')).type, 'stop');
  assert.equal(nextAction(vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Stopped' }), instance('running')).type, 'stop');
  assert.deepEqual(nextAction(vm('Halted'), instance('stopping')), { type: 'none' });
  assert.deepEqual(nextAction(vm('Always'), instance('running')), { type: 'none' });
});

test('a restart request newer than the running boot restarts it, once', () => {
  assert.deepEqual(nextAction(vm('Always', { [RESTART_REQUESTED_ANNOTATION]: '2026-01-01T00:00:10Z' }), instance('running')), { type: 'restart' });
  assert.deepEqual(nextAction(vm('Always', { [RESTART_REQUESTED_ANNOTATION]: '2025-12-31T00:00:00Z' }), instance('running')), { type: 'none' });
  assert.deepEqual(nextAction(vm('Manual', { [RESTART_REQUESTED_ANNOTATION]: '2026-01-01T00:05:00Z' }), instance('exited', completed)), { type: 'restart' });
});

test('status follows the instance: Starting, Running with ip and pid, Failed with the reason', () => {
  const starting = computeStatus(vm('Always'), 'n1', instance('starting'), false, 'T');
  assert.equal(starting.phase, 'Starting');
  assert.equal(starting.conditions![0]!.status, 'False');
  const running = computeStatus(vm('Always'), 'n1', instance('running'), false, 'T');
  assert.equal(running.phase, 'Running');
  assert.equal(running.ip, '10.0.2.15');
  assert.equal(running.pid, 42);
  assert.equal(running.observedGeneration, 3);
  assert.deepEqual(running.conditions![0], { type: 'Ready', status: 'True', reason: 'Booted', message: 'the guest reported its boot marker', lastTransitionTime: 'T' });
  const dead = computeStatus(vm('RerunOnFailure'), 'n1', instance('exited', failed), false, 'T');
  assert.equal(dead.phase, 'Failed');
  assert.equal(dead.reason, 'CommandFailed');
  assert.equal(dead.pid, undefined);
  assert.equal(computeStatus(vm('RerunOnFailure'), 'n1', instance('exited', completed), false).phase, 'Stopped');
  assert.equal(computeStatus(vm('Halted'), 'n1', undefined, false).phase, 'Stopped');
  assert.equal(computeStatus(vm('Always'), 'n1', instance('running'), true).phase, 'Stopping');
});

test('a condition keeps its transition time while its status holds', () => {
  const before = computeStatus(vm('Always'), 'n1', instance('running'), false, 'T1');
  const later = computeStatus({ ...vm('Always'), status: before }, 'n1', instance('running'), false, 'T2');
  assert.equal(later.conditions![0]!.lastTransitionTime, 'T1');
  assert.equal(statusPatch(before, later), undefined, 'nothing to write');
});

test('statusPatch removes fields the new status no longer has', () => {
  assert.deepEqual(statusPatch({ phase: 'Running', pid: 42, ip: 'x' }, { phase: 'Failed' }), { phase: 'Failed', pid: null, ip: null });
});
