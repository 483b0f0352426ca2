/**
 * A BackupSchedule's status, pure (STYLE.md 3): computed from the schedule, its own Backups and
 * what this reconcile did; the backup-schedule controller is its only writer.
 *
 *   lastScheduleTime, lastBackup  the run made last and its Backup (kept until another is made)
 *   lastSuccessfulTime            the newest completionTimestamp of its Completed Backups (never
 *                                 goes back when retention deletes that Backup)
 *   nextScheduleTime              the next run; absent while paused or when there is none
 *   Ready                         True Scheduled, or True Paused; False InvalidSchedule or
 *                                 InvalidTimeZone (a schedule stored before the apiserver
 *                                 refused such), NoNextRun, BackupRefused (the apiserver refused
 *                                 the Backup of a run: its template; kept until a run is made or
 *                                 the spec changes)
 */
import { canonicalJson, findCondition, setCondition, timestamp, type Backup, type BackupSchedule, type BackupScheduleStatus, type Condition } from '@shoal/api';

export const READY_CONDITION = 'Ready';
export const SCHEDULED = 'Scheduled';
export const PAUSED = 'Paused';
export const INVALID_SCHEDULE = 'InvalidSchedule';
export const INVALID_TIME_ZONE = 'InvalidTimeZone';
export const NO_NEXT_RUN = 'NoNextRun';
export const BACKUP_REFUSED = 'BackupRefused';

export interface Observed {
  /** The schedule's own Backups (its controller ownerReference). */
  own: readonly Backup[];
  /** The run this reconcile made: its time, and its Backup unless another object holds that name. */
  made?: { time: number; backup?: string };
  next?: number;
  /** Why the schedule cannot be read. */
  invalid?: { field: string; message: string };
  /** Why the apiserver refused the Backup of the run due now. */
  refused?: string;
}

export function computeStatus(schedule: BackupSchedule, o: Observed, now: string): BackupScheduleStatus {
  const before = schedule.status ?? {};
  const lastScheduleTime = o.made ? timestamp(o.made.time) : before.lastScheduleTime;
  const lastBackup = o.made?.backup ?? before.lastBackup;
  const completions = o.own.filter((b) => b.status?.phase === 'Completed' && b.status.completionTimestamp).map((b) => b.status!.completionTimestamp!);
  const lastSuccessfulTime = [before.lastSuccessfulTime, ...completions].filter((t): t is string => !!t).sort((a, b) => Date.parse(b) - Date.parse(a))[0];
  const nextScheduleTime = o.next !== undefined ? timestamp(o.next) : undefined;
  const conditions = setCondition(before.conditions, ready(schedule, o), now);
  return {
    ...(lastScheduleTime ? { lastScheduleTime } : {}),
    ...(lastBackup ? { lastBackup } : {}),
    ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
    ...(nextScheduleTime ? { nextScheduleTime } : {}),
    conditions,
    observedGeneration: schedule.metadata.generation,
  };
}

function ready(schedule: BackupSchedule, o: Observed): Omit<Condition, 'lastTransitionTime'> {
  const { spec, status, metadata } = schedule;
  if (o.invalid)
    return {
      type: READY_CONDITION,
      status: 'False',
      reason: o.invalid.field === 'spec.timeZone' ? INVALID_TIME_ZONE : INVALID_SCHEDULE,
      message: o.invalid.message,
    };
  if (o.refused) return { type: READY_CONDITION, status: 'False', reason: BACKUP_REFUSED, message: o.refused };
  const previous = findCondition(status?.conditions, READY_CONDITION);
  if (!o.made && previous?.reason === BACKUP_REFUSED && status?.observedGeneration === metadata.generation) return previous;
  if (spec.paused) return { type: READY_CONDITION, status: 'True', reason: PAUSED, message: 'paused: no Backups are made until spec.paused is false' };
  if (o.next === undefined) return { type: READY_CONDITION, status: 'False', reason: NO_NEXT_RUN, message: `"${spec.schedule}" has no run ahead` };
  return { type: READY_CONDITION, status: 'True', reason: SCHEDULED, message: `Backups are made on "${spec.schedule}" (${spec.timeZone ?? 'UTC'})` };
}

/** Equal but for the conditions' transition times (setCondition keeps them when nothing else changed). */
export function sameStatus(a: BackupScheduleStatus | undefined, b: BackupScheduleStatus): boolean {
  if (!a) return false;
  const strip = (s: BackupScheduleStatus) => ({ ...s, conditions: (s.conditions ?? []).map((c) => ({ ...c, lastTransitionTime: '' })) });
  return canonicalJson(strip(a)) === canonicalJson(strip(b));
}
