/**
 * The apiserver's storage on a real etcd member of its own, for tests below the HTTP layer: an
 * object store, and as many watch caches (one per simulated apiserver) as a test starts on it.
 */
import { Etcd3 } from 'etcd3';
import { kinds as loadKinds } from '@shoal/api';
import { startEtcd, type EtcdMember } from '@shoal/testing';
import { ObjectStore } from '../storage/object-store.js';
import { WatchCache } from '../storage/watch-cache.js';

/** Write options of a client that wants unknown fields refused and its writes made. */
export const STRICT_WRITE = { fieldValidation: 'Strict' as const, dryRun: false };

export interface TestStorage {
  etcd: Etcd3;
  store: ObjectStore;
  /** A watch cache of every kind on this etcd, started (so caught up with it). */
  startCache(windowSize?: number): Promise<WatchCache>;
  /** Stops the caches, the client and the member. */
  stop(): Promise<void>;
}

export async function startTestStorage(name: string): Promise<TestStorage> {
  const kinds = loadKinds();
  const member: EtcdMember = await startEtcd({ name });
  const etcd = new Etcd3({ hosts: member.endpoint });
  const store = new ObjectStore(etcd);
  const caches: WatchCache[] = [];
  return {
    etcd,
    store,
    async startCache(windowSize = 1000) {
      const cache = new WatchCache(etcd, store, kinds.all, { windowSize });
      caches.push(cache);
      await cache.start();
      return cache;
    },
    async stop() {
      for (const cache of caches) await cache.stop();
      etcd.close();
      await member.stop();
    },
  };
}
