/**
 * The backup-schedule controller on a secured cluster (its own identity and RBAC role): a real
 * etcd, a real apiserver and the controller-manager running only this controller. The backup
 * controller, which would carry the Backups out, is not running: the test, as an admin, marks
 * them Completed through the status subresource, as that controller would.
 *
 *   a schedule every second       → Backups named for their runs, labelled and owned by it
 *   keepLast 2, Backups Completed → the older ones deleted (held by their data finalizer)
 *   paused                        → no new Backups, retention still applies; unpaused: again
 *   the controller down a while   → one catch-up run when it is back, not one per missed second
 *   a bad cron, time zone or template → refused by the apiserver, with the field
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, BACKUP_SCHEDULE_LABEL, findCondition, timestamp, type Backup, type BackupSchedule } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor, waitForObject } from '@shoal/testing';
import { refusals, withSystemCluster } from '../test-support/system-cluster.js';
import { PAUSED, READY_CONDITION, SCHEDULED } from './status.js';

const NS = { namespace: 'default' };
const RUN_NAME = /^every-(\d{14})$/;

async function backupsOf(client: ShoalClient, schedule: string): Promise<Backup[]> {
  const list = await client.list<Backup>('backup', { ...NS, labelSelector: `${BACKUP_SCHEDULE_LABEL}=${schedule}` });
  return list.items.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
}

/** The run time a Backup's name carries, in ms. */
function runTime(b: Backup): number {
  const d = RUN_NAME.exec(b.metadata.name!)![1]!;
  return Date.parse(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(8, 10)}:${d.slice(10, 12)}:${d.slice(12, 14)}Z`);
}

async function refusedField(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError && err.code === 422, String(err));
    return (err.details?.causes ?? []).map((c) => c.field ?? '');
  }
  assert.fail('not refused');
}

test('backup schedules: runs made, labelled and owned; keepLast prunes; paused makes none; one catch-up after downtime; bad input refused', async () => {
  await withSystemCluster({ controllers: ['backup-schedule'], secured: true }, async (c) => {
    const { client } = c;

    // Refused with the field that is wrong, and nothing stored.
    const manifest = (spec: Record<string, unknown>) => ({ metadata: { name: 'bad' }, spec: { schedule: '0 3 * * *', ...spec } });
    assert.deepEqual(await refusedField(client.create('backupschedule', manifest({ schedule: '61 * * * *' }), NS)), ['spec.schedule']);
    assert.deepEqual(await refusedField(client.create('backupschedule', manifest({ timeZone: 'Mars/Olympus' }), NS)), ['spec.timeZone']);
    assert.deepEqual(
      await refusedField(client.create('backupschedule', manifest({ template: { vmNames: ['web'], selector: { matchLabels: { a: 'b' } } } }), NS)),
      ['spec.template.selector'],
    );
    await assert.rejects(client.get('backupschedule', 'bad', NS), (err) => err instanceof ApiError && err.code === 404);

    const created = await client.create<BackupSchedule>(
      'backupschedule',
      { metadata: { name: 'every' }, spec: { schedule: '*/1 * * * * *', template: { vmNames: ['web'] }, retention: { keepLast: 2 } } },
      NS,
    );
    // An update that breaks the schedule is refused too.
    assert.deepEqual(await refusedField(client.patch('backupschedule', 'every', { spec: { schedule: 'every second' } }, { type: 'merge', ...NS })), [
      'spec.schedule',
    ]);

    // Runs: one Backup a second, each named for its run, labelled, owned, from the template.
    const first = await waitFor(async () => ((await backupsOf(client, 'every')).length >= 3 ? backupsOf(client, 'every') : undefined), {
      message: 'three Backups of the schedule',
    });
    for (const b of first) {
      assert.match(b.metadata.name!, RUN_NAME);
      assert.deepEqual(b.metadata.ownerReferences, [
        { apiVersion: 'shoal.dev/v1alpha1', kind: 'BackupSchedule', name: 'every', uid: created.metadata.uid, controller: true },
      ]);
      assert.deepEqual(b.spec, { vmNames: ['web'], mode: 'Full', ttl: '720h' });
    }
    assert.equal(new Set(first.map(runTime)).size, first.length, 'one Backup per run');
    const running = await waitForObject(client, 'BackupSchedule', 'every', (s) => !!s.status?.lastBackup && !!s.status.nextScheduleTime, {
      ...NS,
      message: 'status with the last run and the next',
    });
    assert.match(running.status!.lastBackup!, RUN_NAME);
    assert.equal(findCondition(running.status?.conditions, READY_CONDITION)?.reason, SCHEDULED);

    // Paused: the controller says so (and no next run); from then on, no new Backups.
    const paused = await client.patch<BackupSchedule>('backupschedule', 'every', { spec: { paused: true } }, { type: 'merge', ...NS });
    const ack = await waitForObject(
      client,
      'BackupSchedule',
      'every',
      (s) => s.status?.observedGeneration === paused.metadata.generation && findCondition(s.status?.conditions, READY_CONDITION)?.reason === PAUSED,
      { ...NS, message: 'Ready: Paused' },
    );
    assert.equal(ack.status?.nextScheduleTime, undefined);
    const lastRunBeforePause = Date.parse(ack.status!.lastScheduleTime!);

    // Retention while paused: every Backup Completed (as the backup controller would say), the
    // newest two stay, the older ones are deleted (their data finalizer holds them, with no
    // backup controller to lift it).
    const all = await backupsOf(client, 'every');
    for (const b of all)
      await client.patch(
        'backup',
        b.metadata.name!,
        { status: { phase: 'Completed', completionTimestamp: timestamp(runTime(b) + 500) } },
        { type: 'merge', status: true, ...NS },
      );
    const newestTwo = all.slice(-2).map((b) => b.metadata.name);
    await waitFor(
      async () => {
        const now = await backupsOf(client, 'every');
        const kept = now.filter((b) => !b.metadata.deletionTimestamp).map((b) => b.metadata.name);
        return JSON.stringify(kept) === JSON.stringify(newestTwo);
      },
      { message: `only the newest two kept: ${newestTwo.join(', ')}` },
    );
    const done = await waitForObject(client, 'BackupSchedule', 'every', (s) => !!s.status?.lastSuccessfulTime, { ...NS, message: 'lastSuccessfulTime' });
    assert.equal(done.status!.lastSuccessfulTime, timestamp(runTime(all.at(-1)!) + 500));
    // The claim "paused makes none" covers a window of runs: two seconds of them, after the
    // controller acknowledged the pause and has reconciled since (retention above).
    await waitFor(() => Date.now() > lastRunBeforePause + 2_500, { message: 'two runs of the paused schedule due' });
    assert.deepEqual(
      (await backupsOf(client, 'every')).map((b) => b.metadata.name),
      all.map((b) => b.metadata.name),
      'no Backup made while paused',
    );

    // Unpaused: runs again.
    await client.patch('backupschedule', 'every', { spec: { paused: false } }, { type: 'merge', ...NS });
    await waitFor(async () => (await backupsOf(client, 'every')).some((b) => runTime(b) > lastRunBeforePause), { message: 'a run after unpausing' });

    // Down for a while: when the controller is back, the most recent missed run is made, once,
    // and none of the runs in between.
    await c.cm!.stop();
    const before = await backupsOf(client, 'every');
    const lastBeforeStop = Math.max(...before.map(runTime));
    const stoppedAt = Date.now();
    await waitFor(() => Date.now() > stoppedAt + 3_000, { message: 'runs missed while the controller is down' });
    const restartedAt = Date.now();
    await c.startControllerManager();
    const after = await waitFor(
      async () => {
        const made = (await backupsOf(client, 'every')).filter((b) => runTime(b) > lastBeforeStop);
        return made.length ? made : undefined;
      },
      { message: 'a run after the restart' },
    );
    const catchUp = Math.min(...after.map(runTime));
    assert.ok(catchUp >= restartedAt - 1_000, `the first run made after the restart is the latest missed one, not the first (${timestamp(catchUp)})`);
    assert.ok(catchUp - lastBeforeStop >= 3_000, 'the runs in between were not made');

    assert.deepEqual(refusals(c.cm!), [], 'its role allows all it does');
  });
});
