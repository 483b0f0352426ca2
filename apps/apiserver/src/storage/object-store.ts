/**
 * Objects in etcd, one key each. The stored JSON carries no resourceVersion: it is the key's
 * mod_revision, filled in on every read (stored-value.ts), so it can never disagree with etcd.
 * Writes are compare-and-swap transactions (STYLE.md §7): create needs Create == 0, update and
 * delete need Mod == the revision the caller read.
 */
import { CompareResult, CompareTarget, type Etcd3, type ICompare } from 'etcd3';
import { BoundHistogram } from '../metrics/bound-metrics.js';
import type { KubeObject } from '@shoal/api';
import { prefixEnd } from './keys.js';
import { StoredForm } from './stored-form.js';
import { decode, type StoredObject } from './stored-value.js';
import { watchPrefix, type EtcdWatchHandlers, type PrefixWatch } from './etcd-watch.js';

/**
 * `guardFailed`: the object's own compare held (create: absent; update: at the expected
 * revision) but a WriteGuard did not, so the write was refused because of other keys.
 */
export type WriteResult = { ok: true; revision: number } | { ok: false; current?: StoredObject; guardFailed?: boolean };

/**
 * A condition on other keys that a write is made under, checked by etcd in the write's own
 * transaction: admission that read other objects (a VM's PriorityClass, say) can then write as
 * if nothing changed in between, or learn that something did and read again.
 */
export type WriteGuard =
  /** The key is at exactly this mod_revision, so unchanged since it was read (0: it does not exist). */
  | { key: string; revision: number }
  /** No key under the prefix was created or modified after this revision (etcd compares every key in the range). */
  | { prefix: string; unchangedSince: number };

export interface Page {
  items: StoredObject[];
  /** The revision the page was read at (the list's resourceVersion). */
  revision: number;
  /** Last key examined, to continue after. */
  lastKey?: string;
  more: boolean;
  /** Keys left after this page, when etcd says so. */
  remaining: number;
}

const etcdLatency = new BoundHistogram({
  name: 'shoal_apiserver_etcd_request_duration_seconds',
  help: 'Latency of etcd requests made by the apiserver, by operation.',
  labelNames: ['operation'],
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});
const etcdOperations = {
  get: etcdLatency.with('get'),
  create: etcdLatency.with('create'),
  update: etcdLatency.with('update'),
  updateMany: etcdLatency.with('update_many'),
  delete: etcdLatency.with('delete'),
  list: etcdLatency.with('list'),
  revision: etcdLatency.with('revision'),
};

async function timed<T>(operation: keyof typeof etcdOperations, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    etcdOperations[operation].observe((performance.now() - start) / 1000);
  }
}

function guardCompare(g: WriteGuard): ICompare {
  if ('key' in g) return { key: Buffer.from(g.key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: g.revision };
  return {
    key: Buffer.from(g.prefix),
    range_end: Buffer.from(prefixEnd(g.prefix)),
    target: CompareTarget.Mod,
    result: CompareResult.Less,
    mod_revision: g.unchangedSince + 1,
  };
}

/** The stored form: everything but the resourceVersion. */
export function encode(obj: KubeObject): string {
  return StoredForm.of(obj).value;
}

export class ObjectStore {
  constructor(private readonly etcd: Etcd3) {}

  async get(key: string): Promise<StoredObject | undefined> {
    const res = await timed('get', () => this.etcd.get(key).exec());
    const kv = res.kvs[0];
    return kv ? decode(kv) : undefined;
  }

  async create(key: string, value: string, guards: WriteGuard[] = []): Promise<WriteResult> {
    if (guards.length)
      return this.guardedPut(
        'create',
        key,
        value,
        { key: Buffer.from(key), target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 },
        guards,
      );
    const res = await timed('create', () => this.etcd.if(key, 'Create', '==', 0).then(this.etcd.put(key).value(value)).commit());
    return res.succeeded ? { ok: true, revision: Number(res.header.revision) } : { ok: false };
  }

  async update(key: string, value: string, expectedRevision: number, guards: WriteGuard[] = []): Promise<WriteResult> {
    if (guards.length)
      return this.guardedPut(
        'update',
        key,
        value,
        { key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: expectedRevision },
        guards,
      );
    const res = await timed('update', () =>
      this.etcd.if(key, 'Mod', '==', expectedRevision).then(this.etcd.put(key).value(value)).else(this.etcd.get(key)).commit(),
    );
    if (res.succeeded) return { ok: true, revision: Number(res.header.revision) };
    const kv = res.responses[0]?.response_range?.kvs[0];
    return { ok: false, current: kv ? decode(kv) : undefined };
  }

  async delete(key: string, expectedRevision: number): Promise<WriteResult> {
    const res = await timed('delete', () =>
      this.etcd.if(key, 'Mod', '==', expectedRevision).then(this.etcd.delete().key(key)).else(this.etcd.get(key)).commit(),
    );
    if (res.succeeded) return { ok: true, revision: Number(res.header.revision) };
    const kv = res.responses[0]?.response_range?.kvs[0];
    return { ok: false, current: kv ? decode(kv) : undefined };
  }

  /**
   * Several updates in ONE transaction: all of them, each at the revision its caller read, or
   * none. One raft entry and one round trip for them all, which is what makes a bulk bind cheap
   * per object. When any key moved on, nothing is written and the answer carries every key's
   * current value (undefined: gone), so the caller can judge each again without reading them.
   * Callers keep a transaction within etcd's limits (--max-txn-ops, 128 by default; the request
   * size, 1.5 MiB).
   */
  async updateMany(
    writes: { key: string; value: string; expectedRevision: number }[],
  ): Promise<{ ok: true; revision: number } | { ok: false; current: (StoredObject | undefined)[] }> {
    const res = await timed('updateMany', () =>
      this.etcd.kv.txn({
        compare: writes.map((w) => ({ key: Buffer.from(w.key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: w.expectedRevision })),
        success: writes.map((w) => ({ request_put: { key: Buffer.from(w.key), value: Buffer.from(w.value) } })),
        failure: writes.map((w) => ({ request_range: { key: Buffer.from(w.key) } })),
      }),
    );
    if (res.succeeded) return { ok: true, revision: Number(res.header.revision) };
    return {
      ok: false,
      current: res.responses.map((r) => {
        const kv = r.response_range?.kvs[0];
        return kv ? decode(kv) : undefined;
      }),
    };
  }

  /**
   * A put under the object's own compare and its guards, as one raw transaction: etcd3's builder
   * cannot express a compare over a key range. Writes without guards keep the builder's path.
   */
  private async guardedPut(operation: 'create' | 'update', key: string, value: string, own: ICompare, guards: WriteGuard[]): Promise<WriteResult> {
    const res = await timed(operation, () =>
      this.etcd.kv.txn({
        compare: [own, ...guards.map(guardCompare)],
        success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value) } }],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (res.succeeded) return { ok: true, revision: Number(res.header.revision) };
    const kv = res.responses[0]?.response_range?.kvs[0];
    const current = kv ? decode(kv) : undefined;
    const ownHeld = operation === 'create' ? current === undefined : current !== undefined && current.revision === Number(own.mod_revision);
    return { ok: false, current, guardFailed: ownHeld };
  }

  /**
   * One page of keys under a prefix, after `startAfter`, read at `revision` (0: the latest).
   * Bounded by count so no response approaches gRPC's message cap.
   */
  async listPage(prefix: string, opts: { startAfter?: string; limit: number; revision?: number }): Promise<Page> {
    const start = opts.startAfter ? `${opts.startAfter}\0` : prefix;
    const builder = this.etcd
      .getAll()
      .inRange({ start, end: prefixEnd(prefix) })
      .limit(opts.limit);
    if (opts.revision) builder.revision(opts.revision);
    const res = await timed('list', () => builder.exec());
    const items = res.kvs.map(decode);
    const count = Number(res.count);
    return {
      items,
      // etcd's header says its current revision; a read pinned to an older one is at that one.
      revision: opts.revision || Number(res.header.revision),
      lastKey: res.kvs.length ? res.kvs[res.kvs.length - 1]!.key.toString() : opts.startAfter,
      more: res.more,
      remaining: Math.max(0, count - items.length),
    };
  }

  /**
   * The changes under a prefix from `fromRevision` on, as they happen: for history older than the
   * watch cache holds (the cache itself watches the whole keyspace on its own).
   */
  watch(prefix: string, fromRevision: number, handlers: EtcdWatchHandlers): Promise<PrefixWatch> {
    return watchPrefix(this.etcd, prefix, fromRevision, handlers);
  }

  /**
   * The store's current revision, for consistent reads served from the watch cache. A
   * linearizable read, so it fails when etcd has no quorum: readiness probes use it with a
   * deadline shorter than the usual one.
   */
  async currentRevision(opts: { timeoutMs?: number } = {}): Promise<number> {
    const read = this.etcd.get('/registry/');
    if (opts.timeoutMs) read.options({ deadline: Date.now() + opts.timeoutMs });
    const res = await timed('revision', () => read.exec());
    return Number(res.header.revision);
  }
}
