/**
 * Reads served from the watch cache (whole lists, watches) first wait for the cache to reach the
 * revision they must include: etcd's current one for a consistent list, the client's
 * resourceVersion otherwise. A revision the cache does not reach in time is Kubernetes' answer,
 * 504 "Too large resource version" with Retry-After, for the client to try again.
 */
import { ApiError } from '@shoal/api';
import type { WatchCache } from '../storage/watch-cache.js';

/** How long a read may wait for the watch cache to catch up with etcd. */
const CACHE_CATCH_UP_MS = 3_000;

export async function awaitCacheRevision(cache: WatchCache, revision: number): Promise<void> {
  if (!(await cache.waitForRevision(revision, CACHE_CATCH_UP_MS)))
    throw new ApiError(504, 'Timeout', `Too large resource version: ${revision}, current: ${cache.revision}`, { retryAfterSeconds: 1 });
}
