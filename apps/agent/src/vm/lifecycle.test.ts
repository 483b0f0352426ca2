import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceState } from '../runtime/driver.js';
import {
  EVICTION_REQUESTED_ANNOTATION,
  REQUESTED_STATE_ANNOTATION,
  RESTART_REQUESTED_ANNOTATION,
  START_REQUESTED_ANNOTATION,
  withDefaults,
  type Condition,
  type EvictionRequest,
  type RunStrategy,
  type VirtualMachine,
  type VirtualMachineStatus,
} from '@shoal/api';
import { computeStatus, evictionStatus, invalidEvictionRequest, nextAction, statusPatch, stoppedOnRequest } from './lifecycle.js';

const vm = (runStrategy: RunStrategy, annotations: Record<string, string> = {}): VirtualMachine =>
  withDefaults('VirtualMachine', {
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

test('a guest the agent stopped on request is started again, not restarted: no back-off, not counted, whatever it exited with', () => {
  const stopped = (exit: NonNullable<InstanceState['exit']>, more: Partial<InstanceState> = {}): InstanceState => ({
    ...instance('exited', exit),
    stopDeadline: '2026-01-01T00:00:50Z',
    ...more,
  });
  const shutDown = { success: true, reason: 'ShutDown', at: '2026-01-01T00:00:45Z' };
  for (const exit of [shutDown, killed]) {
    assert.equal(stoppedOnRequest(stopped(exit)), true);
    assert.deepEqual(nextAction(vm('Always'), stopped(exit)), { type: 'start', restart: false });
    assert.deepEqual(
      nextAction(vm('RerunOnFailure'), stopped(exit)),
      { type: 'start', restart: false },
      'a clean shutdown on request is no success to stay down for',
    );
    assert.deepEqual(nextAction(vm('Halted'), stopped(exit)), { type: 'none' }, 'still stopped');
  }
  assert.deepEqual(
    nextAction(vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running' }), stopped(shutDown)),
    { type: 'none' },
    'Manual boots only on a start request',
  );
  // Not on request: killed by the agent for a failure (the boot timeout), fenced, or exited on its own.
  const killedForFailure = stopped(killed, { killed: true });
  assert.equal(stoppedOnRequest(killedForFailure), false);
  assert.deepEqual(nextAction(vm('Always'), killedForFailure), { type: 'start', restart: true });
  const fencedWhileStopping = stopped({ success: false, reason: 'Fenced', at: '2026-01-01T00:00:46Z' });
  assert.equal(stoppedOnRequest(fencedWhileStopping), false);
  assert.deepEqual(nextAction(vm('Always'), fencedWhileStopping), { type: 'start', restart: true });
  assert.equal(stoppedOnRequest(instance('exited', failed)), false);
  assert.equal(stoppedOnRequest(instance('stopping')), false, 'not exited yet');
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
  assert.deepEqual(running.conditions![0], {
    type: 'Ready',
    status: 'True',
    reason: 'Booted',
    message: 'the guest reported its boot marker',
    lastTransitionTime: 'T',
  });
  const dead = computeStatus(vm('RerunOnFailure'), 'n1', instance('exited', failed), false, 'T');
  assert.equal(dead.phase, 'Failed');
  assert.equal(dead.reason, 'CommandFailed');
  assert.equal(dead.pid, undefined);
  assert.equal(computeStatus(vm('RerunOnFailure'), 'n1', instance('exited', completed), false).phase, 'Stopped');
  assert.equal(computeStatus(vm('Halted'), 'n1', undefined, false).phase, 'Stopped');
  assert.equal(computeStatus(vm('Always'), 'n1', instance('running'), true).phase, 'Stopping');
});

test('a fenced guest: Failed, reason Fenced, saying why; Always and RerunOnFailure restart it, Manual and Halted do not', () => {
  const fenced = { success: false, reason: 'Fenced', at: '2026-01-01T00:01:00Z' };
  const status = computeStatus(vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running' }), 'n1', instance('exited', fenced), false, 'T');
  assert.equal(status.phase, 'Failed');
  assert.equal(status.reason, 'Fenced');
  assert.match(status.message!, /^fenced: n1 went longer than its fence timeout without renewing its lease/);
  assert.equal(status.conditions![0]!.reason, 'Fenced');
  assert.deepEqual(nextAction(vm('Always'), instance('exited', fenced)), { type: 'start', restart: true });
  assert.deepEqual(nextAction(vm('RerunOnFailure'), instance('exited', fenced)), { type: 'start', restart: true });
  assert.deepEqual(nextAction(vm('Manual', { [REQUESTED_STATE_ANNOTATION]: 'Running' }), instance('exited', fenced)), { type: 'none' });
  assert.deepEqual(nextAction(vm('Halted'), instance('exited', fenced)), { type: 'none' });
});

test('a condition keeps its transition time while its status holds', () => {
  const before = computeStatus(vm('Always'), 'n1', instance('running'), false, 'T1');
  const later = computeStatus({ ...vm('Always'), status: before }, 'n1', instance('running'), false, 'T2');
  assert.equal(later.conditions![0]!.lastTransitionTime, 'T1');
  assert.equal(statusPatch(before, later), undefined, 'nothing to write');
});

test('statusPatch removes fields the new status no longer has', () => {
  assert.deepEqual(statusPatch({ phase: 'Running', pid: 42, ip: 'x' }, { phase: 'Failed' }), { phase: 'Failed', pid: null, ip: null });
  // Fields other writers own (the preemptor's preemptedBy) are not the agent's to remove.
  assert.deepEqual(statusPatch({ phase: 'Running', preemptedBy: 'default/db' } as VirtualMachineStatus, { phase: 'Stopping' }), { phase: 'Stopping' });
});

const preempted: EvictionRequest = {
  reason: 'Preempted',
  message: 'preempted by default/db (priority 900)',
  gracePeriodSeconds: 0,
  requestedAt: '2026-01-01T00:02:00Z',
};
const evicted = (runStrategy: RunStrategy, request: object | string = preempted, extra: Record<string, string> = {}) =>
  vm(runStrategy, { ...extra, [EVICTION_REQUESTED_ANNOTATION]: typeof request === 'string' ? request : JSON.stringify(request) });

test('an eviction request stops a live guest within its grace, then removes it', () => {
  assert.deepEqual(nextAction(evicted('Always'), instance('running')), { type: 'evict', request: preempted, graceMs: 0, stop: true, remove: true });
  assert.deepEqual(nextAction(evicted('Always'), instance('starting')), { type: 'evict', request: preempted, graceMs: 0, stop: true, remove: true });
  assert.equal(nextAction(evicted('Always', { ...preempted, gracePeriodSeconds: 30 }), instance('stopping')).type, 'evict');
  const graceful = nextAction(evicted('Always', { ...preempted, gracePeriodSeconds: 30 }), instance('running'));
  assert.equal(graceful.type === 'evict' && graceful.graceMs, 30_000);
});

test('an eviction with nothing left running only unbinds, whatever the runStrategy', () => {
  // An exited guest: forget it, but never start it here again (Always would otherwise restart it).
  assert.deepEqual(nextAction(evicted('Always'), instance('exited', failed)), { type: 'evict', request: preempted, graceMs: 0, stop: false, remove: true });
  // No instance (a restarted agent after the stop, a Halted VM): straight to the unbind.
  assert.deepEqual(nextAction(evicted('Always'), undefined), { type: 'evict', request: preempted, graceMs: 0, stop: false, remove: false });
  assert.deepEqual(nextAction(evicted('Halted'), undefined), { type: 'evict', request: preempted, graceMs: 0, stop: false, remove: false });
  // It wins over a restart request too: the VM is leaving this node.
  assert.equal(nextAction(evicted('Always', preempted, { [RESTART_REQUESTED_ANNOTATION]: '2026-01-01T00:10:00Z' }), instance('running')).type, 'evict');
});

test('an invalid eviction annotation is ignored, and reported as invalid', () => {
  for (const bad of [
    'yes',
    '{}',
    JSON.stringify({ reason: 'Preempted' }),
    JSON.stringify({ reason: 'Preempted', gracePeriodSeconds: -1 }),
    JSON.stringify({ gracePeriodSeconds: 0 }),
  ]) {
    assert.deepEqual(nextAction(evicted('Always', bad), instance('running')), { type: 'none' }, bad);
    assert.equal(invalidEvictionRequest(evicted('Always', bad)), bad);
  }
  assert.equal(invalidEvictionRequest(evicted('Always')), undefined, 'a valid request is not invalid');
  assert.equal(invalidEvictionRequest(vm('Always')), undefined, 'no annotation is not invalid');
});

test('eviction status: Stopping with the request reason while the guest stops; the agent writes nothing of a VM it unbinds', () => {
  const before = computeStatus(vm('Always'), 'n1', instance('running'), false, 'T1');
  const scheduled: Condition = { type: 'Scheduled', status: 'True', reason: 'Bound', message: 'bound to n1', lastTransitionTime: 'T0' };
  const running = { ...vm('Always'), status: { ...before, conditions: [...before.conditions!, scheduled] } };

  const stopping = evictionStatus(running, 'n1', { ...instance('running'), phase: 'stopping' }, preempted, 'T2');
  assert.equal(stopping.phase, 'Stopping');
  assert.equal(stopping.nodeName, 'n1');
  assert.equal(stopping.reason, 'Preempted');
  assert.equal(stopping.message, preempted.message);
  assert.equal(stopping.observedGeneration, 3);
  assert.deepEqual(
    stopping.conditions!.find((c) => c.type === 'Ready'),
    { type: 'Ready', status: 'False', reason: 'Preempted', message: preempted.message, lastTransitionTime: 'T2' },
  );
  assert.deepEqual(
    stopping.conditions!.find((c) => c.type === 'Scheduled'),
    scheduled,
    "the scheduler's condition is not the agent's to change",
  );
  // As a patch on the Running status: only the agent's own fields.
  const patch = statusPatch(running.status, stopping)!;
  assert.deepEqual(Object.keys(patch).sort(), ['conditions', 'ip', 'message', 'phase', 'reason']);
  assert.equal(patch.ip, null, 'a stopping guest has no address to report');
});
