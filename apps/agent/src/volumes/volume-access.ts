/** What the agent reads and writes of Volumes and StoragePools: the node's view, built once by the wiring. */
import { objectKey, resolvePool, type DiskBackup, type StoragePool, type Volume } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';

export interface VolumeAccess {
  nodeName: string;
  /** The node's labels, as a shared pool's nodeSelector reads them. */
  nodeLabels: Record<string, string>;
  dataDir: string;
  client: ShoalClient;
  volumes: Pick<Informer<Volume>, 'get' | 'list'>;
  pools: Pick<Informer<StoragePool>, 'get' | 'list'>;
  /** The node's copy of an Image's disk, for a Volume made from it (images/boot-image.ts); absent: Volumes name image files by path only. */
  /** Every DiskBackup the agent knows of: a Volume restored from a Backup is filled from their files. */
  diskBackups?(): DiskBackup[];
  imageDisk?(imageName: string): { ok: true; path: string; format: 'qcow2' | 'raw' } | { ok: false; reason: string; message: string };
}

export const volumeOf = (access: VolumeAccess, namespace: string, name: string) => access.volumes.get(objectKey({ namespace, name }));

/** The pool object (the implicit `local` pool included), or undefined when it does not exist. */
export const poolOf = (access: VolumeAccess, name: string) => resolvePool(name, (n) => access.pools.get(n));
