/**
 * How a BackupSchedule's cron is read, the same way by the apiserver (which refuses a schedule it
 * cannot read, naming the field) and by the backup-schedule controller (which runs it), and how
 * the Backups of its runs are named.
 *
 * The cron is cron-parser's: five fields, or six with seconds first; @daily and its like; `L`,
 * `#` and `H`. `H` (a value picked by hashing) is seeded with the schedule's namespace/name, so
 * every reading of one schedule picks the same minute while different schedules spread out
 * (Jenkins' H). The time zone is an IANA name as Intl knows it: cron-parser's own "local" and
 * "system" (the machine's zone: another answer on every host) and bare offsets are refused.
 */
import { createHash } from 'node:crypto';
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import type { BackupScheduleSpec } from './model/generated.js';
import type { StatusCause } from './status.js';

/** A schedule's run times, in milliseconds since the epoch. */
export interface CronSchedule {
  /** The first run strictly after `after`; undefined when there is none. */
  next(after: number): number | undefined;
  /** The last run at or before `at`; undefined when there is none. */
  latest(at: number): number | undefined;
}

/** Why a schedule cannot be read, and which field says it. */
export class ScheduleError extends Error {
  constructor(
    readonly field: 'spec.schedule' | 'spec.timeZone',
    message: string,
  ) {
    super(message);
    this.name = 'ScheduleError';
  }
}

export const DEFAULT_SCHEDULE_TIME_ZONE = 'UTC';

type ScheduleFields = Pick<BackupScheduleSpec, 'schedule'> & { timeZone?: string };

/** The schedule's runs; throws ScheduleError when its cron or time zone cannot be read. */
export function parseSchedule(spec: ScheduleFields, seed: string): CronSchedule {
  const timeZone = spec.timeZone ?? DEFAULT_SCHEDULE_TIME_ZONE;
  if (!validTimeZone(timeZone)) throw new ScheduleError('spec.timeZone', `unknown time zone "${timeZone}" (an IANA name such as UTC or Europe/Paris)`);
  const text = spec.schedule.trim();
  // cron-parser reads an empty expression as every minute.
  if (!text) throw new ScheduleError('spec.schedule', 'empty cron expression');
  let cron: CronExpression;
  try {
    cron = CronExpressionParser.parse(text, { tz: timeZone, hashSeed: seed });
  } catch (err) {
    throw new ScheduleError('spec.schedule', `invalid cron expression "${spec.schedule}": ${err instanceof Error ? err.message : String(err)}`);
  }
  const step = (from: number, direction: 'next' | 'prev'): number | undefined => {
    try {
      cron.reset(new Date(from));
      return cron[direction]().getTime();
    } catch {
      // Past the end of what cron-parser looks through (its loop limit): no such run.
      return undefined;
    }
  };
  const schedule: CronSchedule = {
    next: (after) => step(after, 'next'),
    // prev() is strictly before the date it starts from, and runs fall on whole seconds.
    latest: (at) => step(at + 1, 'prev'),
  };
  return schedule;
}

/** Why the apiserver refuses the schedule: nothing when it reads and has a run ahead. */
export function scheduleCauses(spec: ScheduleFields): StatusCause[] {
  try {
    const schedule = parseSchedule(spec, '');
    if (schedule.next(Date.now()) === undefined)
      return [{ field: 'spec.schedule', type: 'FieldValueInvalid', message: `cron expression "${spec.schedule}" never comes round` }];
    return [];
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    return [{ field: err.field, type: 'FieldValueInvalid', message: err.message }];
  }
}

function validTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

const MAX_NAME = 253;
/** `-YYYYMMDDHHMMSS` */
const STAMP_LENGTH = 15;

/**
 * The Backup of the run at `time`: <schedule>-<YYYYMMDDHHMMSS of the run, UTC>. One name per run,
 * so a second making of the same run (a restarted controller, a second replica) is refused as
 * AlreadyExists. A schedule name too long for that is cut and a hash of it added.
 */
export function scheduledBackupName(scheduleName: string, time: number): string {
  const stamp = new Date(time).toISOString().slice(0, 19).replace(/[-T:]/g, '');
  if (scheduleName.length + STAMP_LENGTH <= MAX_NAME) return `${scheduleName}-${stamp}`;
  const hash = createHash('sha256').update(scheduleName).digest('hex').slice(0, 10);
  const head = scheduleName.slice(0, MAX_NAME - STAMP_LENGTH - hash.length - 1).replace(/[-.]+$/, '');
  return `${head}-${hash}-${stamp}`;
}
