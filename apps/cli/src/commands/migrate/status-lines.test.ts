import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults, type Manifest, type Migration } from '@shoal/api';
import { UsageError } from '../../cli-errors.js';
import { migrationManifest } from './migrate.js';
import { statusText } from '../../output/wait-progress.js';
import { barLine, interruptedMessage, migrationStatus, outcome, pendingHint } from './status-lines.js';

const MiB = 1024 * 1024;

const migration = (status: Migration['status'], spec: Manifest<Migration['spec']> = {}): Migration =>
  withDefaults('Migration', { metadata: { name: 'web-x7k2p', namespace: 'prod' }, spec: { vmName: 'web', ...spec }, status });

test('the status a log gets: phase, then bytes once counted', () => {
  const text = (m: Migration) => statusText(migrationStatus(m, undefined));
  assert.equal(text(migration(undefined)), 'Pending');
  assert.equal(text(migration({ phase: 'Scheduling' })), 'Scheduling');
  assert.equal(text(migration({ phase: 'Running', totalBytes: 256 * MiB, transferredBytes: 48 * MiB })), 'Running 48.0 MiB/256.0 MiB');
  assert.equal(text(migration({ phase: 'Running', totalBytes: 256 * MiB })), 'Running 0 B/256.0 MiB');
  assert.equal(text(migration({ phase: 'Running', transferredBytes: 3 * MiB })), 'Running 3.0 MiB');
  const running = migration({ phase: 'Running', totalBytes: 256 * MiB, transferredBytes: 64 * MiB, remainingBytes: 192 * MiB });
  assert.equal(
    migrationStatus(running, 16 * MiB).terminalLine?.(9_100, 120),
    barLine(running, { rate: 16 * MiB, elapsedMs: 9_100, columns: 120 }),
    'a terminal gets the bar line',
  );
});

test('the terminal line: a bar, bytes, percent, rate and ETA while running, fitted to the width', () => {
  const running = migration({ phase: 'Running', totalBytes: 256 * MiB, transferredBytes: 64 * MiB, remainingBytes: 192 * MiB });
  const wide = barLine(running, { rate: 16 * MiB, elapsedMs: 9_100, columns: 120 });
  assert.equal(wide, `web-x7k2p Running  [${'='.repeat(10)}>${' '.repeat(29)}]  64.0 MiB/256.0 MiB  25%  16.0 MiB/s  ETA 12s`);
  const narrow = barLine(running, { rate: 16 * MiB, elapsedMs: 9_100, columns: 80 });
  assert.match(narrow, /^web-x7k2p Running {2}\[=+> *\] {2}64\.0 MiB\/256\.0 MiB {2}25% {2}16\.0 MiB\/s {2}ETA 12s$/);
  assert.equal(
    barLine({ ...running, status: { ...running.status, transferredBytes: 128 * MiB } }, { rate: 8 * MiB, elapsedMs: 9_100, columns: 80 }).indexOf(']'),
    narrow.indexOf(']'),
    'the bar keeps its width as the figures after it change',
  );
  assert.match(barLine(running, { elapsedMs: 9_100, columns: 100 }), /25% {2}9s$/, 'before a rate: time followed');
  const tiny = barLine(running, { rate: 16 * MiB, elapsedMs: 9_100, columns: 40 });
  assert.doesNotMatch(tiny, /\[/, 'no room, no bar');
  assert.equal(tiny.length, 39, 'never wider than the terminal');
  assert.equal(barLine(migration({ phase: 'Scheduling' }), { elapsedMs: 1_500, columns: 120 }), 'web-x7k2p Scheduling  1s');
  assert.doesNotMatch(barLine(migration({ phase: 'TargetReady', totalBytes: 256 * MiB }), { rate: 5, elapsedMs: 0 }), /ETA/, 'no rate outside Running');
});

test('success: one line for scripts, from source to target with the downtime', () => {
  const done = migration({ phase: 'Succeeded', sourceNode: 'node-a', targetNode: 'node-b', downtimeMs: 42 });
  assert.deepEqual(outcome(done), { stdout: 'virtualmachine/web migrated from node-a to node-b (downtime 42 ms)\n', stderr: undefined, exitCode: 0 });
  const sparse = outcome(migration({ phase: 'Succeeded', targetNode: 'node-b' }), 'node-a');
  assert.equal(sparse.stdout, 'virtualmachine/web migrated from node-a to node-b\n', 'the VM node seen at the start when the status has none');
  const fellBack = outcome(migration({ phase: 'Succeeded', mode: 'Cold', sourceNode: 'a', targetNode: 'b', downtimeMs: 5300 }, { allowColdFallback: true }));
  assert.equal(fellBack.exitCode, 0);
  assert.match(fellBack.stderr!, /fell back to a cold migration: the guest was restarted on b/);
});

test('failure and abort: reason and message on stderr, exit 1; a side failure that adds something is shown', () => {
  const failed = outcome(migration({ phase: 'Failed', reason: 'TargetNotEligible', message: 'node "node-z" not found' }));
  assert.deepEqual(failed, { stderr: 'error: migration web-x7k2p failed (TargetNotEligible): node "node-z" not found\n', exitCode: 1 });
  const withSides = outcome(
    migration({
      phase: 'Failed',
      sourceNode: 'node-a',
      targetNode: 'node-b',
      reason: 'TargetFailed',
      message: 'the target QEMU exited',
      target: { failure: { reason: 'TargetFailed', message: 'the target QEMU exited' } },
      source: { failure: { reason: 'Cancelled', message: 'migrate_cancel after the target failed' } },
    }),
  );
  assert.equal(
    withSides.stderr,
    'error: migration web-x7k2p failed (TargetFailed): the target QEMU exited\n  source node-a: Cancelled: migrate_cancel after the target failed\n',
  );
  assert.equal(outcome(migration({ phase: 'Aborted', reason: 'Deleted' })).stderr, 'error: migration web-x7k2p was aborted (Deleted): no message given\n');
});

test('Ctrl-C: the migration goes on, and how to follow or abort it', () => {
  const text = interruptedMessage(migration({ phase: 'Running' }), 'prod');
  assert.match(text, /^stopped following migration web-x7k2p \(Running\); the migration goes on\.$/m);
  assert.match(text, /shoalctl -n prod get migration web-x7k2p -w/);
  assert.match(text, /abort it: +shoalctl -n prod delete migration web-x7k2p$/m);
  assert.doesNotMatch(interruptedMessage(migration({ phase: 'Running' }), 'default'), /-n /);
  assert.match(pendingHint(migration(undefined), 30_000), /still Pending after 30s/);
});

test('the Migration asked for: generateName from the VM, mode, target and policy from the flags', () => {
  assert.deepEqual(migrationManifest('web', { to: 'node-b', cold: false, bandwidth: 100, maxDowntime: 50 }), {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Migration',
    metadata: { generateName: 'web-' },
    spec: { vmName: 'web', targetNode: 'node-b', mode: 'Live', policy: { bandwidthMiBps: 100, maxDowntimeMs: 50 } },
  });
  assert.deepEqual(migrationManifest('db', { cold: true }).spec, { vmName: 'db', mode: 'Cold', policy: {} });
  assert.equal(migrationManifest(`${'a'.repeat(57)}.b`, { cold: false }).metadata!.generateName, `${'a'.repeat(57)}-`, 'a long name is cut');
  assert.throws(() => migrationManifest('web', { cold: true, maxDowntime: 100 }), UsageError);
  assert.deepEqual(migrationManifest('db', { cold: false, allowColdFallback: true }).spec, { vmName: 'db', mode: 'Live', allowColdFallback: true, policy: {} });
  assert.throws(() => migrationManifest('web', { cold: true, allowColdFallback: true }), /nothing to fall back from/);
  assert.throws(() => migrationManifest('web', { cold: false, bandwidth: 0 }), /--bandwidth must be a whole number ≥ 1, got 0/);
  assert.throws(() => migrationManifest('web', { cold: false, maxDowntime: 1.5 }), UsageError);
  assert.throws(() => migrationManifest('web', { cold: false, to: '' }), /--to: give the name of a node/);
});
