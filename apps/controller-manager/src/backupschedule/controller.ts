/**
 * The backup-schedule controller's wiring (STYLE.md 4): each BackupSchedule makes a Backup per
 * run of its cron and keeps as many as its retention says (reconcile.ts).
 *
 *   BackupSchedule added/changed               → that schedule
 *   its own Backup added, deleted, or finished → its schedule (retention, lastSuccessfulTime)
 *   (or being deleted)
 *
 * Time itself is the other source: each reconcile asks to look again at the schedule's next run.
 */
import type { Backup, BackupSchedule } from '@shoal/api';
import { Controller, enqueueObject, type EventHandler } from '@shoal/controller-runtime';
import type { ControllerEnv } from '../controller-env.js';
import { reconcile, scheduleOwnerOf, type BackupScheduleContext } from './reconcile.js';

export const BACKUP_SCHEDULE_NAME = 'backup-schedule';
export const BACKUP_SCHEDULE_COMPONENT = 'shoal-backup-schedule-controller';

export function backupScheduleController(env: ControllerEnv): Controller {
  const log = env.log.child({ controller: BACKUP_SCHEDULE_NAME });
  const schedules = env.informers.informer<BackupSchedule>('backupschedule');
  const backups = env.informers.informer<Backup>('backup');
  const ctx: BackupScheduleContext = { client: env.client, schedules, backups, recorder: env.recorder(BACKUP_SCHEDULE_COMPONENT), skipped: new Map(), log };
  const controller = new Controller({ name: BACKUP_SCHEDULE_NAME, workers: 2, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  // What the reconcile reads of a Backup: its phase and completion (retention, lastSuccessfulTime) and whether it is going.
  const facts = (b: Backup) => JSON.stringify([b.status?.phase, b.status?.completionTimestamp, b.metadata.deletionTimestamp]);
  const onBackup: EventHandler<Backup> = (change) => {
    const owner = scheduleOwnerOf(change.object);
    if (!owner || (change.type === 'update' && facts(change.old) === facts(change.object))) return [];
    return [`${change.object.metadata.namespace}/${owner.name}`];
  };
  return controller.watch(schedules, enqueueObject()).watch(backups, onBackup);
}
