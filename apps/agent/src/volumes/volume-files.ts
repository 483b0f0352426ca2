/**
 * A Volume's file on this node: where it goes and how it is made, with qemu-img. A file is made
 * under a temporary name and renamed into place, so a file at its final path is always whole: an
 * agent that died half-way through makes it again instead of booting a VM on half a disk.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { StoragePool, VolumeSpec } from '@shoal/api';

/** local: <data dir>/volumes/<pool>/<namespace>/<name>.qcow2; shared: <pool path>/<namespace>/<name>.qcow2. */
export function volumeFilePath(dataDir: string, pool: StoragePool, namespace: string, name: string): string {
  const root = pool.spec.type === 'shared' && pool.spec.path ? pool.spec.path : join(dataDir, 'volumes', pool.metadata.name!);
  return join(root, namespace, `${name}.qcow2`);
}

export interface MakeVolumeFile {
  path: string;
  spec: VolumeSpec;
  /** For a clone: the source Volume's file. */
  clonePath?: string;
  /** For a Volume made from an Image: the node's copy of its disk (source.image names the Image, not a file). */
  base?: { path: string; format: 'qcow2' | 'raw' };
  /** For a Volume restored from a Backup: the backed-up file (verified), read through its chain. */
  restoreFrom?: string;
}

/** Makes the file unless it exists already (then it is whole: see above). Throws with qemu-img's words on failure. */
export async function makeVolumeFile({ path, spec, clonePath, base: imageBase, restoreFrom }: MakeVolumeFile): Promise<void> {
  if (existsSync(path)) return;
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  await rm(partial, { force: true });
  const size = spec.sizeGiB ? [`${spec.sizeGiB}G`] : [];
  try {
    if (imageBase) {
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', imageBase.format, '-b', imageBase.path, partial, ...size]);
    } else if (spec.source?.image) {
      const base = spec.source.image;
      const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', base])).stdout) as { format: string };
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', info.format, '-b', base, partial, ...size]);
    } else if (spec.source?.volume || spec.source?.backup) {
      const from = spec.source.volume ? clonePath : restoreFrom;
      if (!from) throw new Error(`the file to copy volume ${spec.source.volume ?? spec.source.backup?.volumeName} from is not known`);
      // -U: a clone's source may be attached to a running guest; the clone is then crash-consistent.
      await execa('qemu-img', ['convert', '-q', '-U', '-O', 'qcow2', from, partial]);
      if (spec.sizeGiB) await execa('qemu-img', ['resize', '-q', partial, `${spec.sizeGiB}G`]).catch(() => undefined);
    } else {
      await execa('qemu-img', ['create', '-q', '-f', 'qcow2', partial, ...size]);
    }
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error((e.stderr || e.message).trim().split('\n').pop() ?? e.message);
  }
}

export async function removeVolumeFile(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.partial`, { force: true });
}
