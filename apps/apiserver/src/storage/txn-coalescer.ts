/**
 * Single-key compare-and-swap writes that arrive together go to etcd as one transaction.
 *
 * Every create, update and delete is a transaction of its own: one compare on its key (and its
 * guards' compares on other keys), one put or delete, and a read of the key when a compare
 * fails. Under load, the fixed cost of each (a gRPC call through grpc-js and http2 in this
 * process, a raft entry in etcd) weighs more than the write itself. Writes queued in the same
 * turn of the event loop are therefore committed together, up to etcd's limits: every compare,
 * every write, every read in one transaction.
 *
 * What each caller sees does not change. Writes share a transaction only when none of them
 * touches a key another one's guards look at (nor the same key), so judging every compare before
 * any write is the same as judging them one after the other: two VM creates under one quota guard
 * go apart. When the transaction commits, each write is committed (they share its revision, as a
 * bulk bind's objects do). When it does not, etcd answers, at the revision the compares were
 * judged at, every key's current value and what each guard looks at: a write whose own compare or
 * guard failed answers what it would have alone; the writes whose compares all held were refused
 * only because of another, and go again together.
 *
 * A guard is compared once per transaction however many of its writes carry it: the creates of
 * one namespace admitted in one turn all carry the same quota and priority-class guards, and as
 * one compare each they leave room for three times the writes in etcd's --max-txn-ops.
 */
import { CompareResult, CompareTarget, type ICompare, type IRequestOp, type ITxnResponse } from 'etcd3';
import type { Etcd3 } from 'etcd3';
import { BoundHistogram } from '../metrics/bound-metrics.js';
import { prefixEnd } from './keys.js';
import { decode, type StoredObject } from './stored-value.js';

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

export interface KeyWrite {
  key: string;
  /** What to put; undefined deletes the key. */
  value?: string;
  /** The key's mod_revision the write is made against; 0: the key must not exist. */
  expectedRevision: number;
  guards?: WriteGuard[];
}

/**
 * `current`: the key's value when the write was refused (undefined: absent). `guardFailed`
 * (guarded writes only): the write's own compare held (create: absent; update: at the expected
 * revision) but a WriteGuard did not, so the write was refused because of other keys.
 */
export type KeyWriteResult = { ok: true; revision: number } | { ok: false; current?: StoredObject; guardFailed?: boolean };

/** etcd's own defaults: --max-txn-ops 128, --max-request-bytes 1.5 MiB (room left for keys and framing). */
export const DEFAULT_MAX_TXN_OPS = 128;
export const MAX_TXN_BYTES = 1024 * 1024;

const writesPerTxn = new BoundHistogram({
  name: 'shoal_apiserver_etcd_writes_per_transaction',
  help: 'Single-key writes committed together in one etcd transaction (1: alone); see --etcd-max-txn-ops.',
  labelNames: [],
  buckets: [1, 2, 4, 8, 16, 32, 64, 128],
}).with();

/** A guard with its guardId, worked out once per write: batching and judging a failure look it up often. */
interface Check {
  id: string;
  guard: WriteGuard;
}

interface Queued extends KeyWrite {
  checks: Check[];
  resolve(r: KeyWriteResult): void;
  reject(err: unknown): void;
}

interface Batch {
  writes: Queued[];
  keys: Set<string>;
  /** The writes' guards, each once (by guardId), and whether it looks at any of `keys` (a write's own, say). */
  guards: Map<string, { guard: WriteGuard; looksAtBatch: boolean }>;
  /** Compares so far: one per write and one per distinct guard (etcd's --max-txn-ops counts them). */
  ops: number;
  bytes: number;
}

export class TxnCoalescer {
  private queue: Queued[] = [];
  private flushScheduled = false;

  /** maxTxnOps 1: every write alone, as without this class. */
  constructor(
    private readonly etcd: Etcd3,
    private readonly maxTxnOps = DEFAULT_MAX_TXN_OPS,
  ) {}

  write(w: KeyWrite): Promise<KeyWriteResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...w, checks: (w.guards ?? []).map((guard) => ({ id: guardId(guard), guard })), resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // After the current turn: every request parsed from the same read of the sockets has
        // reached its write by then, and one lone write waits no more than a turn.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.queue;
    this.queue = [];
    for (const txn of this.transactions(queued)) void this.commit(txn);
  }

  /** Splits the queue into transactions within etcd's limits, no two writes in one that could see each other, in order. */
  private transactions(queued: Queued[]): Queued[][] {
    const batches: Batch[] = [];
    for (const w of queued) {
      const bytes = w.key.length + (w.value?.length ?? 0);
      // After the last batch this write could see or be seen by (a key's writes keep their order).
      let from = 0;
      for (let i = batches.length - 1; i >= 0; i--)
        if (overlaps(batches[i]!, w)) {
          from = i + 1;
          break;
        }
      let batch: Batch | undefined;
      for (let i = from; i < batches.length && !batch; i++) {
        const b = batches[i]!;
        if (b.ops + opsAdded(b, w) <= this.maxTxnOps && b.bytes + bytes <= MAX_TXN_BYTES) batch = b;
      }
      if (!batch) batches.push((batch = { writes: [], keys: new Set(), guards: new Map(), ops: 0, bytes: 0 }));
      batch.ops += opsAdded(batch, w);
      batch.writes.push(w);
      batch.keys.add(w.key);
      // No guard of the batch looks at w.key (overlaps said so); w's own guards may.
      for (const { id, guard } of w.checks) batch.guards.set(id, { guard, looksAtBatch: batch.guards.get(id)?.looksAtBatch || looksAt(guard, w.key) });
      batch.bytes += bytes;
    }
    return batches.map((b) => b.writes);
  }

  private async commit(txn: Queued[]): Promise<void> {
    const distinct = distinctGuards(txn);
    let res: ITxnResponse;
    try {
      res = await this.etcd.kv.txn({
        compare: [...txn.map(ownCompare), ...[...distinct.values()].map(guardCompare)],
        success: txn.map(writeOf),
        // Alone, a failed write needs only its key's value; together, also what each guard looks at.
        failure: [...txn.map((w) => readKey(w.key)), ...(txn.length > 1 ? [...distinct.values()].map(readGuard) : [])],
      });
    } catch (err) {
      // etcd's --max-txn-ops is lower than ours (--etcd-max-txn-ops should say it): it refused
      // the transaction before applying any of it, so each write goes again alone.
      if (txn.length > 1 && isTooManyOps(err)) for (const w of txn) void this.commit([w]);
      else for (const w of txn) w.reject(err);
      return;
    }
    writesPerTxn.observe(txn.length);
    if (res.succeeded) {
      const revision = Number(res.header.revision);
      for (const w of txn) w.resolve({ ok: true, revision });
      return;
    }
    const guardFailed = new Set<string>();
    if (txn.length > 1) {
      let at = txn.length;
      for (const [id, g] of distinct) if (!guardHeld(g, res.responses[at++]?.response_range)) guardFailed.add(id);
    }
    const held: Queued[] = [];
    txn.forEach((w, at) => {
      const kv = res.responses[at]?.response_range?.kvs[0];
      const current = kv ? decode(kv) : undefined;
      const ownHeld = w.expectedRevision === 0 ? current === undefined : current?.revision === w.expectedRevision;
      // Alone, etcd judged only this write's compares: if its own held, a guard failed.
      const guardsHeld = txn.length > 1 && !w.checks.some((c) => guardFailed.has(c.id));
      if (ownHeld && guardsHeld) held.push(w);
      else w.resolve(w.guards?.length ? { ok: false, current, guardFailed: ownHeld } : { ok: false, current });
    });
    // Together again: a part of a transaction keeps within its limits, and each failure answers
    // at least one write, so a bulk bind with one stale object costs one more transaction, not one per object.
    if (held.length) void this.commit(held);
  }
}

function isTooManyOps(err: unknown): boolean {
  return err instanceof Error && err.message.includes('too many operations in txn request');
}

/** Whether `w` may not share a transaction with `b`: the same key, or a key one's guards look at. */
function overlaps(b: Batch, w: Queued): boolean {
  if (b.keys.has(w.key)) return true;
  for (const { guard } of b.guards.values()) if (looksAt(guard, w.key)) return true;
  for (const { id, guard } of w.checks) {
    // A guard the batch already holds was checked against its keys as each joined.
    const held = b.guards.get(id);
    if (held ? held.looksAtBatch : looksAtAny(guard, b.keys)) return true;
  }
  return false;
}

/** Compares `w` adds to `b`: its own, and its guards that `b` does not compare yet. */
function opsAdded(b: Batch, w: Queued): number {
  let ops = 1;
  for (const { id } of w.checks) if (!b.guards.has(id)) ops++;
  return ops;
}

/** Whether guard `g` looks at `key`: a change of it fails the guard. */
function looksAt(g: WriteGuard, key: string): boolean {
  return 'key' in g ? g.key === key : key.startsWith(g.prefix);
}

function looksAtAny(g: WriteGuard, keys: Iterable<string>): boolean {
  for (const k of keys) if (looksAt(g, k)) return true;
  return false;
}

/** Equal guards (the same key at the same revision, the same prefix since the same revision) are one compare. */
function guardId(g: WriteGuard): string {
  return 'key' in g ? `key ${g.revision} ${g.key}` : `prefix ${g.unchangedSince} ${g.prefix}`;
}

function distinctGuards(txn: Queued[]): Map<string, WriteGuard> {
  const out = new Map<string, WriteGuard>();
  for (const w of txn) for (const { id, guard } of w.checks) out.set(id, guard);
  return out;
}

function ownCompare(w: KeyWrite): ICompare {
  const key = Buffer.from(w.key);
  return w.expectedRevision === 0
    ? { key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }
    : { key, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: w.expectedRevision };
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

function writeOf(w: KeyWrite): IRequestOp {
  const key = Buffer.from(w.key);
  return w.value === undefined ? { request_delete_range: { key } } : { request_put: { key, value: Buffer.from(w.value) } };
}

function readKey(key: string): IRequestOp {
  return { request_range: { key: Buffer.from(key) } };
}

/** What decides a guard: the key's revision, or how many keys under the prefix changed after the revision. */
function readGuard(g: WriteGuard): IRequestOp {
  if ('key' in g) return { request_range: { key: Buffer.from(g.key), keys_only: true } };
  return {
    request_range: { key: Buffer.from(g.prefix), range_end: Buffer.from(prefixEnd(g.prefix)), count_only: true, min_mod_revision: g.unchangedSince + 1 },
  };
}

function guardHeld(g: WriteGuard, read: { kvs: { mod_revision: string }[]; count: string } | undefined): boolean {
  if (!read) return false;
  if ('key' in g) return g.revision === 0 ? read.kvs.length === 0 : Number(read.kvs[0]?.mod_revision) === g.revision;
  return Number(read.count) === 0;
}
