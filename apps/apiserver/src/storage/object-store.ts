/**
 * Objects in etcd, one key each. The stored JSON carries no resourceVersion: it is the key's
 * mod_revision, filled in on every read, so it can never disagree with etcd.
 * Writes are compare-and-swap transactions (STYLE.md §7): create needs Create == 0, update and
 * delete need Mod == the revision the caller read. They go through EtcdKv, not the etcd3 client:
 * these calls are most of what an API request costs, and etcd3's per-call overhead was ~40% of
 * the apiserver's CPU under creates (see etcd-kv.ts).
 */
import { BoundHistogram } from '../metrics/bound-metrics.js';
import type { KubeObject } from '@shoal/api';
import { prefixEnd } from './keys.js';
import { StoredForm } from './stored-form.js';
import type { EtcdKv } from './etcd-kv.js';

export interface StoredObject {
  object: KubeObject;
  /** etcd mod_revision of the key: the object's resourceVersion. */
  revision: number;
}

export type WriteResult = { ok: true; revision: number } | { ok: false; current?: StoredObject };

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

/** An object read from etcd, its resourceVersion filled in from the key's mod_revision. */
export function decode(kv: { value: Buffer; modRevision: number }): StoredObject {
  return { object: parseStored(kv.value.toString(), kv.modRevision), revision: kv.modRevision };
}

function parseStored(json: string, revision: number): KubeObject {
  const object = JSON.parse(json) as KubeObject;
  object.metadata.resourceVersion = String(revision);
  return object;
}

/**
 * A value from the watch, parsed only when something reads `object`. Most never are: with
 * nobody watching or listing, the cache's copy of an object this apiserver just wrote is that
 * very object (see adopt), and parsing its JSON again was a tenth of a create's CPU.
 */
export class StoredValue implements StoredObject {
  private json: string | undefined;
  private parsed: KubeObject | undefined;

  constructor(
    readonly revision: number,
    value: Buffer | KubeObject,
  ) {
    // As a string, not the received buffer: a slice would keep the whole network chunk alive.
    if (Buffer.isBuffer(value)) this.json = value.toString();
    else this.parsed = value;
  }

  get object(): KubeObject {
    if (this.parsed === undefined) {
      this.parsed = parseStored(this.json!, this.revision);
      this.json = undefined;
    }
    return this.parsed;
  }

  /** This value is known to be `object` (this apiserver wrote it): take it instead of parsing, unless already parsed. */
  adopt(object: KubeObject): void {
    if (this.parsed !== undefined) return;
    this.parsed = object;
    this.json = undefined;
  }
}

/** The stored form: everything but the resourceVersion. */
export function encode(obj: KubeObject): string {
  return StoredForm.of(obj).value;
}

export class ObjectStore {
  constructor(private readonly kv: EtcdKv) {}

  async get(key: string): Promise<StoredObject | undefined> {
    const res = await timed('get', () => this.kv.range({ key }));
    const kv = res.kvs[0];
    return kv ? decode(kv) : undefined;
  }

  async create(key: string, value: string): Promise<WriteResult> {
    const res = await timed('create', () => this.kv.txn({ compare: [{ key, target: 'Create', equals: 0 }], success: [{ put: { key, value } }] }));
    return res.succeeded ? { ok: true, revision: res.revision } : { ok: false };
  }

  async update(key: string, value: string, expectedRevision: number): Promise<WriteResult> {
    const res = await timed('update', () =>
      this.kv.txn({ compare: [{ key, target: 'Mod', equals: expectedRevision }], success: [{ put: { key, value } }], failure: [{ range: { key } }] }),
    );
    if (res.succeeded) return { ok: true, revision: res.revision };
    const kv = res.responses[0]?.range?.kvs[0];
    return { ok: false, current: kv ? decode(kv) : undefined };
  }

  async delete(key: string, expectedRevision: number): Promise<WriteResult> {
    const res = await timed('delete', () =>
      this.kv.txn({ compare: [{ key, target: 'Mod', equals: expectedRevision }], success: [{ deleteRange: { key } }], failure: [{ range: { key } }] }),
    );
    if (res.succeeded) return { ok: true, revision: res.revision };
    const kv = res.responses[0]?.range?.kvs[0];
    return { ok: false, current: kv ? decode(kv) : undefined };
  }

  /**
   * One page of keys under a prefix, after `startAfter`, read at `revision` (0: the latest).
   * Bounded by count so no response approaches gRPC's message cap.
   */
  async listPage(prefix: string, opts: { startAfter?: string; limit: number; revision?: number }): Promise<Page> {
    const key = opts.startAfter ? `${opts.startAfter}\0` : prefix;
    const res = await timed('list', () => this.kv.range({ key, rangeEnd: prefixEnd(prefix), limit: opts.limit, revision: opts.revision }));
    const items = res.kvs.map(decode);
    return {
      items,
      // etcd's header says its current revision; a read pinned to an older one is at that one.
      revision: opts.revision || res.revision,
      lastKey: res.kvs.length ? res.kvs[res.kvs.length - 1]!.key.toString() : opts.startAfter,
      more: res.more,
      remaining: Math.max(0, res.count - items.length),
    };
  }

  /** The store's current revision, for consistent reads served from the watch cache. */
  async currentRevision(): Promise<number> {
    const res = await timed('revision', () => this.kv.range({ key: '/registry/' }));
    return res.revision;
  }
}
