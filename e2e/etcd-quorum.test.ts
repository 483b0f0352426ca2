/**
 * An apiserver over a real 3-member etcd cluster (`--etcd-servers a,b,c`), members killed with
 * SIGKILL and started again from their data:
 *
 * - one member down: a quorum remains, reads and writes carry on, readyz stays 200;
 * - two down: no quorum. readyz answers 503 and says why (`?verbose`), writes fail within a
 *   bounded time with a 503 Status that says etcd has no quorum, consistent reads fail the same
 *   way, reads from the watch cache (resourceVersion=0) still answer;
 * - both back: readyz 200, writes work, every object from before is there unchanged, and a
 *   watch and an informer opened before the fault see what is written afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject, type WatchEvent } from '@shoal/api';
import { Informer, ShoalClient } from '@shoal/client';
import { freePort, http, startApiserver, startEtcdCluster, waitFor, type ApiserverProcess, type EtcdCluster, type EtcdClusterMember } from '@shoal/testing';

/** The apiserver's etcd deadline: a write never waits longer than this for a cluster without quorum. */
const ETCD_TIMEOUT_S = 4;

let etcd: EtcdCluster;
let apiserver: ApiserverProcess;
let client: ShoalClient;
const watching = new AbortController();
const watched: WatchEvent[] = [];
let watchFailure: unknown;
let watchDone: Promise<void>;
let informer: Informer;
let down: EtcdClusterMember[] = [];

const vm = (name: string): KubeObject => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'default' },
  spec: { resources: { vcpus: 1, memoryMiB: 128 } },
});

/** name → uid@resourceVersion of every VM: what "no object lost, none changed" compares. */
async function snapshot(): Promise<Record<string, string>> {
  const list = await client.listAll('vm');
  return Object.fromEntries(list.items.map((o) => [o.metadata.name!, `${o.metadata.uid}@${o.metadata.resourceVersion}`]));
}

async function readyz(): Promise<{ status: number; body: string }> {
  const r = await http<string>(apiserver.url, 'GET', '/readyz?verbose');
  return { status: r.status, body: String(r.body) };
}

async function createFails(name: string): Promise<{ err: ApiError; ms: number }> {
  const start = Date.now();
  try {
    await client.create('vm', vm(name));
  } catch (err) {
    if (err instanceof ApiError) return { err, ms: Date.now() - start };
    throw err;
  }
  assert.fail(`creating ${name} without an etcd quorum succeeded`);
}

before(async () => {
  etcd = await startEtcdCluster({ size: 3 });
  apiserver = await startApiserver({ etcd: etcd.servers, port: await freePort(), args: ['--etcd-request-timeout', String(ETCD_TIMEOUT_S)] });
  client = new ShoalClient({ server: apiserver.url });
  for (let i = 0; i < 5; i++) await client.create('vm', vm(`before-${i}`));
  const list = await client.list('vm');
  watchDone = (async () => {
    try {
      for await (const e of client.watch('vm', { resourceVersion: list.metadata.resourceVersion }, watching.signal)) if (e.type !== 'BOOKMARK') watched.push(e);
    } catch (err) {
      watchFailure = err;
    }
  })();
  informer = new Informer(client, 'vm', { backoff: { initialMs: 50, maxMs: 1_000 } });
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });
});

after(async () => {
  watching.abort();
  await watchDone;
  await informer?.stop();
  await client?.close();
  await apiserver?.kill();
  await etcd?.stop();
});

test('one member of three killed: writes and reads carry on, the apiserver stays ready', async () => {
  const leader = await waitFor(() => etcd.leader(), { message: 'an etcd leader' });
  // A follower: the cluster keeps its leader, so nothing needs an election (see the next test for losing the leader).
  const victim = etcd.members.find((m) => m !== leader)!;
  await victim.kill();
  down = [victim];
  for (let i = 0; i < 5; i++) await client.create('vm', vm(`one-down-${i}`));
  await client.patch('vm', 'before-0', { metadata: { labels: { phase: 'one-down' } } }, { type: 'merge' });
  assert.equal((await client.get('vm', 'one-down-4')).metadata.name, 'one-down-4');
  const r = await readyz();
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /\[\+\]etcd ok/);
});

test('two of three killed: readyz 503 with the reason, writes fail fast with a 503 that says etcd has no quorum, cached reads still answer', async (t) => {
  const before = await snapshot();
  // The leader goes too: the survivor is left a follower without anyone to follow.
  const leader = await waitFor(() => etcd.leader(), { message: 'an etcd leader' });
  await leader.kill();
  down.push(leader);

  // Straight after the kill the survivor may still believe in its leader and queue the write:
  // the apiserver's etcd deadline bounds it.
  const first = await createFails('no-quorum-0');
  t.diagnostic(`first write after losing quorum failed in ${first.ms} ms: ${first.err.message}`);
  assert.equal(first.err.code, 503);
  assert.ok(first.ms < (ETCD_TIMEOUT_S + 2) * 1000, `failed within the etcd deadline (${first.ms} ms)`);

  // readyz goes 503 at once, first perhaps for the dead member it tried ("unavailable"); once the
  // survivor knows it has no leader it gives the real reason. Wait for that, with a deadline.
  const notReady = await waitFor(
    async () => {
      const r = await readyz();
      return r.status === 503 && /\[-\]etcd failed: etcd has no quorum/.test(String(r.body)) ? r : undefined;
    },
    { timeoutMs: 15_000, message: 'readyz to answer 503 saying etcd has no quorum' },
  );
  assert.match(notReady.body, /\[-\]etcd failed: etcd has no quorum/);
  assert.match(notReady.body, /\[\+\]ping ok/);
  assert.match(notReady.body, /readyz check failed/);
  assert.equal((await http(apiserver.url, 'GET', '/readyz/etcd')).status, 503, 'the single check alone');
  // Without etcd's check only what depends on etcd may fail: the watch cache, when its etcd
  // watch was on a member that died and the survivor cannot serve it a new one in time.
  const butEtcd = await http(apiserver.url, 'GET', '/readyz?exclude=etcd&verbose');
  const failing = String(butEtcd.body)
    .split('\n')
    .filter((l) => l.startsWith('[-]'));
  assert.ok(
    failing.every((l) => /^\[-\]watch-cache failed: the watch cache has had no etcd watch/.test(l)),
    `everything but etcd and its watch is fine: ${butEtcd.body}`,
  );
  assert.equal((await http(apiserver.url, 'GET', '/livez')).status, 200, 'the process itself is alive: restarting it would not help');

  // Once the survivor knows it has no leader, it says so at once: writes fail fast.
  const later = await createFails('no-quorum-1');
  t.diagnostic(`a write once readyz was 503 failed in ${later.ms} ms: ${later.err.message}`);
  assert.equal(later.err.code, 503);
  assert.equal(later.err.reason, 'ServiceUnavailable');
  assert.match(later.err.message, /etcd has no quorum/);
  assert.match(later.err.message, /nothing was changed/);
  assert.ok(later.ms < 2_000, `failed fast (${later.ms} ms)`);

  // A consistent read needs the quorum too; a read of whatever the watch cache holds does not.
  const get = await http(apiserver.url, 'GET', '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines/before-1');
  assert.equal(get.status, 503);
  assert.equal(get.body.kind, 'Status');
  const cached = await http(apiserver.url, 'GET', '/apis/shoal.dev/v1alpha1/virtualmachines?resourceVersion=0');
  assert.equal(cached.status, 200);
  assert.deepEqual(cached.body.items.map((o: KubeObject) => o.metadata.name).sort(), Object.keys(before).sort());
});

test('both members back: ready again, writes work, no object lost, and watches opened before the fault carry on', async () => {
  await Promise.all(down.map((m) => m.start()));
  down = [];
  await waitFor(async () => (await readyz()).status === 200, { timeoutMs: 30_000, message: 'readyz to answer 200 again' });
  const before = await waitFor(async () => snapshot(), { message: 'a consistent list' });
  const expected = [...Array.from({ length: 5 }, (_, i) => `before-${i}`), ...Array.from({ length: 5 }, (_, i) => `one-down-${i}`)];
  // The first failed write timed out ("may or may not have been applied"), but it was sent after
  // the leader had died, to a member that can only forward it to that dead leader: it is lost.
  assert.deepEqual(Object.keys(before).sort(), expected.sort(), 'every VM made before the fault (and none that failed)');

  for (let i = 0; i < 3; i++) await client.create('vm', vm(`recovered-${i}`));
  const after = await snapshot();
  for (const [name, version] of Object.entries(before)) assert.equal(after[name], version, `${name} unchanged`);

  // The watch from the very start saw every change, once, and nothing that failed.
  await waitFor(() => watched.some((e) => e.object.metadata.name === 'recovered-2'), {
    timeoutMs: 15_000,
    message: 'the old watch to see a VM made after recovery',
  });
  assert.equal(watchFailure, undefined);
  const added = watched.filter((e) => e.type === 'ADDED').map((e) => e.object.metadata.name);
  assert.deepEqual(added, [...Array.from({ length: 5 }, (_, i) => `one-down-${i}`), ...Array.from({ length: 3 }, (_, i) => `recovered-${i}`)]);
  // The informer converges on the same state as a fresh list.
  await waitFor(
    async () => {
      const now = await snapshot();
      const cache = Object.fromEntries(informer.list().map((o) => [o.metadata.name!, `${o.metadata.uid}@${o.metadata.resourceVersion}`]));
      return JSON.stringify(Object.entries(cache).sort()) === JSON.stringify(Object.entries(now).sort());
    },
    { timeoutMs: 15_000, message: 'the informer to match a fresh list' },
  );
});
