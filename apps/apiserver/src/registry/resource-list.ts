/**
 * Lists, the two ways the resource service reads them: whole lists from the watch cache once it
 * has caught up (a consistent read that costs etcd one revision check), paged lists from etcd at
 * one revision for every page (a consistent snapshot however long the paging takes).
 */
import { gone, type FieldRequirement, type KindInfo, type KubeObject, type ListMeta, type Selector } from '@shoal/api';
import type { ObjectStore } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';
import type { StoredObject } from '../storage/stored-value.js';
import { listPrefix, objectKeyPath } from '../storage/keys.js';
import { awaitCacheRevision } from './cache-revision.js';
import { decodeContinue, encodeContinue } from './continue-token.js';

export interface ListQuery {
  namespace?: string;
  labels: Selector;
  fields: FieldRequirement[];
  limit?: number;
  continueToken?: string;
  /** '' (consistent read), '0' (any recent state) or a revision. */
  resourceVersion?: string;
}

/** A list as read: the stored objects, each with its revision (and JSON when at hand), in key order. */
export interface StoredList {
  metadata: ListMeta;
  items: StoredObject[];
}

/** Objects fetched from etcd per round trip when paging a selective list. */
const LIST_CHUNK = 500;

/**
 * Whole lists come from memory, after the cache has caught up with etcd (a consistent read).
 * Only selectors read the objects themselves: the namespace and the order come from each one's
 * `namespace/name` in the cache, so a plain list parses nothing (it is written from stored JSON).
 */
export async function listFromCache(
  store: ObjectStore,
  cache: WatchCache,
  kind: KindInfo,
  q: ListQuery,
  matches: (o: KubeObject) => boolean,
): Promise<StoredList> {
  let atLeast = 0;
  if (q.resourceVersion === undefined || q.resourceVersion === '') atLeast = await store.currentRevision();
  else if (q.resourceVersion !== '0') atLeast = Number(q.resourceVersion);
  await awaitCacheRevision(cache, atLeast);
  const revision = cache.revision;
  const selective = q.labels.length > 0 || q.fields.length > 0;
  const within = q.namespace && kind.namespaced ? `${q.namespace}/` : '';
  const found: { namespace: string; name: string; stored: StoredObject }[] = [];
  for (const [id, stored] of cache.entries(kind)) {
    if (within && !id.startsWith(within)) continue;
    if (selective && !matches(stored.object)) continue;
    const slash = id.indexOf('/');
    found.push({ namespace: slash < 0 ? '' : id.slice(0, slash), name: id.slice(slash + 1), stored });
  }
  found.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name));
  return { metadata: { resourceVersion: String(revision) }, items: found.map((f) => f.stored) };
}

/**
 * Paged lists read etcd at one revision for every page, so a client paging through 50,000
 * objects sees one consistent snapshot. Selectors are applied per chunk until the page is full.
 */
export async function listFromEtcd(store: ObjectStore, kind: KindInfo, q: ListQuery, matches: (o: KubeObject) => boolean): Promise<StoredList> {
  const prefix = listPrefix(kind, q.namespace);
  const limit = q.limit && q.limit > 0 ? q.limit : Infinity;
  let revision = 0;
  let startAfter: string | undefined;
  if (q.continueToken) ({ revision, startAfter } = decodeContinue(q.continueToken, prefix));
  else if (q.resourceVersion && q.resourceVersion !== '0') revision = Number(q.resourceVersion);
  const items: StoredObject[] = [];
  const selective = q.labels.length > 0 || q.fields.length > 0;
  let more = true;
  let remaining = 0;
  try {
    while (items.length < limit && more) {
      const want = Math.min(LIST_CHUNK, limit === Infinity ? LIST_CHUNK : selective ? Math.max(limit - items.length, 50) : limit - items.length);
      const page = await store.listPage(prefix, { startAfter, limit: want, revision });
      revision = page.revision;
      more = page.more;
      remaining = page.remaining;
      for (const stored of page.items) {
        if (items.length >= limit) break;
        startAfter = keyOf(kind, stored.object);
        if (matches(stored.object)) items.push(stored);
      }
      // A page cut short by the limit leaves the rest of the chunk for the next call.
      if (items.length >= limit && page.items.length && keyOf(kind, page.items[page.items.length - 1]!.object) !== startAfter) more = true;
    }
  } catch (err) {
    if (/compact/i.test((err as Error).message))
      throw gone(`The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.`);
    throw err;
  }
  return {
    metadata: {
      resourceVersion: String(revision),
      ...(more ? { continue: encodeContinue({ revision, startAfter: startAfter! }) } : {}),
      ...(more && !selective ? { remainingItemCount: remaining } : {}),
    },
    items,
  };
}

function keyOf(kind: KindInfo, o: KubeObject): string {
  return objectKeyPath(kind, o.metadata.namespace, o.metadata.name!);
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
