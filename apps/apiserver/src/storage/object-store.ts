/**
 * Objects in etcd, one key each. The stored JSON carries no resourceVersion: it is the key's
 * mod_revision, filled in on every read (stored-value.ts), so it can never disagree with etcd.
 * Writes are compare-and-swap transactions (STYLE.md §7): create needs Create == 0, update and
 * delete need Mod == the revision the caller read, with any guards the caller's reads ask for.
 * Writes that arrive together share one transaction (txn-coalescer.ts); each still succeeds or
 * fails on its own compares.
 */
import type { Etcd3 } from 'etcd3';
import { BoundHistogram } from '../metrics/bound-metrics.js';
import type { KubeObject } from '@shoal/api';
import { prefixEnd } from './keys.js';
import { StoredForm } from './stored-form.js';
import { decode, type StoredObject } from './stored-value.js';
import { watchPrefix, type EtcdWatchHandlers, type PrefixWatch } from './etcd-watch.js';
import { DEFAULT_MAX_TXN_OPS, TxnCoalescer, type KeyWriteResult as WriteResult, type WriteGuard } from './txn-coalescer.js';

export type { KeyWriteResult as WriteResult, WriteGuard } from './txn-coalescer.js';

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

/** The stored form: everything but the resourceVersion. */
export function encode(obj: KubeObject): string {
  return StoredForm.of(obj).value;
}

export class ObjectStore {
  /** Single-key writes (with their guards), committed together when they arrive together (txn-coalescer.ts). */
  private readonly writes: TxnCoalescer;

  constructor(
    private readonly etcd: Etcd3,
    /** Compares per etcd transaction at most: etcd's --max-txn-ops (1: each write alone). */
    opts: { maxTxnOps?: number } = {},
  ) {
    this.writes = new TxnCoalescer(etcd, opts.maxTxnOps ?? DEFAULT_MAX_TXN_OPS);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const res = await timed('get', () => this.etcd.get(key).exec());
    const kv = res.kvs[0];
    return kv ? decode(kv) : undefined;
  }

  async create(key: string, value: string, guards: WriteGuard[] = []): Promise<WriteResult> {
    const res = await timed('create', () => this.writes.write({ key, value, expectedRevision: 0, guards }));
    // Without guards, a failed create has one reason: the key exists.
    return res.ok || guards.length ? res : { ok: false };
  }

  async update(key: string, value: string, expectedRevision: number, guards: WriteGuard[] = []): Promise<WriteResult> {
    return timed('update', () => this.writes.write({ key, value, expectedRevision, guards }));
  }

  async delete(key: string, expectedRevision: number): Promise<WriteResult> {
    return timed('delete', () => this.writes.write({ key, expectedRevision }));
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
