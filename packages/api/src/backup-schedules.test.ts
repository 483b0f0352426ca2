import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSchedule, scheduleCauses, scheduledBackupName, ScheduleError } from './backup-schedules.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

test('five and six fields, macros and time zones: the next run strictly after, the latest at or before', () => {
  const daily = parseSchedule({ schedule: '0 3 * * *', timeZone: 'UTC' }, 'ns/a');
  assert.equal(iso(daily.next(at('2024-01-01T03:00:00Z'))), '2024-01-02T03:00:00.000Z');
  assert.equal(iso(daily.latest(at('2024-01-01T03:00:00Z'))), '2024-01-01T03:00:00.000Z');
  assert.equal(iso(daily.latest(at('2024-01-01T02:59:59.999Z'))), '2023-12-31T03:00:00.000Z');

  const everySecond = parseSchedule({ schedule: '*/1 * * * * *', timeZone: 'UTC' }, 'ns/a');
  assert.equal(iso(everySecond.next(at('2024-01-01T00:00:00.400Z'))), '2024-01-01T00:00:01.000Z');
  assert.equal(iso(everySecond.latest(at('2024-01-01T00:00:00.400Z'))), '2024-01-01T00:00:00.000Z');

  assert.equal(iso(parseSchedule({ schedule: '@daily' }, 'ns/a').next(at('2024-01-01T12:00:00Z'))), '2024-01-02T00:00:00.000Z');
  // 03:00 in Paris is 02:00 UTC in winter, 01:00 UTC in summer.
  const paris = parseSchedule({ schedule: '0 3 * * *', timeZone: 'Europe/Paris' }, 'ns/a');
  assert.equal(iso(paris.next(at('2024-01-01T00:00:00Z'))), '2024-01-01T02:00:00.000Z');
  assert.equal(iso(paris.next(at('2024-07-01T00:00:00Z'))), '2024-07-01T01:00:00.000Z');
});

test('H picks the same time for one schedule every time, seeded by its namespace/name', () => {
  const a = parseSchedule({ schedule: 'H * * * *' }, 'ns/a').next(0);
  for (let i = 0; i < 5; i++) assert.equal(parseSchedule({ schedule: 'H * * * *' }, 'ns/a').next(0), a);
});

test('an unreadable cron or time zone names its field', () => {
  for (const schedule of ['bogus', '61 * * * *', '* * * * * * *', '0 0 30 2 *', '   '])
    assert.deepEqual(
      scheduleCauses({ schedule, timeZone: 'UTC' }).map((c) => c.field),
      ['spec.schedule'],
      schedule,
    );
  for (const timeZone of ['Mars/Olympus', 'Local', 'system', '+02:00', ''])
    assert.deepEqual(
      scheduleCauses({ schedule: '0 3 * * *', timeZone }).map((c) => c.field),
      ['spec.timeZone'],
      timeZone,
    );
  assert.throws(() => parseSchedule({ schedule: 'bogus' }, ''), ScheduleError);
  for (const schedule of ['0 3 * * *', '*/1 * * * * *', '@weekly', '0 0 L * *', 'H H * * *'])
    assert.deepEqual(scheduleCauses({ schedule, timeZone: 'America/New_York' }), [], schedule);
});

test('a run names its Backup <schedule>-<YYYYMMDDHHMMSS UTC>, within 253 characters', () => {
  assert.equal(scheduledBackupName('nightly', at('2024-03-09T04:05:06Z')), 'nightly-20240309040506');
  const long = `${'a'.repeat(200)}.${'b'.repeat(52)}`;
  const name = scheduledBackupName(long, at('2024-03-09T04:05:06Z'));
  assert.ok(name.length <= 253, `${name.length}`);
  assert.match(name, /^a+\.b+-[0-9a-f]{10}-20240309040506$/);
  assert.notEqual(name, scheduledBackupName(`${long.slice(0, -1)}c`, at('2024-03-09T04:05:06Z')));
});
