/**
 * BackupSchedules: a cron expression or a time zone the backup-schedule controller cannot read is
 * refused with the field that says it (spec.schedule, spec.timeZone), read by the same parser
 * the controller runs (@shoal/api's parseSchedule); so is a template a Backup would be refused
 * for (spec.template.*, the Backup strategy's own rules), rather than each run failing later.
 * An update is checked only where it changes those fields, so a schedule stored before its time
 * zone left the tz database can still be paused or deleted, and the controller can still say on
 * its status why it does not run.
 */
import { API_VERSION, canonicalJson, scheduleCauses, type BackupSchedule, type BackupScheduleSpec, type KubeObject, type StatusCause } from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { backupStrategy } from './backup.js';

function templateCauses(spec: BackupScheduleSpec): StatusCause[] {
  if (!spec.template) return [];
  const causes = backupStrategy.validate?.({ apiVersion: API_VERSION, kind: 'Backup', metadata: {}, spec: spec.template } as KubeObject) ?? [];
  return causes.map((c) => ({ ...c, ...(c.field ? { field: c.field.replace(/^spec\./, 'spec.template.') } : {}) }));
}

export const backupScheduleStrategy: KindStrategy = {
  validateCreate(object) {
    const { spec } = object as BackupSchedule;
    return [...scheduleCauses(spec), ...templateCauses(spec)];
  },

  validateUpdate(next, current) {
    const [a, b] = [(next as BackupSchedule).spec, (current as BackupSchedule).spec];
    return [
      ...(a.schedule === b.schedule && a.timeZone === b.timeZone ? [] : scheduleCauses(a)),
      ...(canonicalJson(a.template ?? null) === canonicalJson(b.template ?? null) ? [] : templateCauses(a)),
    ];
  },
};
