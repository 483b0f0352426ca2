/**
 * Writes that arrive together share one etcd transaction, against a real etcd: each still
 * succeeds or fails on its own compare, exactly as it would alone, and a transaction stays
 * within etcd's limits.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdMember } from '@shoal/testing';
import { connectEtcd } from './etcd-client.js';
import { ObjectStore } from './object-store.js';

let member: EtcdMember;
let etcd: Etcd3;
let store: ObjectStore;

before(async () => {
  member = await startEtcd({ name: 'coalesce' });
  etcd = connectEtcd({ servers: [member.endpoint] });
  store = new ObjectStore(etcd);
});
after(async () => {
  etcd?.close();
  await member?.stop();
});

const value = (name: string, extra = '') => JSON.stringify({ metadata: { name }, extra });
const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `/registry/coalesce/${prefix}/${String(i).padStart(3, '0')}`);

test('creates made together commit in one transaction: every one written, all at its revision', async () => {
  const ks = keys('together', 20);
  const results = await Promise.all(ks.map((k) => store.create(k, value(k))));
  assert.ok(results.every((r) => r.ok));
  const revisions = new Set(results.map((r) => r.ok && r.revision));
  assert.equal(revisions.size, 1, 'one transaction');
  for (const k of ks) assert.equal((await store.get(k))?.revision, [...revisions][0]);
});

test('a write whose own compare fails answers a conflict with the current value; the others in its transaction are written', async () => {
  const [taken, ...free] = keys('conflict', 6);
  const first = await store.create(taken!, value('first'));
  assert.ok(first.ok);
  const [again, ...created] = await Promise.all([store.create(taken!, value('second')), ...free.map((k) => store.create(k, value(k)))]);
  assert.deepEqual(again, { ok: false }, 'AlreadyExists, as alone');
  assert.ok(
    created.every((r) => r.ok),
    'the others went again and were written',
  );
  assert.equal(new Set(created.map((r) => r.ok && r.revision)).size, 1, 'the others went again together, in one transaction');
  for (const k of free) assert.ok(await store.get(k));
  assert.equal(JSON.parse((await store.get(taken!))!.json!).extra, '', 'the existing object is untouched');

  // Updates and deletes against a stale revision, beside good ones.
  const [stale, fresh] = free;
  const freshAt = (await store.get(fresh!))!.revision;
  const staleAt = (await store.get(stale!))!.revision;
  assert.ok((await store.update(stale!, value(stale!, 'moved on'), staleAt)).ok);
  const [lateUpdate, goodUpdate, lateDelete] = await Promise.all([
    store.update(stale!, value(stale!, 'late'), staleAt),
    store.update(fresh!, value(fresh!, 'good'), freshAt),
    store.delete(stale!, staleAt),
  ]);
  assert.equal(goodUpdate.ok, true);
  for (const late of [lateUpdate, lateDelete]) {
    assert.equal(late.ok, false);
    assert.equal(!late.ok && JSON.parse(late.current!.json!).extra, 'moved on', 'the conflict carries what is stored now');
  }
});

test('two writes of one key made together: one wins, the other sees a conflict (never an etcd error)', async () => {
  const [k] = keys('same-key', 1);
  const created = await store.create(k!, value('v0'));
  assert.ok(created.ok);
  const results = await Promise.all([store.update(k!, value('a', 'a'), created.revision), store.update(k!, value('b', 'b'), created.revision)]);
  assert.equal(results.filter((r) => r.ok).length, 1, 'exactly one write at that revision');
  const loser = results.find((r) => !r.ok)!;
  const stored = JSON.parse((await store.get(k!))!.json!).extra;
  assert.equal(!loser.ok && JSON.parse(loser.current!.json!).extra, stored, "the loser is told the winner's value");

  const both = await Promise.all([store.create(`${k}-new`, value('x')), store.create(`${k}-new`, value('y'))]);
  assert.equal(both.filter((r) => r.ok).length, 1, 'one create of a name');
});

test("a transaction stays within etcd's limits: at most maxTxnOps writes, and large values go apart", async () => {
  const ks = keys('many', 300);
  const results = await Promise.all(ks.map((k) => store.create(k, value(k))));
  assert.ok(results.every((r) => r.ok));
  const perRevision = new Map<number, number>();
  for (const r of results) if (r.ok) perRevision.set(r.revision, (perRevision.get(r.revision) ?? 0) + 1);
  assert.ok(perRevision.size >= 3, `300 writes need at least 3 transactions of 128 (got ${perRevision.size})`);
  assert.ok(Math.max(...perRevision.values()) <= 128);

  // Four values of 600 KiB cannot share a 1.5 MiB request: each goes in a transaction of its own.
  const big = keys('big', 4);
  const bigResults = await Promise.all(big.map((k) => store.create(k, value(k, 'x'.repeat(600 * 1024)))));
  assert.ok(bigResults.every((r) => r.ok));
  assert.equal(new Set(bigResults.map((r) => r.ok && r.revision)).size, 4);
});

test('a value etcd refuses fails alone; the writes beside it are written', async () => {
  const [tooBig, ...small] = keys('refused', 4);
  const results = await Promise.allSettled([store.create(tooBig!, 'x'.repeat(2 * 1024 * 1024)), ...small.map((k) => store.create(k, value(k)))]);
  assert.equal(results[0]!.status, 'rejected', 'over etcd request limit');
  assert.ok(results.slice(1).every((r) => r.status === 'fulfilled' && r.value.ok));
});

test("writes whose guards look at each other's keys never share a transaction: a quota-like guard admits one of two racing creates", async () => {
  // Two creates under one namespace, each admitted on usage read at `read`, each guarded by
  // "no object under the prefix changed since": one after the other, the second must fail.
  const prefix = '/registry/coalesce/quota-ns/';
  const read = await store.currentRevision();
  const guard = [{ prefix, unchangedSince: read }];
  const results = await Promise.all([store.create(`${prefix}a`, value('a'), guard), store.create(`${prefix}b`, value('b'), guard)]);
  assert.equal(results.filter((r) => r.ok).length, 1, 'one admitted');
  assert.deepEqual(
    results.find((r) => !r.ok),
    { ok: false, current: undefined, guardFailed: true },
    'the other refused by its guard, as it would be alone',
  );
});

test('guarded writes that cannot see each other share a transaction; a failed guard fails only its own write', async () => {
  const classes = '/registry/coalesce/classes/';
  const dep = await store.create(`${classes}gold`, value('gold'));
  assert.ok(dep.ok);
  const read = await store.currentRevision();
  const ks = keys('guarded', 6);
  const ok = await Promise.all(
    ks.map((k) =>
      store.create(k, value(k), [
        { prefix: classes, unchangedSince: read },
        { key: `${classes}gold`, revision: dep.revision },
      ]),
    ),
  );
  assert.ok(ok.every((r) => r.ok));
  assert.equal(new Set(ok.map((r) => r.ok && r.revision)).size, 1, 'one transaction');

  const moved = await store.update(`${classes}gold`, value('gold', 'changed'), dep.revision);
  assert.ok(moved.ok);
  const [stale, fresh] = await Promise.all([
    store.create(`${ks[0]}-stale`, value('stale'), [{ key: `${classes}gold`, revision: dep.revision }]),
    store.create(`${ks[0]}-fresh`, value('fresh'), [{ key: `${classes}gold`, revision: moved.revision }]),
  ]);
  assert.deepEqual(stale, { ok: false, current: undefined, guardFailed: true });
  assert.equal(fresh.ok, true);
  assert.equal(await store.get(`${ks[0]}-stale`), undefined, 'nothing written for the refused one');
});

test('a guard many writes carry is compared once: 126 creates under the same two guards fit one transaction of 128 compares', async () => {
  // As a namespace's VM creates admitted in one turn carry the same quota and priority-class guards.
  const classes = '/registry/coalesce/shared-classes/';
  const quotas = '/registry/coalesce/shared-quotas/';
  const dep = await store.create(`${classes}gold`, value('gold'));
  assert.ok(dep.ok);
  const read = await store.currentRevision();
  const shared = [
    { prefix: quotas, unchangedSince: read },
    { key: `${classes}gold`, revision: dep.revision },
  ];
  const ks = keys('shared-guards', 126);
  const results = await Promise.all(ks.map((k) => store.create(k, value(k), shared)));
  assert.ok(results.every((r) => r.ok));
  assert.equal(new Set(results.map((r) => r.ok && r.revision)).size, 1, 'one transaction (compared once per write, 42 writes would fit)');

  // The shared guard fails: every write that carries it is refused by its guard, and only those.
  assert.ok((await store.create(`${quotas}q`, value('q'))).ok);
  const [refused, alsoRefused, unguarded, otherGuard] = await Promise.all([
    store.create(`${ks[0]}-a`, value('a'), shared),
    store.create(`${ks[0]}-b`, value('b'), shared),
    store.create(`${ks[0]}-c`, value('c')),
    store.create(`${ks[0]}-d`, value('d'), [shared[1]!]),
  ]);
  for (const r of [refused, alsoRefused]) assert.deepEqual(r, { ok: false, current: undefined, guardFailed: true });
  assert.equal(unguarded.ok, true);
  assert.equal(otherGuard.ok, true);
  assert.equal(await store.get(`${ks[0]}-a`), undefined, 'nothing written for a refused one');
});

test('maxTxnOps 1: every write is a transaction of its own', async () => {
  const alone = new ObjectStore(etcd, { maxTxnOps: 1 });
  const results = await Promise.all(keys('alone', 10).map((k) => alone.create(k, value(k))));
  assert.equal(new Set(results.map((r) => r.ok && r.revision)).size, 10);
});

test("an etcd whose --max-txn-ops is lower than the apiserver's: the writes it refuses together go again alone", async () => {
  const small = await startEtcd({ name: 'coalesce-small', maxTxnOps: 4 });
  const client = connectEtcd({ servers: [small.endpoint] });
  try {
    const limited = new ObjectStore(client);
    const results = await Promise.all(keys('small-etcd', 20).map((k) => limited.create(k, value(k))));
    assert.ok(
      results.every((r) => r.ok),
      'every write made',
    );
  } finally {
    client.close();
    await small.stop();
  }
});
