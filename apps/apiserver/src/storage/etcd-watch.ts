/**
 * An etcd watch on a key prefix, translated into object changes. The watch cache uses one for
 * everything; a watcher that asks for history older than the cache holds gets its own.
 */
import type { Etcd3, IKeyValue, IWatchCreateRequest, IWatchResponse } from 'etcd3';
import type { KubeObject } from '@shoal/api';
import { answerJson, StoredValue, type StoredObject } from './stored-value.js';
import type { Change, ChangeType } from './watch-filter.js';

export interface EtcdWatchHandlers {
  /** One change, in revision order. */
  onChange(key: string, change: EtcdChange): void;
  /** Every change up to `revision` has been handed over. */
  onRevision(revision: number): void;
  /** The watch cannot continue (e.g. its start revision was compacted). */
  onFatal(err: Error & { compacted?: boolean }): void;
  onConnectionChange?(connected: boolean): void;
}

export interface WatchPrefixOptions {
  /** Keys whose events are decoded; the rest still advance the revision handed to onRevision. */
  accept?: (key: string) => boolean;
  /**
   * What a key held before the change being handed over. Without it, etcd sends the previous
   * value with every event (prev_kv, which etcd must read back for each one); with it, etcd is
   * not asked: for a cache that holds every object already. It is asked in event order, after
   * the change before has been handed to onChange.
   */
  previous?: (key: string) => StoredObject | undefined;
  /** An object the caller already holds for this key at this revision (its own write), so the event's value is not decoded again. */
  known?: (key: string, revision: number) => KubeObject | undefined;
}

/**
 * A change seen on the watch. Its objects are parsed when first read (StoredValue): with
 * nobody watching a kind, most never are.
 */
export class EtcdChange implements Change {
  private deleted?: KubeObject;

  constructor(
    public type: ChangeType,
    readonly revision: number,
    /** The key's value after the change; for a deletion, the value it had. */
    readonly stored: StoredObject,
    /** The key's value before the change. */
    public before: StoredObject | undefined,
  ) {}

  get object(): KubeObject {
    if (this.type !== 'DELETED') return this.stored.object;
    // The deleted object, at the revision of its deletion; it shares everything else with the last value.
    const last = this.stored.object;
    return (this.deleted ??= { ...last, metadata: { ...last.metadata, resourceVersion: String(this.revision) } });
  }

  get previous(): KubeObject | undefined {
    return this.before?.object;
  }

  /** `object` as JSON, written from the stored JSON when at hand rather than serialised. */
  get objectJson(): string {
    return answerJson(this.stored, this.revision);
  }
}

function toChange(key: string, type: 'Put' | 'Delete', kv: IKeyValue, before: StoredObject | undefined, opts: WatchPrefixOptions): EtcdChange | undefined {
  const revision = Number(kv.mod_revision);
  if (type === 'Put') {
    const stored = new StoredValue(revision, kv.value, opts.known?.(key, revision));
    return new EtcdChange(kv.version === '1' ? 'ADDED' : 'MODIFIED', revision, stored, before);
  }
  if (!before) return undefined;
  return new EtcdChange('DELETED', revision, before, before);
}

export interface PrefixWatch {
  cancel(): Promise<void>;
}

/** Watches keys under `prefix` ('' = the whole keyspace) from `fromRevision`. */
export async function watchPrefix(
  etcd: Etcd3,
  prefix: string,
  fromRevision: number,
  h: EtcdWatchHandlers,
  opts: WatchPrefixOptions = {},
): Promise<PrefixWatch> {
  const builder = etcd.watch().prefix(prefix).startRevision(String(fromRevision));
  if (!opts.previous) builder.withPreviousKV();
  const watcher = builder.watcher();
  /** The revision this watch needs next; etcd3's own bookkeeping jumps ahead on (re)connect (see 'connecting'). */
  let next = fromRevision;
  watcher.on('data', (res: IWatchResponse) => {
    if (!res.events.length) return;
    for (const ev of res.events) {
      const modRevision = Number(ev.kv.mod_revision);
      if (modRevision >= next) next = modRevision + 1;
      const key = ev.kv.key.toString();
      if (opts.accept && !opts.accept(key)) continue;
      const before = opts.previous ? opts.previous(key) : ev.prev_kv ? new StoredValue(Number(ev.prev_kv.mod_revision), ev.prev_kv.value) : undefined;
      const change = toChange(key, ev.type === 'Put' ? 'Put' : 'Delete', ev.kv, before, opts);
      if (change) h.onChange(key, change);
    }
    // The last event's revision, not the header's: catching up from the past, etcd sends at most
    // 1000 revisions per response with its current revision in every header.
    h.onRevision(next - 1);
  });
  // etcd3 moves the watch's start revision to the header revision of every response, including
  // the one that confirms a (re)created watch: that is the member's current revision, not the
  // last change delivered. Were the stream to break again before the changes in between arrive,
  // etcd3 would resume after them and they would be lost. Every (re)creation asks for `next`.
  // (etcd3 types the argument as a whole watch request; it passes this watcher's create request.)
  watcher.on('connecting', (request) => {
    (request as IWatchCreateRequest).start_revision = String(next);
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
