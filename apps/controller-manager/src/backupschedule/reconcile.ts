/**
 * reconcile(ctx, 'namespace/name') for the backup-schedule controller (STYLE.md 1–3):
 *
 *   a run due (runs.ts)        → its Backup made from spec.template: named for the run
 *                                (scheduledBackupName), labelled with the schedule's name
 *                                (BACKUP_SCHEDULE_LABEL, when it fits in a label), owned by the
 *                                schedule (controller ownerReference: how its own are told
 *                                apart); AlreadyExists means a restarted or second controller
 *                                made it already: done
 *   a run too late             → not made; a BackupSkipped Warning Event, once per run
 *   retention (retention.ts)   → its finished Backups past keepLast or maxAge deleted (their
 *                                finalizer removes the data first); never one still running
 *   status (status.ts)         → written through /status when it differs; the only writer
 *   then                       → look again at the next run, or when a kept Backup gets older
 *                                than maxAge, whichever is first
 *
 * Before a run is made, the schedule is read afresh from the apiserver: the cache may not show
 * yet the status that recorded the last run, and that run's Backup may be gone since
 * (retention), so the cache alone could make a run twice. Runs are rare; the read is cheap.
 * Deleting a schedule leaves its Backups (as Velero's schedules do): nothing collects owned
 * objects in Shoal, and a Backup's data is not to go by accident.
 */
import {
  API_VERSION,
  ApiError,
  BACKUP_SCHEDULE_LABEL,
  objectKey,
  parseSchedule,
  scheduledBackupName,
  ScheduleError,
  timestamp,
  type Backup,
  type BackupSchedule,
  type CronSchedule,
  type Manifest,
  type OwnerReference,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { retentionPlan } from './retention.js';
import { decideRun, type RunDecision } from './runs.js';
import { computeStatus, sameStatus, type Observed } from './status.js';

export const BACKUP_CREATED = 'BackupCreated';
export const BACKUP_SKIPPED = 'BackupSkipped';
export const BACKUP_DELETED = 'BackupDeleted';
export const FAILED_CREATE = 'FailedCreate';

/** Label values are at most 63 characters; a longer schedule name is left to the ownerReference. */
const MAX_LABEL_VALUE = 63;
/** The longest wait between two looks at a schedule: a wall-clock step (NTP, a VM resumed) is caught up within it. */
const MAX_REQUEUE_MS = 5 * 60_000;

export interface BackupScheduleContext {
  client: ShoalClient;
  schedules: Pick<Informer<BackupSchedule>, 'get'>;
  backups: Pick<Informer<Backup>, 'list'>;
  recorder: Pick<EventRecorder, 'event'>;
  log: Logger;
  /** Per schedule key: the run last said to be skipped (its uid and time), so each is said once. */
  skipped: Map<string, { uid: string; time: number }>;
  now?: () => number;
}

/** The schedule's controller ownerReference on a Backup, if it has one. */
export function scheduleOwnerOf(backup: Pick<Backup, 'metadata'>): OwnerReference | undefined {
  return (backup.metadata.ownerReferences ?? []).find((r) => r.controller === true && r.kind === 'BackupSchedule' && r.apiVersion === API_VERSION);
}

/** The Backups the schedule made: by its uid, so a schedule made again under the same name does not take the old one's. */
export function ownBackups(schedule: BackupSchedule, backups: readonly Backup[]): Backup[] {
  return backups.filter((b) => b.metadata.namespace === schedule.metadata.namespace && scheduleOwnerOf(b)?.uid === schedule.metadata.uid);
}

/** The Backup of the run at `time` (the apiserver fills in the defaults its template left out). */
export function backupForRun(schedule: BackupSchedule, time: number): Manifest<Backup> {
  const name = schedule.metadata.name!;
  return {
    apiVersion: API_VERSION,
    kind: 'Backup',
    metadata: {
      name: scheduledBackupName(name, time),
      namespace: schedule.metadata.namespace,
      ...(name.length <= MAX_LABEL_VALUE ? { labels: { [BACKUP_SCHEDULE_LABEL]: name } } : {}),
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'BackupSchedule', name, uid: schedule.metadata.uid!, controller: true }],
    },
    spec: structuredClone(schedule.spec.template ?? {}),
  };
}

interface Reading {
  cron?: CronSchedule;
  invalid?: { field: string; message: string };
  decision: RunDecision;
}

function read(schedule: BackupSchedule, now: number): Reading {
  try {
    const cron = parseSchedule(schedule.spec, objectKey(schedule.metadata));
    return {
      cron,
      decision: decideRun(cron, { ...schedule.spec, ...schedule.status, creationTimestamp: schedule.metadata.creationTimestamp ?? undefined }, now),
    };
  } catch (err) {
    if (!(err instanceof ScheduleError)) throw err;
    return { invalid: { field: err.field, message: err.message }, decision: {} };
  }
}

export async function reconcile(ctx: BackupScheduleContext, key: string): Promise<Result> {
  let schedule = ctx.schedules.get(key);
  if (!schedule || schedule.metadata.deletionTimestamp) {
    ctx.skipped.delete(key);
    return {};
  }
  const now = ctx.now?.() ?? Date.now();
  let reading = read(schedule, now);
  const saidSkipped = (time: number) => {
    const said = ctx.skipped.get(key);
    return said !== undefined && said.uid === schedule!.metadata.uid && said.time === time;
  };
  const { run, skip } = reading.decision;
  if (run !== undefined || (skip !== undefined && !saidSkipped(skip))) {
    try {
      schedule = await ctx.client.get<BackupSchedule>('backupschedule', schedule.metadata.name!, { namespace: schedule.metadata.namespace });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return {};
      throw err;
    }
    if (schedule.metadata.deletionTimestamp) return {};
    reading = read(schedule, now);
  }

  const observed: Observed = { own: ownBackups(schedule, ctx.backups.list()), next: reading.decision.next, invalid: reading.invalid };
  const { decision } = reading;
  if (decision.run !== undefined) {
    const made = await makeRun(ctx, schedule, decision);
    if (typeof made === 'string') observed.refused = made;
    else observed.made = made;
  }
  if (decision.skip !== undefined && !saidSkipped(decision.skip)) {
    ctx.recorder.event(
      schedule,
      'Warning',
      BACKUP_SKIPPED,
      `the run of ${timestamp(decision.skip)} was not made: it is ${Math.round((now - decision.skip) / 1000)}s late, more than startingDeadlineSeconds ${schedule.spec.startingDeadlineSeconds}`,
    );
    ctx.skipped.set(key, { uid: schedule.metadata.uid!, time: decision.skip });
  }

  const status = computeStatus(schedule, observed, timestamp(now));
  if (!sameStatus(schedule.status, status)) {
    // A merge patch: a field no longer there (nextScheduleTime, paused) is written as null.
    const gone = Object.fromEntries(Object.keys(schedule.status ?? {}).map((k) => [k, null]));
    await ctx.client.patch(
      'backupschedule',
      schedule.metadata.name!,
      { metadata: { resourceVersion: schedule.metadata.resourceVersion }, status: { ...gone, ...status } },
      { type: 'merge', status: true, namespace: schedule.metadata.namespace },
    );
  }

  const plan = retentionPlan(observed.own, schedule.spec.retention, now);
  for (const { backup, reason } of plan.delete) {
    try {
      await ctx.client.delete('backup', backup.metadata.name!, { namespace: backup.metadata.namespace, preconditions: { uid: backup.metadata.uid } });
    } catch (err) {
      // Gone already, or another Backup of that name now: not this one to delete.
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) continue;
      throw err;
    }
    ctx.log.info({ schedule: key, backup: backup.metadata.name, reason }, 'backup deleted by retention');
    ctx.recorder.event(schedule, 'Normal', BACKUP_DELETED, `deleted Backup ${backup.metadata.name} (${backup.status?.phase}): ${reason}`);
  }

  const wakeAt = [decision.next, plan.recheckAt].filter((t): t is number => t !== undefined);
  if (!wakeAt.length) return {};
  return { requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(0, Math.min(...wakeAt) - now)) };
}

/** Makes the run's Backup: what status records of it, or why the apiserver refused it. */
async function makeRun(ctx: BackupScheduleContext, schedule: BackupSchedule, decision: RunDecision): Promise<{ time: number; backup?: string } | string> {
  const time = decision.run!;
  const backup = backupForRun(schedule, time);
  const name = backup.metadata!.name!;
  const namespace = schedule.metadata.namespace;
  try {
    await ctx.client.create<Backup>('backup', backup, { namespace });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.reason === 'AlreadyExists') {
      const existing = await ctx.client.get<Backup>('backup', name, { namespace });
      if (scheduleOwnerOf(existing)?.uid === schedule.metadata.uid) return { time, backup: name };
      // Someone else's object has the name: this run cannot be made; the next one can.
      ctx.recorder.event(schedule, 'Warning', FAILED_CREATE, `the run of ${timestamp(time)} was not made: Backup ${name} exists and is not this schedule's`);
      return { time };
    }
    if (err.code === 400 || err.code === 422) {
      // A template the apiserver refuses is refused again on a retry: said on the status, tried at the next run.
      ctx.recorder.event(schedule, 'Warning', FAILED_CREATE, `the Backup of the run of ${timestamp(time)} was refused: ${err.message}`);
      return `the Backup of the run of ${timestamp(time)} was refused: ${err.message}`;
    }
    throw err;
  }
  const late = decision.missedEarlier ? ' (earlier runs missed since the last one made are not made up)' : '';
  ctx.log.info({ schedule: objectKey(schedule.metadata), backup: name, run: timestamp(time) }, 'scheduled backup created');
  ctx.recorder.event(schedule, 'Normal', BACKUP_CREATED, `made Backup ${name} for the run of ${timestamp(time)}${late}`);
  return { time, backup: name };
}
