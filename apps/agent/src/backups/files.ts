/**
 * A Backup's files at its location, as the agents write and read them:
 *
 *   <location>/<namespace>/<backup>-<uid8>/<vm>/<volume>.qcow2   a disk (an incremental's backing
 *                                                               file is its parent's, by a path
 *                                                               relative to it: the location can
 *                                                               be mounted elsewhere)
 *   <location>/<namespace>/<backup>-<uid8>/<vm>/manifest.json    the VM and its Volumes as they
 *                                                               were, and what each file holds
 *
 * A file is whole once its checksum is in the DiskBackup's status; one without is a leftover.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { execa } from 'execa';

export const absolute = (locationPath: string, file: string) => join(locationPath, file);

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export const fileBytes = async (path: string) => (await stat(path)).size;

/** A disk's virtual size, as qemu-img reads it (-U: the disk may be in use by a running guest). */
export async function virtualSize(path: string): Promise<number> {
  const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', path])).stdout) as { 'virtual-size': number };
  return info['virtual-size'];
}

/** An empty qcow2 of `sizeBytes` for a copy to go into; backed by `parent` (absolute) for an incremental. */
export async function createTarget(target: string, sizeBytes: number, parent?: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const backing = parent ? ['-F', 'qcow2', '-b', relative(dirname(target), parent)] : [];
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', ...backing, target, String(sizeBytes)]);
}

/** Writes JSON next to the disks, atomically (temporary name, then rename). */
export async function writeJsonFile(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.partial`, JSON.stringify(value, null, 2) + '\n');
  await rename(`${path}.partial`, path);
}

/** qemu-img's last line of complaint, or the error's message. */
export function toolError(err: unknown): string {
  const e = err as { stderr?: string; message: string };
  return (e.stderr || e.message).trim().split('\n').pop() ?? e.message;
}
