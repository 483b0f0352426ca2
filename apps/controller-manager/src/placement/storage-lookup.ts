/** The scheduler's and preemptor's view of Volumes and StoragePools: their informers' caches, read as they are. */
import { objectKey, type StoragePool, type Volume } from '@shoal/api';
import type { StorageLookup } from '@shoal/scheduler';
import type { ControllerEnv } from '../controller-env.js';

export function storageInformers(env: ControllerEnv): {
  lookup: StorageLookup;
  volumes: ReturnType<typeof volumeInformer>;
  pools: ReturnType<typeof poolInformer>;
} {
  const volumes = volumeInformer(env);
  const pools = poolInformer(env);
  return {
    volumes,
    pools,
    lookup: {
      volume: (namespace, name) => volumes.get(objectKey({ namespace, name })),
      pool: (name) => pools.get(name),
      pools: () => pools.list(),
    },
  };
}

const volumeInformer = (env: ControllerEnv) => env.informers.informer<Volume>('volume');
const poolInformer = (env: ControllerEnv) => env.informers.informer<StoragePool>('storagepool');
