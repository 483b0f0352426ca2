/** The DiskBackup's status, which this node's agent alone writes. */
import { objectKey, type DiskBackup, type DiskBackupStatus } from '@shoal/api';
import type { BackupContext } from './context.js';

/** A merge patch of the status: a field given null is removed. */
export async function reportStatus(ctx: BackupContext, d: DiskBackup, status: { [K in keyof DiskBackupStatus]: DiskBackupStatus[K] | null }): Promise<void> {
  await ctx.client.patch('diskbackup', d.metadata.name!, { status }, { namespace: d.metadata.namespace, type: 'merge', status: true });
}

export const keyOf = (d: DiskBackup) => objectKey(d.metadata);

/** The prefix of a backup's QEMU jobs and nodes: one per DiskBackup, so a restarted agent finds its leftovers. */
export const jobPrefix = (d: DiskBackup) => `backup-${(d.metadata.uid ?? '').slice(0, 8)}`;
