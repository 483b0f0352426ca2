/**
 * An etcd watch on a key prefix, translated into object changes. The watch cache uses one for
 * everything; a watcher that asks for history older than the cache holds gets its own.
 */
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
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

export async function watchPrefix(etcd: Etcd3, prefix: string, fromRevision: number, h: EtcdWatchHandlers): Promise<Watcher> {
  const watcher = etcd.watch().prefix(prefix).startRevision(String(fromRevision)).withPreviousKV().watcher();
  watcher.on('data', (res: IWatchResponse) => {
    const changes: { key: string; change: Change }[] = [];
    for (const ev of res.events) {
      const change = toChange(ev.type === 'Put' ? 'Put' : 'Delete', ev.kv, ev.prev_kv);
      if (change) changes.push({ key: ev.kv.key.toString(), change });
    }
    h.onChanges(changes, Number(res.header.revision));
  });
  watcher.on('disconnected', () => h.onConnectionChange?.(false));
  watcher.on('connected', () => h.onConnectionChange?.(true));
  watcher.on('error', (err: Error) => {
    const compacted = /compact/i.test(err.message);
    h.onFatal(Object.assign(err, { compacted }));
  });
  return watcher;
}
