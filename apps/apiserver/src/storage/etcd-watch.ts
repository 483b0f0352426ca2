/**
 * An etcd watch on a key prefix, translated into object changes. The watch cache uses one for
 * everything; a watcher that asks for history older than the cache holds gets its own.
 */
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import type { KubeObject } from '@shoal/api';
import { decode } from './object-store.js';
import type { Change } from './watch-filter.js';

export interface EtcdWatchHandlers {
  /** One change, in revision order. */
  onChange(key: string, change: Change): void;
  /** Every change up to `revision` (the store revision a batch of events brings us to) has been handed over. */
  onRevision(revision: number): void;
  /** The watch cannot continue (e.g. its start revision was compacted). */
  onFatal(err: Error & { compacted?: boolean }): void;
  onConnectionChange?(connected: boolean): void;
}

export interface WatchPrefixOptions {
  /** Keys whose events are decoded; the rest still advance the revision handed to onRevision. */
  accept?: (key: string) => boolean;
  /**
   * The object a key held before the change being handed over. Without it, etcd sends the
   * previous value with every event (prev_kv, which etcd must read back for each one) and it is
   * decoded; with it, etcd is not asked: for a cache that holds every object already. It is
   * asked in event order, after the change before has been handed to onChange.
   */
  previous?: (key: string) => KubeObject | undefined;
  /** An object the caller already holds for this key at this revision (its own write), so the event's value is not decoded again. */
  known?: (key: string, revision: number) => KubeObject | undefined;
}

function toChange(key: string, type: 'Put' | 'Delete', kv: IKeyValue, previous: KubeObject | undefined, opts: WatchPrefixOptions): Change | undefined {
  const revision = Number(kv.mod_revision);
  if (type === 'Put') {
    const object = opts.known?.(key, revision) ?? decode(kv).object;
    return { type: kv.version === '1' ? 'ADDED' : 'MODIFIED', object, previous, revision };
  }
  if (!previous) return undefined;
  // The deleted object, at the revision of its deletion; it shares everything else with `previous`.
  const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(revision) } };
  return { type: 'DELETED', object, previous, revision };
}

export interface PrefixWatch {
  cancel(): Promise<void>;
}

/** Watches keys under `prefix` ('' = the whole keyspace) from `fromRevision`. */
export async function watchPrefix(etcd: Etcd3, prefix: string, fromRevision: number, h: EtcdWatchHandlers, opts: WatchPrefixOptions = {}): Promise<PrefixWatch> {
  const builder = etcd.watch().prefix(prefix).startRevision(String(fromRevision));
  if (!opts.previous) builder.withPreviousKV();
  const watcher = builder.watcher();
  /** The revision this watch needs next; etcd3's own bookkeeping jumps ahead on (re)connect. */
  let next = fromRevision;
  watcher.on('data', (res: IWatchResponse) => {
    for (const ev of res.events) {
      const modRevision = Number(ev.kv.mod_revision);
      if (modRevision >= next) next = modRevision + 1;
      const key = ev.kv.key.toString();
      if (opts.accept && !opts.accept(key)) continue;
      const previous = opts.previous ? opts.previous(key) : ev.prev_kv ? decode(ev.prev_kv).object : undefined;
      const change = toChange(key, ev.type === 'Put' ? 'Put' : 'Delete', ev.kv, previous, opts);
      if (change) h.onChange(key, change);
    }
    h.onRevision(Number(res.header.revision));
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
