/**
 * The chain under a backed-up volume: its file, then its parent's, down to a full copy. Each
 * file's record (path, checksum) is in the status of the DiskBackup that made it. A chain is
 * restorable only when every record is found, every file is there and every checksum matches:
 * otherwise it is said which link is missing or corrupt, and nothing is restored.
 */
import { existsSync } from 'node:fs';
import type { BackupVolume, DiskBackup } from '@shoal/api';
import { absolute, sha256File } from './files.js';

export interface ChainLink {
  record: BackupVolume;
  diskBackup: DiskBackup;
}

/** The Completed record of a file at a location, among DiskBackups (one namespace's). */
export function recordOfFile(diskBackups: Iterable<DiskBackup>, locationPath: string, file: string): ChainLink | undefined {
  for (const d of diskBackups) {
    if (d.spec.locationPath !== locationPath || d.status?.phase !== 'Completed' || d.metadata.deletionTimestamp) continue;
    const record = d.status.volumes?.find((v) => v.file === file);
    if (record) return { record, diskBackup: d };
  }
  return undefined;
}

/** The links from `top` down, or why the chain is broken. */
export function chainFrom(diskBackups: DiskBackup[], locationPath: string, top: ChainLink): ChainLink[] | string {
  const links = [top];
  for (let link = top; link.record.parent;) {
    const parent = recordOfFile(diskBackups, locationPath, link.record.parent);
    if (!parent) return `${link.record.file} builds on ${link.record.parent}, which no completed backup holds any more`;
    if (links.length > 1000) return `the chain under ${top.record.file} does not end`;
    links.push(parent);
    link = parent;
  }
  return links;
}

/** Checks each link's file against its checksum; the first problem, or undefined when all are sound. */
export async function verifyChain(locationPath: string, links: ChainLink[]): Promise<string | undefined> {
  for (const { record, diskBackup } of links) {
    const path = absolute(locationPath, record.file!);
    const of = `backup ${diskBackup.spec.backupName}`;
    if (!existsSync(path)) return `${record.file} of ${of} is missing from the location`;
    if (!record.sha256) return `${record.file} of ${of} has no checksum on record`;
    const sum = await sha256File(path);
    if (sum !== record.sha256) return `${record.file} of ${of} is corrupt: its sha256 is ${sum}, ${record.sha256} on record`;
  }
  return undefined;
}
