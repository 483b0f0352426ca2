/** CrashLoopBackOff as pure functions: the schedule, its reset, and what status says while a VM waits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults, type RunStrategy, type VirtualMachine } from '@shoal/api';
import type { InstanceState } from '../runtime/driver.js';
import { computeStatus, nextAction, statusPatch } from './lifecycle.js';
import {
  backoffDelayMs,
  backsOff,
  formatDelay,
  KUBELET_RESTART_BACKOFF,
  nextBackoff,
  restartBackoffFlagsError,
  type RestartBackoff,
  type RestartBackoffPolicy,
} from './restart-backoff.js';

const kubelet = KUBELET_RESTART_BACKOFF;
const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();

/** A run launched at second `started` that exited at second `exited`. */
const run = (started: number, exited: number, reason = 'CommandFailed'): InstanceState => ({
  uid: 'u1',
  namespace: 'default',
  name: 'web',
  phase: 'exited',
  startedAt: at(started),
  exit: { success: reason === 'Completed', reason, code: reason === 'CommandFailed' ? 1 : undefined, at: at(exited) },
});

/** Steps through runs that each exit `ranS` after launch and are restarted at their step's time. */
function loop(policy: RestartBackoffPolicy, runs: number[]): RestartBackoff[] {
  const steps: RestartBackoff[] = [];
  let start = 0;
  for (const ranS of runs) {
    const step = nextBackoff(policy, steps.at(-1), 1, run(start, start + ranS));
    steps.push(step);
    start = Date.parse(step.nextRestartAt) / 1000 - Date.UTC(2026, 0, 1) / 1000;
  }
  return steps;
}

test('the kubelet schedule: 10 s doubling for each exit in a row, capped at 5 min', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffDelayMs(kubelet, n) / 1000),
    [10, 20, 40, 80, 160, 300, 300, 300],
  );
  const steps = loop(kubelet, [1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(
    steps.map((s) => [s.exits, s.delayMs / 1000]),
    [
      [1, 10],
      [2, 20],
      [3, 40],
      [4, 80],
      [5, 160],
      [6, 300],
      [7, 300],
    ],
  );
  // Counted from the exit: a run that exited at 1 s restarts at 11 s.
  assert.equal(steps[0]!.nextRestartAt, '2026-01-01T00:00:11Z');
});

test('a run that lasted the reset time (10 min) ends the loop: its exit waits 10 s again', () => {
  const steps = loop(kubelet, [1, 1, 1, 600, 1, 599]);
  assert.deepEqual(
    steps.map((s) => s.delayMs / 1000),
    [10, 20, 40, 10, 20, 40],
    'a run of 599 s is not long enough',
  );
});

test('an exit counts once, however often it is looked at; a new spec generation begins a new loop', () => {
  const first = nextBackoff(kubelet, undefined, 1, run(0, 1));
  const second = nextBackoff(kubelet, first, 1, run(11, 12));
  assert.equal(nextBackoff(kubelet, second, 1, run(11, 12)), second, 'the same run: the same step, not the next');
  assert.equal(second.exits, 2);
  // A changed command, or a stop and a start, bumps the generation: that exit waits the base.
  const changed = nextBackoff(kubelet, second, 2, run(11, 12));
  assert.deepEqual([changed.generation, changed.exits, changed.delayMs], [2, 1, 10_000]);
});

test('the next attempt is to the second and never early: rounded up', () => {
  const step = nextBackoff(kubelet, undefined, 1, { ...run(0, 1), exit: { success: false, reason: 'QemuFailed', at: '2026-01-01T00:00:01.300Z' } });
  assert.equal(step.nextRestartAt, '2026-01-01T00:00:12Z');
  // An exit time that cannot be read counts from now.
  const now = Date.parse('2026-01-01T00:05:00Z');
  const unknown = nextBackoff(kubelet, undefined, 1, { ...run(0, 1), exit: { success: false, reason: 'SupervisorLost', at: 'garbage' } }, now);
  assert.equal(unknown.nextRestartAt, '2026-01-01T00:05:10Z');
});

test('which exits back off: any exit of the guest, never a fenced one', () => {
  assert.equal(backsOff(run(0, 1).exit), true);
  assert.equal(backsOff(run(0, 1, 'Completed').exit), true, 'Always restarts a guest that completed: that loops too');
  assert.equal(backsOff(run(0, 1, 'Fenced').exit), false, 'the node lost its lease: not the guest’s doing');
  assert.equal(backsOff(undefined), false);
});

test('durations as the kubelet says them, and flag values that cannot work', () => {
  assert.deepEqual([10_000, 300_000, 160_000, 500, 61_500].map(formatDelay), ['10s', '5m0s', '2m40s', '0.5s', '1m1.5s']);
  assert.equal(restartBackoffFlagsError({ base: 10, max: 300, reset: 600 }), undefined);
  assert.equal(restartBackoffFlagsError({ base: 0.5, max: 0.5, reset: 1 }), undefined);
  assert.match(restartBackoffFlagsError({ base: 0, max: 300, reset: 600 })!, /^--crash-loop-backoff-base 0: must be a number of seconds greater than 0/);
  assert.match(
    restartBackoffFlagsError({ base: 10, max: 5, reset: 600 })!,
    /^--crash-loop-backoff-max 5: must be .* no smaller than --crash-loop-backoff-base \(10\)/,
  );
  assert.match(restartBackoffFlagsError({ base: 10, max: 300, reset: NaN })!, /^--crash-loop-backoff-reset NaN/);
});

const vm = (runStrategy: RunStrategy, restarts: number): VirtualMachine => ({
  ...withDefaults('VirtualMachine', { metadata: { name: 'web', namespace: 'default', uid: 'u1', generation: 1 }, spec: { runStrategy, nodeName: 'n1' } }),
  status: { phase: 'Failed', restarts },
});

test('while it waits: the phase the exit gives, reason CrashLoopBackOff, the restarts and the next attempt; gone once it starts', () => {
  const crashed = run(0, 1);
  assert.deepEqual(nextAction(vm('Always', 3), crashed), { type: 'start', restart: true });
  const step: RestartBackoff = { generation: 1, runStartedAt: crashed.startedAt, exits: 4, delayMs: 80_000, nextRestartAt: '2026-01-01T00:01:21Z' };
  const waiting = computeStatus(vm('Always', 3), 'n1', crashed, false, 'T', step);
  assert.equal(waiting.phase, 'Failed');
  assert.equal(waiting.reason, 'CrashLoopBackOff');
  assert.equal(waiting.restarts, 3);
  assert.equal(waiting.nextRestartAt, '2026-01-01T00:01:21Z');
  assert.equal(
    waiting.message,
    "back-off 1m20s restarting the VM after its guest exited (the guest's command exited with code 1): restarted 3 times so far, next attempt at 2026-01-01T00:01:21Z",
  );
  assert.deepEqual(waiting.conditions![0], { type: 'Ready', status: 'False', reason: 'CrashLoopBackOff', message: waiting.message, lastTransitionTime: 'T' });
  // Always restarts a guest that completed too, and backs off the same way: Stopped, not Failed.
  assert.equal(computeStatus(vm('Always', 1), 'n1', run(0, 1, 'Completed'), false, 'T', step).phase, 'Stopped');

  // Restarted: the agent's patch removes the next attempt, which it owns.
  const starting = computeStatus({ ...vm('Always', 4), status: waiting }, 'n1', { ...crashed, phase: 'starting', exit: undefined }, false, 'T2');
  const patch = statusPatch(waiting, starting)!;
  assert.equal(patch.nextRestartAt, null);
  assert.equal(patch.reason, 'Booting');
});
