/**
 * How Backups, their DiskBackups and their data are named and found: what the apiserver, the
 * backup, schedule and restore controllers, the node agents and shoalctl all read the same way.
 */
import { createHash } from 'node:crypto';
import type { Backup, BackupLocation, DiskBackup } from './model/generated.js';

/**
 * On every Backup from its creation, and on every DiskBackup: lifted only once the data is gone
 * (the DiskBackup's by the node agent that removed its files, the Backup's by the backup
 * controller once no DiskBackup of it remains), so deleting a Backup never leaves data nobody
 * tracks, and never drops the record of data still on the location.
 */
export const BACKUP_DATA_FINALIZER = 'shoal.dev/backup-data';

/** On each DiskBackup: the Backup it belongs to. */
export const BACKUP_NAME_LABEL = 'shoal.dev/backup';

/** On each Backup a BackupSchedule made: the schedule. */
export const BACKUP_SCHEDULE_LABEL = 'shoal.dev/backup-schedule';

/**
 * The persistent QEMU dirty bitmap that counts the writes to a volume since the backup
 * `diskBackupUid` copied it: shoal-backup-<uid>. One per volume at a time; the next incremental
 * copies what it marks.
 */
export const backupBitmapName = (diskBackupUid: string) => `shoal-backup-${diskBackupUid}`;
export const BACKUP_BITMAP_PREFIX = 'shoal-backup-';

/** A Backup's directory within its location: <namespace>/<name>-<first 8 characters of its uid>. */
export const backupDirectory = (backup: Pick<Backup, 'metadata'>) =>
  `${backup.metadata.namespace}/${backup.metadata.name}-${(backup.metadata.uid ?? '').slice(0, 8)}`;

/** A volume's file within a Backup's directory: <vm>/<volume>.qcow2. */
export const backupVolumeFile = (backupDir: string, vmName: string, volumeName: string) => `${backupDir}/${vmName}/${volumeName}.qcow2`;

/** The DiskBackup of one VM in a Backup: <backup>-<vm>, shortened with a hash when that is too long for a name. */
export function diskBackupName(backupName: string, vmName: string): string {
  const name = `${backupName}-${vmName}`;
  if (name.length <= 253) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, 242)}-${hash}`;
}

/** The location a Backup goes to: the one it names, else the first default by name; undefined when there is none. */
export function backupLocationFor(spec: { location?: string }, locations: Iterable<BackupLocation>): BackupLocation | undefined {
  const all = [...locations];
  if (spec.location) return all.find((l) => l.metadata.name === spec.location);
  return all.filter((l) => l.spec.default).sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!))[0];
}

/** Whether a Backup's phase is final (it changes only to Deleting). */
export const backupFinished = (phase: string | undefined) => phase === 'Completed' || phase === 'PartiallyFailed' || phase === 'Failed';

/** Whether a DiskBackup's node agent is done with it, one way or the other. */
export const diskBackupFinished = (d: Pick<DiskBackup, 'status'>) => d.status?.phase === 'Completed' || d.status?.phase === 'Failed';
