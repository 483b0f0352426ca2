/**
 * The backup-schedule controller's pure decisions over plain objects and a given clock: when a
 * run is made (the first after creation, one catch-up for many missed, the starting deadline,
 * paused), which Backups retention deletes (keepLast, maxAge, failures counted apart, never one
 * still running) and the status it writes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCondition, parseSchedule, type Backup, type BackupPhase, type BackupSchedule } from '@shoal/api';
import { backupForRun, ownBackups } from './reconcile.js';
import { retentionPlan } from './retention.js';
import { decideRun } from './runs.js';
import { BACKUP_REFUSED, computeStatus, INVALID_TIME_ZONE, NO_NEXT_RUN, PAUSED, READY_CONDITION, SCHEDULED } from './status.js';

const at = (iso: string) => Date.parse(iso);
const hourly = parseSchedule({ schedule: '0 * * * *', timeZone: 'UTC' }, 'default/nightly');
const created = '2024-01-01T00:30:00Z';

test('runs: none before the first time after creation, then that one, once', () => {
  assert.deepEqual(decideRun(hourly, { creationTimestamp: created }, at('2024-01-01T00:59:59Z')), { next: at('2024-01-01T01:00:00Z') });
  // A run from before the schedule existed is not its to make.
  assert.equal(decideRun(hourly, { creationTimestamp: '2024-01-01T00:00:00Z' }, at('2024-01-01T00:00:30Z')).run, undefined);
  const due = decideRun(hourly, { creationTimestamp: created }, at('2024-01-01T01:00:00.200Z'));
  assert.deepEqual(due, { run: at('2024-01-01T01:00:00Z'), missedEarlier: false, next: at('2024-01-01T02:00:00Z') });
  // Made (status says so): nothing more until the next.
  assert.deepEqual(decideRun(hourly, { creationTimestamp: created, lastScheduleTime: '2024-01-01T01:00:00Z' }, at('2024-01-01T01:30:00Z')), {
    next: at('2024-01-01T02:00:00Z'),
  });
});

test('runs: after a day down, one catch-up run for the most recent missed time, not a burst', () => {
  const now = at('2024-01-02T05:20:00Z');
  const d = decideRun(hourly, { creationTimestamp: created, lastScheduleTime: '2024-01-01T04:00:00Z' }, now);
  assert.deepEqual(d, { run: at('2024-01-02T05:00:00Z'), missedEarlier: true, next: at('2024-01-02T06:00:00Z') });
  // Once it is recorded, the 25 runs in between are not made.
  assert.equal(decideRun(hourly, { creationTimestamp: created, lastScheduleTime: '2024-01-02T05:00:00Z' }, now).run, undefined);
});

test('runs: a run later than startingDeadlineSeconds is skipped, one within it is made', () => {
  const input = { creationTimestamp: created, lastScheduleTime: '2024-01-01T04:00:00Z', startingDeadlineSeconds: 600 };
  assert.deepEqual(decideRun(hourly, input, at('2024-01-01T07:11:00Z')), {
    skip: at('2024-01-01T07:00:00Z'),
    missedEarlier: true,
    next: at('2024-01-01T08:00:00Z'),
  });
  assert.deepEqual(decideRun(hourly, input, at('2024-01-01T07:09:00Z')), {
    run: at('2024-01-01T07:00:00Z'),
    missedEarlier: true,
    next: at('2024-01-01T08:00:00Z'),
  });
  // The next run, on time, is made as usual (the skipped one was never recorded as made).
  assert.equal(decideRun(hourly, input, at('2024-01-01T08:00:01Z')).run, at('2024-01-01T08:00:00Z'));
});

test('runs: paused makes nothing and has no next run; unpaused makes the most recent missed run once', () => {
  const input = { creationTimestamp: created, lastScheduleTime: '2024-01-01T01:00:00Z' };
  assert.deepEqual(decideRun(hourly, { ...input, paused: true }, at('2024-01-01T09:30:00Z')), {});
  assert.deepEqual(decideRun(hourly, { ...input, paused: false }, at('2024-01-01T09:30:00Z')), {
    run: at('2024-01-01T09:00:00Z'),
    missedEarlier: true,
    next: at('2024-01-01T10:00:00Z'),
  });
  // With a starting deadline, a run missed long ago while paused is skipped instead.
  assert.equal(decideRun(hourly, { ...input, startingDeadlineSeconds: 60 }, at('2024-01-01T09:30:00Z')).skip, at('2024-01-01T09:00:00Z'));
});

const schedule = (over: Partial<BackupSchedule['spec']> = {}, status?: BackupSchedule['status']): BackupSchedule => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'BackupSchedule',
  metadata: { name: 'nightly', namespace: 'default', uid: 'sched-uid', generation: 3, creationTimestamp: created },
  spec: { schedule: '0 * * * *', timeZone: 'UTC', paused: false, template: { mode: 'Full', ttl: '720h', vmNames: ['web'] }, ...over },
  ...(status ? { status } : {}),
});

let serial = 0;
function backup(phase: BackupPhase | undefined, createdAt: string, extra: { completion?: string; deleting?: boolean; owner?: string } = {}): Backup {
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Backup',
    metadata: {
      name: `b-${String(serial++).padStart(3, '0')}`,
      namespace: 'default',
      uid: `u-${serial}`,
      creationTimestamp: createdAt,
      ...(extra.deleting ? { deletionTimestamp: createdAt } : {}),
      ownerReferences: [{ apiVersion: 'shoal.dev/v1alpha1', kind: 'BackupSchedule', name: 'nightly', uid: extra.owner ?? 'sched-uid', controller: true }],
    },
    spec: { mode: 'Full', ttl: '720h' },
    ...(phase ? { status: { phase, ...(extra.completion ? { completionTimestamp: extra.completion } : {}) } } : {}),
  };
}
const names = (bs: { backup: Backup }[]) => bs.map((b) => b.backup.metadata.name);
const hour = (h: number) => `2024-01-01T${String(h).padStart(2, '0')}:00:00Z`;

test("a run's Backup: the template, the label and the schedule as its controller; its own are known by uid", () => {
  const b = backupForRun(schedule(), at('2024-01-01T05:00:00Z'));
  assert.equal(b.metadata?.name, 'nightly-20240101050000');
  assert.deepEqual(b.metadata?.labels, { 'shoal.dev/backup-schedule': 'nightly' });
  assert.deepEqual(b.metadata?.ownerReferences, [
    { apiVersion: 'shoal.dev/v1alpha1', kind: 'BackupSchedule', name: 'nightly', uid: 'sched-uid', controller: true },
  ]);
  assert.deepEqual(b.spec, { mode: 'Full', ttl: '720h', vmNames: ['web'] });
  const mine = backup('Completed', hour(1));
  const older = backup('Completed', hour(1), { owner: 'an-older-schedule-of-that-name' });
  assert.deepEqual(ownBackups(schedule(), [mine, older]), [mine]);
});

test('retention keepLast: the newest N Completed, failures counted apart, never one New, InProgress or already going', () => {
  const completed = [1, 2, 3, 4].map((h) => backup('Completed', hour(h)));
  const failed = [backup('Failed', hour(5)), backup('PartiallyFailed', hour(6)), backup('Failed', hour(7))];
  const running = [backup('InProgress', hour(0)), backup('New', hour(0)), backup(undefined, hour(0)), backup('Deleting', hour(0))];
  const going = backup('Completed', hour(0), { deleting: true });
  const plan = retentionPlan([...completed, ...failed, ...running, going], { keepLast: 2 }, at(hour(8)));
  assert.deepEqual(names(plan.delete).sort(), [completed[0], completed[1], failed[0]].map((b) => b.metadata.name).sort());
  assert.equal(plan.recheckAt, undefined);
  // Three failures after the last success do not push it out.
  assert.deepEqual(
    names(retentionPlan([completed[3]!, ...failed], { keepLast: 1 }, at(hour(8))).delete).sort(),
    [failed[0], failed[1]].map((b) => b.metadata.name).sort(),
  );
  // No retention: nothing (their ttl is the backup controller's).
  assert.deepEqual(retentionPlan([...completed, ...failed], undefined, at(hour(8))).delete, []);
  assert.deepEqual(retentionPlan([...completed, ...failed], {}, at(hour(8))).delete, []);
});

test('retention maxAge: finished ones made longer ago go, whatever keepLast says; look again when the next one gets that old', () => {
  const old = backup('Completed', hour(1));
  const oldFailed = backup('Failed', hour(1));
  const young = backup('Completed', hour(5));
  const stillRunning = backup('InProgress', hour(0));
  const plan = retentionPlan([old, oldFailed, young, stillRunning], { maxAge: '3h', keepLast: 5 }, at(hour(6)));
  assert.deepEqual(names(plan.delete).sort(), [old.metadata.name, oldFailed.metadata.name].sort());
  assert.equal(plan.recheckAt, at(hour(8)));
});

test('status: the run made, the last success (never going back), the next run and Ready', () => {
  const now = '2024-01-01T05:00:01Z';
  const done = backup('Completed', hour(3), { completion: '2024-01-01T03:10:00Z' });
  const s = computeStatus(
    schedule({}, { lastSuccessfulTime: '2024-01-01T01:10:00Z' }),
    { own: [done, backup('InProgress', hour(4))], made: { time: at(hour(5)), backup: 'nightly-20240101050000' }, next: at(hour(6)) },
    now,
  );
  assert.equal(s.lastScheduleTime, hour(5));
  assert.equal(s.lastBackup, 'nightly-20240101050000');
  assert.equal(s.lastSuccessfulTime, '2024-01-01T03:10:00Z');
  assert.equal(s.nextScheduleTime, hour(6));
  assert.equal(s.observedGeneration, 3);
  assert.deepEqual(findCondition(s.conditions, READY_CONDITION), {
    type: READY_CONDITION,
    status: 'True',
    reason: SCHEDULED,
    message: 'Backups are made on "0 * * * *" (UTC)',
    lastTransitionTime: now,
  });
  // Retention deleted that Backup since: lastSuccessfulTime stays.
  assert.equal(computeStatus(schedule({}, s), { own: [], next: at(hour(6)) }, now).lastSuccessfulTime, '2024-01-01T03:10:00Z');

  const paused = computeStatus(schedule({ paused: true }, s), { own: [] }, now);
  assert.equal(paused.nextScheduleTime, undefined);
  assert.equal(paused.lastScheduleTime, hour(5), 'the last run made is still said');
  assert.deepEqual([findCondition(paused.conditions, READY_CONDITION)?.status, findCondition(paused.conditions, READY_CONDITION)?.reason], ['True', PAUSED]);

  const invalid = computeStatus(schedule({ timeZone: 'Mars/Olympus' }), { own: [], invalid: { field: 'spec.timeZone', message: 'unknown time zone' } }, now);
  assert.deepEqual(
    [findCondition(invalid.conditions, READY_CONDITION)?.status, findCondition(invalid.conditions, READY_CONDITION)?.reason],
    ['False', INVALID_TIME_ZONE],
  );
  assert.equal(findCondition(computeStatus(schedule(), { own: [] }, now).conditions, READY_CONDITION)?.reason, NO_NEXT_RUN);
});

test('status: a refused Backup is said until a run is made or the spec changes', () => {
  const now = '2024-01-01T05:00:01Z';
  const refused = computeStatus(schedule(), { own: [], refused: 'the Backup was refused', next: at(hour(6)) }, now);
  const said = (s: BackupSchedule['status']) => findCondition(s?.conditions, READY_CONDITION)?.reason;
  assert.equal(said(refused), BACKUP_REFUSED);
  assert.equal(said(computeStatus(schedule({}, refused), { own: [], next: at(hour(6)) }, now)), BACKUP_REFUSED);
  const changed = { ...schedule({}, refused), metadata: { ...schedule().metadata, generation: 4 } };
  assert.equal(said(computeStatus(changed, { own: [], next: at(hour(6)) }, now)), SCHEDULED);
  assert.equal(said(computeStatus(schedule({}, refused), { own: [], made: { time: at(hour(6)), backup: 'x' }, next: at(hour(7)) }, now)), SCHEDULED);
});
