import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds, withDefaults, type Event, type Migration } from '@shoal/api';
import { renderMigration } from './migration.js';

const kind = kinds().find('Migration')!;
const MiB = 1024 * 1024;
const now = Date.parse('2024-01-01T00:01:00Z');

const base = (status: Migration['status'], spec: Partial<Migration['spec']> = {}): Migration =>
  withDefaults('Migration', {
    metadata: { name: 'web-x7k2p', namespace: 'prod', uid: 'm1', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { vmName: 'web', targetNode: 'node-b', ...spec },
    status,
  });

const succeeded = base({
  phase: 'Succeeded',
  mode: 'Live',
  sourceNode: 'node-a',
  targetNode: 'node-b',
  totalBytes: 256 * MiB,
  transferredBytes: 256 * MiB,
  remainingBytes: 0,
  downtimeMs: 42,
  phaseTransitions: [
    { phase: 'Pending', time: '2024-01-01T00:00:00.000Z' },
    { phase: 'Scheduling', time: '2024-01-01T00:00:00.120Z' },
    { phase: 'PreparingTarget', time: '2024-01-01T00:00:00.300Z' },
    { phase: 'TargetReady', time: '2024-01-01T00:00:01.500Z' },
    { phase: 'Running', time: '2024-01-01T00:00:01.600Z' },
    { phase: 'Succeeded', time: '2024-01-01T00:00:09.800Z' },
  ],
  source: { startedAt: '2024-01-01T00:00:01.600Z', completedAt: '2024-01-01T00:00:09.700Z', qemuDowntimeMs: 30 },
  target: { readyAt: '2024-01-01T00:00:01.500Z', resumedAt: '2024-01-01T00:00:09.790Z' },
});

test('a finished migration: VM, mode, nodes, bytes, downtime, policy, both sides and its phases with durations', () => {
  const text = renderMigration(kind, succeeded, [], now);
  assert.match(text, /^Name:\s+web-x7k2p$/m);
  assert.match(text, /^Namespace:\s+prod$/m);
  assert.match(text, /^VM:\s+web$/m);
  assert.match(text, /^Mode:\s+Live$/m);
  assert.match(text, /^Nodes:\s+node-a → node-b$/m);
  assert.match(text, /^Phase:\s+Succeeded$/m);
  assert.doesNotMatch(text, /^Reason:/m);
  assert.match(text, /^Transferred:\s+256\.0 MiB\/256\.0 MiB \(100%\)$/m);
  assert.match(text, /^Downtime:\s+42 ms \(QEMU paused the source 30 ms\)$/m);
  assert.match(text, /^Policy:\s+bandwidth unlimited, max downtime 300 ms, give up after 150 s per GiB, auto-converge on$/m);
  assert.match(text, /^Source:\s+node-a: started 2024-01-01T00:00:01\.600Z, completed 2024-01-01T00:00:09\.700Z$/m);
  assert.match(text, /^Target:\s+node-b: ready 2024-01-01T00:00:01\.500Z, resumed 2024-01-01T00:00:09\.790Z$/m);
  assert.match(
    text,
    new RegExp(
      [
        '^Phases:',
        '  Phase +Began +Lasted',
        '  -----  +-----  +------',
        '  Pending +2024-01-01T00:00:00\\.000Z +120ms',
        '  Scheduling +2024-01-01T00:00:00\\.120Z +180ms',
        '  PreparingTarget +2024-01-01T00:00:00\\.300Z +1\\.2s',
        '  TargetReady +2024-01-01T00:00:01\\.500Z +100ms',
        '  Running +2024-01-01T00:00:01\\.600Z +8\\.2s',
        '  Succeeded +2024-01-01T00:00:09\\.800Z$',
      ].join('\n'),
      'm',
    ),
  );
  assert.match(text, /^Events:\s+<none>$/m);
  assert.doesNotMatch(text, /^Spec:|^Status:/m, 'described, not dumped');
});

test('a running migration: bytes to go, the current phase so far; a failed one: reason, message and the side that failed', () => {
  const running = renderMigration(
    kind,
    base(
      {
        phase: 'Running',
        sourceNode: 'node-a',
        totalBytes: 256 * MiB,
        transferredBytes: 48 * MiB,
        phaseTransitions: [{ phase: 'Running', time: '2024-01-01T00:00:50Z' }],
      },
      { targetNode: undefined, policy: { bandwidthMiBps: 100, maxDowntimeMs: 50, completionTimeoutPerGiBSeconds: 150, autoConverge: false } },
    ),
    [],
    now,
  );
  assert.match(running, /^Transferred:\s+48\.0 MiB\/256\.0 MiB \(18%\), 208\.0 MiB to go$/m);
  assert.match(running, /^Nodes:\s+node-a → <not chosen yet>$/m);
  assert.match(running, /^  Running +2024-01-01T00:00:50Z +10s so far$/m);
  assert.match(running, /^Downtime:\s+<none>$/m);
  assert.match(running, /^Policy:\s+bandwidth 100 MiB\/s, max downtime 50 ms, give up after 150 s per GiB, auto-converge off$/m);

  const failed = renderMigration(
    kind,
    base({
      phase: 'Failed',
      mode: 'Live',
      reason: 'TargetNotEligible',
      message: 'node "node-z" not found',
      target: { failure: { reason: 'TargetNotEligible', message: 'node "node-z" not found' } },
    }),
    [],
    now,
  );
  assert.match(failed, /^Reason:\s+TargetNotEligible$/m);
  assert.match(failed, /^Message:\s+node "node-z" not found$/m);
  assert.match(failed, /^Nodes:\s+<unknown> → node-b$/m);
  assert.match(failed, /^Target:\s+failed: TargetNotEligible: node "node-z" not found$/m);
  assert.match(failed, /^Source:\s+<none>$/m);
  assert.match(failed, /^Phases:\s+<none>$/m);
  assert.match(failed, /^Transferred:\s+<none>$/m);
});

test('a cold fallback says so; events about the migration are listed', () => {
  const event: Event = withDefaults('Event', {
    metadata: { name: 'e1', namespace: 'prod' },
    involvedObject: { kind: 'Migration', name: 'web-x7k2p', namespace: 'prod', uid: 'm1' },
    reason: 'FellBack',
    message: 'live transfer did not converge',
    type: 'Warning',
    lastTimestamp: '2024-01-01T00:00:30Z',
    source: { component: 'migration-controller' },
  });
  const text = renderMigration(kind, base({ phase: 'Running', mode: 'Cold' }, { allowColdFallback: true }), [event], now);
  assert.match(text, /^Mode:\s+Cold \(fell back from Live\)$/m);
  assert.match(text, /, cold fallback allowed$/m);
  assert.match(
    text,
    /^Events:\n  Type\s+Reason\s+Age\s+From\s+Message\n.*\n  Warning\s+FellBack\s+30s\s+migration-controller\s+live transfer did not converge$/m,
  );
});
