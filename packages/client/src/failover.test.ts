/**
 * One client, two apiservers over one real etcd: kill -9 the one in use and requests, writes
 * and an open informer carry on through the other — the watch resumes there from its last
 * resourceVersion (both serve the same etcd revisions), so nothing is relisted and no event is
 * lost, including the ones made while the client was moving. Then the other way round.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, objectKey, type KubeObject } from '@shoal/api';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { ShoalClient } from './client.js';
import { Informer } from './informer.js';
import { vm } from './test-support/cluster.js';

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster({ apiservers: 2 });
  client = cluster.client;
});
after(async () => {
  await cluster?.stop();
});

const url = (i: number) => cluster.apiservers[i]!.url;

/** Every add/update/delete the informer's handlers saw, in order. */
function record(informer: Informer): string[] {
  const log: string[] = [];
  informer.on('add', (o) => log.push(`add ${o.metadata.name}`));
  informer.on('update', (_old, o) => log.push(`update ${o.metadata.name} ${o.metadata.labels?.round ?? ''}`));
  informer.on('delete', (o) => log.push(`delete ${o.metadata.name}`));
  return log;
}

async function failOver(killed: number): Promise<void> {
  assert.equal(client.server, url(killed), 'the client was using the server about to die');
  await cluster.apiservers[killed]!.kill();
}

test('kill -9 of the apiserver in use: reads, writes and an informer carry on through the other, without a relist or a lost event', async (t) => {
  assert.deepEqual(client.servers, [url(0), url(1)]);
  for (let i = 0; i < 3; i++) await client.create('vm', vm(`before-${i}`, 'default'));
  const informer = new Informer<KubeObject>(client, 'vm', { namespace: 'default', backoff: { initialMs: 50, maxMs: 500 } });
  const log = record(informer);
  let lists = 0;
  informer.on('sync', () => lists++);
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });
  assert.deepEqual(log, ['add before-0', 'add before-1', 'add before-2']);

  // Changes made through the survivor alone while the client is still finding out.
  const onlyB = new ShoalClient({ server: url(1) });
  t.after(() => onlyB.close());
  await failOver(0);
  await onlyB.create('vm', vm('meanwhile', 'default'));
  await onlyB.patch('vm', 'before-0', { metadata: { labels: { round: 'meanwhile' } } }, { namespace: 'default', type: 'merge' });

  // Through the failed-over client: a read, then writes (the first one to the dead server is
  // refused at connect, so it provably never arrived and is sent to the other).
  assert.equal((await client.get('vm', 'before-1')).metadata.name, 'before-1');
  assert.equal(client.server, url(1));
  for (let i = 0; i < 3; i++) await client.create('vm', vm(`after-${i}`, 'default'));
  await client.patch('vm', 'before-1', { metadata: { labels: { round: 'after' } } }, { namespace: 'default', type: 'merge' });
  await client.delete('vm', 'before-2');

  const expected = ['add meanwhile', 'update before-0 meanwhile', 'add after-0', 'add after-1', 'add after-2', 'update before-1 after', 'delete before-2'];
  await waitFor(() => log.length >= 3 + expected.length, {
    timeoutMs: 15_000,
    message: `the informer to see ${expected.length} more events (saw ${JSON.stringify(log)})`,
  });
  assert.deepEqual(log.slice(3), expected, 'every change once, in order');
  assert.equal(lists, 1, 'the informer never relisted: its watch resumed on the other server');
  const listed = (await client.list('vm', { namespace: 'default' })).items;
  assert.deepEqual(
    informer
      .list()
      .map((o) => `${objectKey(o.metadata)}@${o.metadata.resourceVersion}`)
      .sort(),
    listed.map((o) => `${objectKey(o.metadata)}@${o.metadata.resourceVersion}`).sort(),
  );

  // Bring the first one back on its port, kill the second: the client goes round to the first.
  await cluster.restartApiserver(0);
  await failOver(1);
  await client.create('vm', vm('back', 'default'));
  assert.equal(client.server, url(0));
  await waitFor(() => log.at(-1) === 'add back', { timeoutMs: 15_000, message: 'the informer to see the VM made after the second failover' });
  assert.equal(lists, 1, 'still no relist');
  await cluster.restartApiserver(1);
});

test('a 503 from a server that cannot serve moves the client on: reads are retried there, writes are not (they may have been applied)', async (t) => {
  // An apiserver whose etcd is gone answers 503 to everything that needs etcd.
  const lonely = await startCluster();
  t.after(() => lonely.stop());
  await lonely.etcd.stop();
  const broken = lonely.apiserver;
  const c = new ShoalClient({ server: [broken.url, url(0)], retry: { initialMs: 10 } });
  t.after(() => c.close());
  await waitFor(async () => (await fetch(`${broken.url}/readyz`)).status === 503, { timeoutMs: 20_000, message: 'the broken apiserver to be not ready' });

  assert.equal((await c.get('vm', 'back')).metadata.name, 'back', 'the read went on to the healthy server');
  assert.equal(c.server, url(0));

  const c2 = new ShoalClient({ server: [broken.url, url(0)] });
  t.after(() => c2.close());
  const err = await c2.create('vm', vm('not-retried', 'default')).then(
    () => assert.fail('the write should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApiError && err.code === 503, `a 503 Status, got ${String(err)}`);
  assert.match(err.message, /etcd/);
  assert.equal(c2.server, url(0), 'the next request goes to the other server');
  await c2.create('vm', vm('not-retried', 'default'));
});
