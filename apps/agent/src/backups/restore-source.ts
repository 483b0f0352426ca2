/**
 * Where a Volume restored from a Backup (spec.source.backup) takes its data: the backed-up
 * file of that volume, and the chain under it — every link found on record, present and
 * matching its checksum, or the Volume fails saying which is not. Never a blank disk instead.
 */
import type { DiskBackup, VolumeBackupSource } from '@shoal/api';
import { chainFrom, verifyChain } from './chain.js';
import { absolute } from './files.js';

export type BackupSourceFile =
  | { ok: true; path: string; sizeBytes?: number }
  /** permanent: the data is missing or corrupt, waiting will not help; else not yet (the backup is not completed). */
  | { ok: false; permanent: boolean; message: string };

export async function backupSourceFile(diskBackups: DiskBackup[], namespace: string, source: VolumeBackupSource): Promise<BackupSourceFile> {
  const inNamespace = diskBackups.filter((d) => d.metadata.namespace === namespace);
  const ofBackup = inNamespace.filter((d) => d.spec.backupName === source.backupName);
  for (const d of ofBackup) {
    const record = d.status?.volumes?.find((v) => v.name === source.volumeName);
    if (!record) continue;
    if (d.status?.phase !== 'Completed')
      return d.status?.phase === 'Failed'
        ? { ok: false, permanent: true, message: `backup ${source.backupName} failed to copy volume ${source.volumeName}: ${d.status.message ?? ''}` }
        : { ok: false, permanent: false, message: `backup ${source.backupName} has not finished copying volume ${source.volumeName}` };
    const links = chainFrom(inNamespace, d.spec.locationPath, { record, diskBackup: d });
    if (typeof links === 'string') return { ok: false, permanent: true, message: `backup ${source.backupName}: ${links}` };
    const problem = await verifyChain(d.spec.locationPath, links);
    if (problem) return { ok: false, permanent: true, message: `backup ${source.backupName}: ${problem}` };
    return { ok: true, path: absolute(d.spec.locationPath, record.file!), sizeBytes: record.sizeBytes };
  }
  return { ok: false, permanent: false, message: `backup ${source.backupName} holds no copy of volume ${source.volumeName} (yet)` };
}
