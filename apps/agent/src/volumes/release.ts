/**
 * reconcile(key) for Volumes held by this node that are being deleted: once the volume
 * controller has let the deletion go on (its protection finalizer is gone: no VM attaches the
 * Volume any more), the file is removed, then the storage finalizer, which ends the deletion.
 * A Volume made here is ours to clean up, in a local pool or a shared one.
 */
import { ApiError, objectKey, VOLUME_PROTECTION_FINALIZER, VOLUME_STORAGE_FINALIZER, type Volume } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { removeVolumeFile } from './volume-files.js';
import type { VolumeAccess } from './volume-access.js';

export async function releaseVolume(access: VolumeAccess, key: string, log: { info(o: object, m: string): void }): Promise<Result> {
  const volume = access.volumes.get(key);
  if (!volume?.metadata.deletionTimestamp || volume.status?.node !== access.nodeName) return {};
  const finalizers = volume.metadata.finalizers ?? [];
  if (!finalizers.includes(VOLUME_STORAGE_FINALIZER) || finalizers.includes(VOLUME_PROTECTION_FINALIZER)) return {};
  if (volume.status.path) {
    await removeVolumeFile(volume.status.path);
    log.info({ volume: objectKey(volume.metadata), path: volume.status.path }, 'removed the file of a deleted volume');
  }
  const rest = finalizers.filter((f) => f !== VOLUME_STORAGE_FINALIZER);
  try {
    await access.client.patch<Volume>(
      'volume',
      volume.metadata.name!,
      { metadata: { resourceVersion: volume.metadata.resourceVersion, finalizers: rest.length ? rest : null } },
      { namespace: volume.metadata.namespace, type: 'merge' },
    );
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
  return {};
}
