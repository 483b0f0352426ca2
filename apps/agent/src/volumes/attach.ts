/**
 * The disks a VM boots with, made ready on this node: each Volume it attaches is looked up,
 * checked to be reachable from here, made on first use (the node that makes a local Volume
 * holds it from then on) and reported. Nothing here ever boots a VM on a disk other than its
 * own: a Volume that is not made yet, lives elsewhere or lost its file keeps the VM from
 * starting, and the answer says why, for the VM's status.
 *
 * Making a Volume is claimed before any file is written: the storage finalizer, then
 * status.node, each written against the Volume's resourceVersion, so two nodes racing to make
 * one Volume cannot both succeed; the loser sees the winner's node and waits or refuses.
 */
import { existsSync } from 'node:fs';
import {
  ApiError,
  poolNameFor,
  VOLUME_STORAGE_FINALIZER,
  vmDisks,
  volumeImageName,
  volumeReachableFrom,
  type VirtualMachine,
  type Volume,
  type VolumeStatus,
} from '@shoal/api';
import { makeVolumeFile, volumeFilePath } from './volume-files.js';
import { backupSourceFile } from '../backups/restore-source.js';
import { poolOf, volumeOf, type VolumeAccess } from './volume-access.js';

export interface LaunchDisk {
  name: string;
  path: string;
  format: 'qcow2' | 'raw';
}

export type PreparedDisks =
  | { ok: true; disks: LaunchDisk[] }
  /** Not now: `reason` is the VM's status reason (VolumePending, VolumeUnreachable, VolumeFailed, VolumeLost). */
  | { ok: false; reason: string; message: string };

const notReady = (reason: string, message: string): PreparedDisks => ({ ok: false, reason, message });

export async function prepareDisks(access: VolumeAccess, vm: VirtualMachine): Promise<PreparedDisks> {
  const ns = vm.metadata.namespace!;
  const disks: LaunchDisk[] = [];
  for (const disk of vmDisks(vm)) {
    const volume = volumeOf(access, ns, disk.volumeName);
    if (!volume)
      return notReady(
        'VolumePending',
        disk.template ? `waiting for volume ${disk.volumeName} (${disk.field}) to be created` : `volume ${disk.volumeName} (${disk.field}) does not exist`,
      );
    if (volume.status?.phase === 'Failed')
      return notReady('VolumeFailed', `volume ${disk.volumeName} could not be made: ${volume.status.conditions?.at(-1)?.message ?? 'see the volume'}`);
    const pool = poolOf(access, poolNameFor(volume.spec, access.pools.list()));
    const unreachable = volumeReachableFrom(volume, pool, { name: access.nodeName, labels: access.nodeLabels });
    if (unreachable) return notReady('VolumeUnreachable', `${unreachable}, not on node ${access.nodeName}`);
    const path =
      volume.status?.phase === 'Available' && volume.status.path
        ? volume.status.path
        : await makeHere(access, vm, volume, volumeFilePath(access.dataDir, pool!, ns, disk.volumeName));
    if (typeof path !== 'string') return path;
    // Never an empty disk in its place: a made volume whose file is gone stops the VM, visibly.
    if (!existsSync(path))
      return notReady('VolumeLost', `the file of volume ${disk.volumeName} (${path}) is missing on node ${access.nodeName}; not booting without it`);
    if (volume.status?.phase === 'Available' && volume.status.usedBy !== vm.metadata.name) await report(access, volume, { usedBy: vm.metadata.name });
    disks.push({ name: disk.name, path, format: volume.status?.format ?? 'qcow2' });
  }
  return { ok: true, disks };
}

/** Claims, makes and reports a Volume on this node; its path, or why not yet. */
async function makeHere(access: VolumeAccess, vm: VirtualMachine, volume: Volume, path: string): Promise<string | PreparedDisks> {
  const name = volume.metadata.name!;
  const ns = volume.metadata.namespace!;
  const opts = { namespace: ns, type: 'merge' as const };
  // An Image's disk is fetched into the node's cache first: the Volume is an overlay on that copy.
  const imageName = volumeImageName(volume);
  let base: { path: string; format: 'qcow2' | 'raw' } | undefined;
  if (imageName) {
    if (!access.imageDisk)
      return notReady('VolumeFailed', `volume ${name} is made from image ${imageName}, and node ${access.nodeName}'s agent keeps no images`);
    const disk = access.imageDisk(imageName);
    if (!disk.ok) return notReady(disk.reason, `volume ${name}: ${disk.message}`);
    base = disk;
  }
  try {
    let current = volume;
    if (!(current.metadata.finalizers ?? []).includes(VOLUME_STORAGE_FINALIZER))
      current = await access.client.patch<Volume>(
        'volume',
        name,
        { metadata: { resourceVersion: current.metadata.resourceVersion, finalizers: [...(current.metadata.finalizers ?? []), VOLUME_STORAGE_FINALIZER] } },
        opts,
      );
    if (!current.status?.node)
      current = await access.client.patch<Volume>(
        'volume',
        name,
        { metadata: { resourceVersion: current.metadata.resourceVersion }, status: { phase: 'Pending', node: access.nodeName, path } },
        { ...opts, status: true },
      );
    else if (current.status.node !== access.nodeName && !current.status.path)
      return notReady('VolumePending', `volume ${name} is being made on node ${current.status.node}`);
    let restoreFrom: string | undefined;
    if (current.spec.source?.backup) {
      const file = await backupSourceFile(access.diskBackups?.() ?? [], ns, current.spec.source.backup);
      if (!file.ok && !file.permanent) return notReady('VolumePending', `volume ${name}: ${file.message}`);
      if (!file.ok) {
        await report(access, current, { phase: 'Failed', conditions: [failedCondition(file.message, 'BackupUnusable')] });
        return notReady('VolumeFailed', `volume ${name} cannot be restored: ${file.message}`);
      }
      restoreFrom = file.path;
    }
    const clonePath = current.spec.source?.volume ? volumeOf(access, ns, current.spec.source.volume)?.status?.path : undefined;
    if (current.spec.source?.volume && !clonePath)
      return notReady('VolumePending', `volume ${name} clones volume ${current.spec.source.volume}, which is not made yet`);
    try {
      await makeVolumeFile({ path, spec: current.spec, clonePath, base, restoreFrom });
    } catch (err) {
      await report(access, current, { phase: 'Failed', conditions: [failedCondition((err as Error).message)] });
      return notReady('VolumeFailed', `volume ${name} could not be made on node ${access.nodeName}: ${(err as Error).message}`);
    }
    await report(access, current, { phase: 'Available', node: access.nodeName, path, format: 'qcow2', usedBy: vm.metadata.name, conditions: [] });
    return path;
  } catch (err) {
    // Someone else wrote the Volume meanwhile (another node claiming it): look again with the
    // informer's next version.
    if (err instanceof ApiError && err.code === 409) return notReady('VolumePending', `volume ${name} changed while it was being claimed; trying again`);
    throw err;
  }
}

async function report(access: VolumeAccess, volume: Volume, status: VolumeStatus): Promise<void> {
  await access.client.patch(
    'volume',
    volume.metadata.name!,
    { status: { ...status, observedGeneration: volume.metadata.generation } },
    { namespace: volume.metadata.namespace, type: 'merge', status: true },
  );
}

const failedCondition = (message: string, reason = 'MakeFailed') => ({
  type: 'Ready',
  status: 'False' as const,
  reason,
  message,
  lastTransitionTime: new Date().toISOString(),
});
