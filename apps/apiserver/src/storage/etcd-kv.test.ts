/** EtcdKv against a real etcd: the same answers as the etcd3 client, failover, errors, TLS. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Etcd3 } from 'etcd3';
import { freePort, makeServerCertificates, startEtcd, waitFor, type EtcdMember } from '@shoal/testing';
import { EtcdError, EtcdKv } from './etcd-kv.js';

let member: EtcdMember;
let kv: EtcdKv;
let etcd3: Etcd3;

before(async () => {
  member = await startEtcd({ name: 'kv' });
  kv = new EtcdKv({ servers: [member.endpoint] });
  etcd3 = new Etcd3({ hosts: member.endpoint });
});
after(async () => {
  kv?.close();
  etcd3?.close();
  await member?.stop();
});

test('create-if-absent, compare-and-swap and delete transactions answer as etcd3 sees them', async () => {
  const key = '/t/cas/é☃';
  const created = await kv.txn({ compare: [{ key, target: 'Create', equals: 0 }], success: [{ put: { key, value: '{"v":1}' } }] });
  assert.equal(created.succeeded, true);
  const seen = await etcd3.get(key).exec();
  assert.equal(seen.kvs[0]!.value.toString(), '{"v":1}');
  assert.equal(Number(seen.kvs[0]!.mod_revision), created.revision);

  const again = await kv.txn({ compare: [{ key, target: 'Create', equals: 0 }], success: [{ put: { key, value: 'x' } }] });
  assert.equal(again.succeeded, false);

  const stale = await kv.txn({ compare: [{ key, target: 'Mod', equals: created.revision - 1 }], success: [{ put: { key, value: 'x' } }], failure: [{ range: { key } }] });
  assert.equal(stale.succeeded, false);
  const current = stale.responses[0]!.range!.kvs[0]!;
  assert.equal(current.value.toString(), '{"v":1}');
  assert.equal(current.key.toString(), key);
  assert.equal(current.modRevision, created.revision);
  assert.equal(current.createRevision, created.revision);
  assert.equal(current.version, 1);

  const updated = await kv.txn({ compare: [{ key, target: 'Mod', equals: created.revision }], success: [{ put: { key, value: '{"v":2}' } }], failure: [{ range: { key } }] });
  assert.equal(updated.succeeded, true);
  assert.ok(updated.revision > created.revision);
  assert.equal((await etcd3.get(key).string()), '{"v":2}');

  const deleted = await kv.txn({ compare: [{ key, target: 'Mod', equals: updated.revision }], success: [{ deleteRange: { key } }], failure: [{ range: { key } }] });
  assert.equal(deleted.succeeded, true);
  assert.equal(deleted.responses[0]!.deleted, 1);
  assert.equal(await etcd3.get(key).string(), null);
});

test('ranges page with limit, report more and count, and read at a past revision', async () => {
  for (let i = 0; i < 25; i++) await etcd3.put(`/t/range/${String(i).padStart(2, '0')}`).value(`v${i}`);
  const all = await kv.range({ key: '/t/range/', rangeEnd: '/t/range0' });
  assert.equal(all.kvs.length, 25);
  assert.equal(all.count, 25);
  assert.equal(all.more, false);
  const page = await kv.range({ key: '/t/range/', rangeEnd: '/t/range0', limit: 10 });
  assert.deepEqual(page.kvs.map((k) => k.key.toString()), Array.from({ length: 10 }, (_, i) => `/t/range/${String(i).padStart(2, '0')}`));
  assert.equal(page.more, true);
  assert.equal(page.count, 25);
  const before = page.revision;
  await etcd3.put('/t/range/00').value('changed');
  const past = await kv.range({ key: '/t/range/00', revision: before });
  assert.equal(past.kvs[0]!.value.toString(), 'v0');
  assert.equal((await kv.range({ key: '/t/range/00' })).kvs[0]!.value.toString(), 'changed');
  assert.equal((await kv.range({ key: '/t/nothing-here' })).kvs.length, 0);
});

test('large values and many calls in flight', async () => {
  const big = 'x'.repeat(1_200_000);
  const res = await kv.txn({ compare: [{ key: '/t/big', target: 'Create', equals: 0 }], success: [{ put: { key: '/t/big', value: big } }] });
  assert.equal(res.succeeded, true);
  assert.equal((await kv.range({ key: '/t/big' })).kvs[0]!.value.length, big.length);
  const results = await Promise.all(
    Array.from({ length: 500 }, (_, i) => kv.txn({ compare: [{ key: `/t/many/${i}`, target: 'Create', equals: 0 }], success: [{ put: { key: `/t/many/${i}`, value: String(i) } }] })),
  );
  assert.ok(results.every((r) => r.succeeded));
  assert.equal(new Set(results.map((r) => r.revision)).size, 500, 'one revision per transaction');
});

test('etcd errors come back as EtcdError: too large, compacted', async () => {
  const tooBig = await kv.txn({ compare: [], success: [{ put: { key: '/t/huge', value: 'x'.repeat(2_000_000) } }] }).catch((e) => e);
  assert.ok(tooBig instanceof EtcdError, String(tooBig));
  assert.ok(tooBig.tooLarge, tooBig.message);
  const { header } = await etcd3.put('/t/compact').value('1').exec();
  await etcd3.put('/t/compact').value('2');
  await etcd3.put('/t/compact').value('3');
  const compactTo = Number(header.revision) + 1;
  await etcd3.kv.compact({ revision: String(compactTo), physical: true });
  const old = await kv.range({ key: '/t/compact', revision: compactTo - 1 }).catch((e) => e);
  assert.ok(old instanceof EtcdError);
  assert.match(old.message, /compacted/);
  assert.equal(old.unavailable, false);
});

test('a server that does not answer is skipped for the next one', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const failover = new EtcdKv({ servers: [dead, member.endpoint], dialTimeoutMs: 2_000 });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await failover.range({ key: '/t/range/01' })).kvs.length, 1);
  } finally {
    failover.close();
  }
});

test('with etcd gone, calls fail as unavailable (a 503 for the client), and work again once it is back', async () => {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-kv-'));
  const start = () => {
    const peer = port + 1;
    return execa('etcd', [`--name=gone`, `--data-dir=${dataDir}`, `--listen-client-urls=http://127.0.0.1:${port}`, `--advertise-client-urls=http://127.0.0.1:${port}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=gone=http://127.0.0.1:${peer}`, '--log-level=error', '--logger=zap', '--unsafe-no-fsync'], { reject: false, stdio: 'ignore' });
  };
  let proc = start();
  const client = new EtcdKv({ servers: [`http://127.0.0.1:${port}`], dialTimeoutMs: 1_000 });
  try {
    await waitFor(() => client.range({ key: '/x' }).then(() => true, () => false), { timeoutMs: 20_000, message: 'etcd up' });
    proc.kill('SIGKILL');
    await proc;
    const err = await client.range({ key: '/x' }).catch((e) => e);
    assert.ok(err instanceof EtcdError && err.unavailable, String(err));
    proc = start();
    await waitFor(() => client.range({ key: '/x' }).then(() => true, () => false), { timeoutMs: 20_000, message: 'calls work again' });
  } finally {
    client.close();
    proc.kill('SIGKILL');
    await proc;
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('TLS with client certificates: a client trusting the CA and showing its certificate gets through; others are refused', async () => {
  const certs = await makeServerCertificates();
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-kv-tls-'));
  const url = `https://127.0.0.1:${port}`;
  const peer = await freePort();
  const proc = execa('etcd', [`--name=tls`, `--data-dir=${dataDir}`, `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`, `--cert-file=${certs.certFile}`, `--key-file=${certs.keyFile}`, '--client-cert-auth', `--trusted-ca-file=${certs.caFile}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=tls=http://127.0.0.1:${peer}`, '--log-level=error', '--logger=zap', '--unsafe-no-fsync'], { reject: false, stdio: 'ignore' });
  // The test server certificate has no extended key usage, so it serves as a client certificate too.
  const trusting = new EtcdKv({ servers: [url], tls: { ca: readFileSync(certs.caFile), cert: readFileSync(certs.certFile), key: readFileSync(certs.keyFile) }, dialTimeoutMs: 2_000 });
  const untrusting = new EtcdKv({ servers: [url], dialTimeoutMs: 2_000 });
  const anonymous = new EtcdKv({ servers: [url], tls: { ca: readFileSync(certs.caFile) }, dialTimeoutMs: 2_000 });
  try {
    await waitFor(() => trusting.txn({ compare: [], success: [{ put: { key: '/tls', value: 'ok' } }] }).then(() => true, () => false), { timeoutMs: 20_000, message: 'etcd over TLS' });
    assert.equal((await trusting.range({ key: '/tls' })).kvs[0]!.value.toString(), 'ok');
    const refused = await untrusting.range({ key: '/tls' }).catch((e) => e);
    assert.ok(refused instanceof EtcdError && refused.unavailable, String(refused));
    const noCertificate = await anonymous.range({ key: '/tls' }).catch((e) => e);
    assert.ok(noCertificate instanceof EtcdError && noCertificate.unavailable, String(noCertificate));
  } finally {
    trusting.close();
    untrusting.close();
    anonymous.close();
    proc.kill('SIGKILL');
    await proc;
    await rm(dataDir, { recursive: true, force: true });
    await rm(certs.dir, { recursive: true, force: true });
  }
});

test('a watch delivers puts and deletes in order, with previous values when asked, and large values whole', async () => {
  const { revision } = await kv.range({ key: '/w/' });
  const seen: string[] = [];
  let connected = false;
  const w = kv.watch(
    { key: '/w/', rangeEnd: '/w0', startRevision: revision + 1, prevKv: true },
    {
      onEvents: (res) => {
        for (const ev of res.events) seen.push(`${ev.type} ${ev.kv.key} ${ev.kv.value.length} prev=${ev.prevKv?.value.length ?? '-'} @${ev.kv.modRevision}`);
      },
      onConnectionChange: (c) => (connected = c),
      onEnd: (err) => assert.fail(err),
    },
  );
  try {
    await etcd3.put('/w/a').value('1');
    await etcd3.put('/w/a').value('22');
    await etcd3.put('/w/big').value('x'.repeat(1_200_000));
    await etcd3.delete().key('/w/a');
    await etcd3.put('/elsewhere').value('not watched');
    await waitFor(() => seen.length >= 4, { message: '4 events' });
    assert.ok(connected);
    assert.deepEqual(
      seen.map((s) => s.replace(/ @\d+$/, '')),
      ['Put /w/a 1 prev=-', 'Put /w/a 2 prev=1', 'Put /w/big 1200000 prev=-', 'Delete /w/a 0 prev=2'],
    );
    const revs = seen.map((s) => Number(s.split('@')[1]));
    assert.deepEqual(revs, [...revs].sort((a, b) => a - b));
  } finally {
    await w.cancel();
  }
  await etcd3.put('/w/after-cancel').value('1');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(seen.length, 4, 'nothing after cancel');
});

test('a watch from a compacted revision ends with compacted set', async () => {
  const { header } = await etcd3.put('/wc/k').value('1').exec();
  await etcd3.put('/wc/k').value('2');
  const latest = Number((await etcd3.put('/wc/k').value('3').exec()).header.revision);
  await etcd3.kv.compact({ revision: String(latest), physical: true });
  const ended = await new Promise<EtcdError & { compacted: boolean }>((resolve) =>
    kv.watch({ key: '/wc/', rangeEnd: '/wc0', startRevision: Number(header.revision) }, { onEvents: () => assert.fail('no events'), onConnectionChange: () => undefined, onEnd: resolve }),
  );
  assert.equal(ended.compacted, true);
  assert.match(ended.message, /compacted/);
});

test('a watch survives etcd going away and resumes after the last event it delivered, without gaps or repeats', async () => {
  const port = await freePort();
  const peer = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'shoal-kv-watch-'));
  const start = () =>
    execa('etcd', [`--name=w`, `--data-dir=${dataDir}`, `--listen-client-urls=http://127.0.0.1:${port}`, `--advertise-client-urls=http://127.0.0.1:${port}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=w=http://127.0.0.1:${peer}`, '--log-level=error', '--logger=zap', '--unsafe-no-fsync'], { reject: false, stdio: 'ignore' });
  let proc = start();
  const url = `http://127.0.0.1:${port}`;
  const client = new EtcdKv({ servers: [url], dialTimeoutMs: 1_000 });
  const writer = new Etcd3({ hosts: url });
  const values: string[] = [];
  const changes: boolean[] = [];
  let w: { cancel(): Promise<void> } | undefined;
  try {
    await waitFor(() => client.range({ key: '/r' }).then(() => true, () => false), { timeoutMs: 20_000, message: 'etcd up' });
    const { revision } = await client.range({ key: '/r' });
    w = client.watch({ key: '/r/', rangeEnd: '/r0', startRevision: revision + 1 }, {
      onEvents: (res) => values.push(...res.events.map((e) => e.kv.value.toString())),
      onConnectionChange: (c) => changes.push(c),
      onEnd: (err) => assert.fail(err),
    });
    for (let i = 0; i < 5; i++) await writer.put(`/r/${i}`).value(String(i));
    await waitFor(() => values.length >= 5, { message: 'first 5' });
    proc.kill('SIGKILL');
    await proc;
    await waitFor(() => changes.includes(false), { message: 'disconnected' });
    proc = start();
    // Written while the watch is re-created: it must see them once, after the first five.
    await waitFor(() => writer.put('/r/5').value('5').then(() => true, () => false), { timeoutMs: 20_000, message: 'etcd back' });
    for (let i = 6; i < 10; i++) await writer.put(`/r/${i}`).value(String(i));
    await waitFor(() => values.length >= 10, { timeoutMs: 20_000, message: 'all 10' });
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(values, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(changes.slice(0, 3), [true, false, true]);
  } finally {
    await w?.cancel();
    client.close();
    writer.close();
    proc.kill('SIGKILL');
    await proc;
    await rm(dataDir, { recursive: true, force: true });
  }
});
