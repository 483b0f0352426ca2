/**
 * An etcd watch on a key prefix, translated into object changes. The watch cache uses one for
 * everything; a watcher that asks for history older than the cache holds gets its own.
 */
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import { decode } from './object-store.js';
import type { Change } from './watch-filter.js';

export interface EtcdWatchHandlers {
  /** A batch of changes in revision order; `revision` is the store revision they bring us to. */
  onChanges(changes: { key: string; change: Change }[], revision: number): void;
  /** The watch cannot continue (e.g. its start revision was compacted). */
  onFatal(err: Error & { compacted?: boolean }): void;
  onConnectionChange?(connected: boolean): void;
}

export function toChange(type: 'Put' | 'Delete', kv: IKeyValue, prev: IKeyValue | undefined): Change | undefined {
  const revision = Number(kv.mod_revision);
  if (type === 'Put') {
    const { object } = decode(kv);
    return { type: kv.version === '1' ? 'ADDED' : 'MODIFIED', object, previous: prev ? decode(prev).object : undefined, revision };
  }
  if (!prev) return undefined;
  const { object } = decode(prev);
  object.metadata.resourceVersion = String(revision);
  return { type: 'DELETED', object, previous: decode(prev).object, revision };
}

export interface PrefixWatch {
  cancel(): Promise<void>;
}

/**
 * Watches keys under `prefix` ('' = the whole keyspace) from `fromRevision`. Only keys that
 * `accept` lets through are decoded; the rest still advance the revision handed to onChanges.
 */
export async function watchPrefix(
  etcd: Etcd3,
  prefix: string,
  fromRevision: number,
  h: EtcdWatchHandlers,
  accept: (key: string) => boolean = () => true,
): Promise<PrefixWatch> {
  const watcher = etcd.watch().prefix(prefix).startRevision(String(fromRevision)).withPreviousKV().watcher();
  /** The revision this watch needs next; etcd3's own bookkeeping jumps ahead on (re)connect. */
  let next = fromRevision;
  watcher.on('data', (res: IWatchResponse) => {
    const changes: { key: string; change: Change }[] = [];
    for (const ev of res.events) {
      const key = ev.kv.key.toString();
      const change = accept(key) ? toChange(ev.type === 'Put' ? 'Put' : 'Delete', ev.kv, ev.prev_kv) : undefined;
      if (change) changes.push({ key, change });
      next = Math.max(next, Number(ev.kv.mod_revision) + 1);
    }
    h.onChanges(changes, Number(res.header.revision));
  });
  watcher.on('disconnected', () => h.onConnectionChange?.(false));
  watcher.on('connected', () => h.onConnectionChange?.(true));
  let canceledByEtcd = false;
  watcher.on('error', (err: Error) => {
    // etcd already dropped this watch; cancelling it again would make etcd3 throw on the reply.
    canceledByEtcd = true;
    void isCompacted(etcd, next, err).then((compacted) => h.onFatal(Object.assign(err, { compacted })));
  });
  return {
    cancel: () => (canceledByEtcd ? Promise.resolve() : watcher.cancel()),
  };
}

/**
 * etcd cancels a watch whose start revision was compacted, often without a reason text;
 * a read at the revision the watch needed next says for sure.
 */
async function isCompacted(etcd: Etcd3, needed: number, err: Error): Promise<boolean> {
  if (/compact/i.test(err.message)) return true;
  try {
    await etcd.get('/registry/').revision(needed).exec();
    return false;
  } catch (probeErr) {
    return /compact/i.test((probeErr as Error).message);
  }
}
