/**
 * The informer's cache against a real etcd and apiserver: it converges, and it stays right
 * across an apiserver killed mid-watch (changes made meanwhile through another apiserver) and
 * across etcd compaction (410 Expired → relist).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { objectKey, type KubeObject } from '@shoal/api';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { ShoalClient } from './client.js';
import { Informer } from './informer.js';
import { compactEtcd, createNamespace, vm } from './test-support/cluster.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
});
after(() => cluster?.stop());

/** key → resourceVersion, the picture a cache must end up with. */
function versions(objects: KubeObject[]): Record<string, string> {
  return Object.fromEntries(objects.map((o) => [objectKey(o.metadata), o.metadata.resourceVersion!]).sort(([a], [b]) => a!.localeCompare(b!)));
}

/** What a handler that only sees add/update/delete events believes: it must equal the cache. */
function mirror(informer: Informer): Map<string, KubeObject> {
  const seen = new Map<string, KubeObject>();
  informer.on('add', (o) => {
    assert.ok(!seen.has(objectKey(o.metadata)), `add of ${objectKey(o.metadata)} that the handler already has`);
    seen.set(objectKey(o.metadata), o);
  });
  informer.on('update', (old, o) => {
    assert.equal(seen.get(objectKey(o.metadata))?.metadata.resourceVersion, old.metadata.resourceVersion, 'update starts from what the handler saw');
    seen.set(objectKey(o.metadata), o);
  });
  informer.on('delete', (o) => {
    assert.ok(seen.delete(objectKey(o.metadata)), `delete of ${objectKey(o.metadata)} that the handler never saw`);
  });
  return seen;
}

async function converged(informer: Informer, seen: Map<string, KubeObject>, client: ShoalClient, namespace: string): Promise<void> {
  let server: Record<string, string> = {};
  await waitFor(
    async () => {
      server = versions((await client.list('vm', { namespace })).items);
      return JSON.stringify(versions(informer.list())) === JSON.stringify(server) && JSON.stringify(versions([...seen.values()])) === JSON.stringify(server);
    },
    { timeoutMs: 30_000, message: `informer cache to match the server (server ${JSON.stringify(server)}, cache ${JSON.stringify(versions(informer.list()))})` },
  );
}

test('the cache converges after creates, updates and deletes, and handlers see each change once', async (t) => {
  const client = cluster.client;
  await createNamespace(client, 'conv');
  for (let i = 0; i < 5; i++) await client.create('vm', vm(`pre-${i}`, 'conv'));
  const informer = new Informer(client, 'vm', { namespace: 'conv', pageSize: 2 });
  const seen = mirror(informer);
  const warnings: unknown[] = [];
  informer.on('warning', (e) => warnings.push(e));
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });
  assert.equal(informer.list().length, 5, 'the paged initial list is complete');

  for (let i = 0; i < 5; i++) await client.create('vm', vm(`new-${i}`, 'conv'));
  for (let i = 0; i < 5; i++) await client.patch('vm', `pre-${i}`, { metadata: { labels: { round: '1' } } }, { namespace: 'conv', type: 'merge' });
  await client.delete('vm', 'pre-0', { namespace: 'conv' });
  await client.delete('vm', 'new-4', { namespace: 'conv' });
  await converged(informer, seen, client, 'conv');
  assert.equal(informer.get('conv/pre-1')?.metadata.labels?.round, '1');
  assert.equal(informer.get('conv/pre-0'), undefined);
  assert.deepEqual(warnings, [], 'nothing needed a retry');
});

test('a label-selected informer holds only matching objects', async (t) => {
  const client = cluster.client;
  await createNamespace(client, 'sel');
  await client.create('vm', vm('a', 'sel', { labels: { team: 'red' } }));
  await client.create('vm', vm('b', 'sel', { labels: { team: 'blue' } }));
  const informer = new Informer(client, 'vm', { namespace: 'sel', labelSelector: 'team=red' });
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });
  await client.create('vm', vm('c', 'sel', { labels: { team: 'red' } }));
  await waitFor(() => informer.get('sel/c'), { message: 'c in the cache' });
  assert.deepEqual(
    informer
      .list()
      .map((o) => o.metadata.name)
      .sort(),
    ['a', 'c'],
  );
});

test('the cache stays correct across an apiserver killed mid-watch', async (t) => {
  const client = new ShoalClient({ server: cluster.client.server });
  t.after(() => client.close());
  await createNamespace(client, 'restart');
  for (const name of ['keep', 'change', 'remove']) await client.create('vm', vm(name, 'restart'));
  const informer = new Informer(client, 'vm', { namespace: 'restart', backoff: { initialMs: 50, maxMs: 500 } });
  const seen = mirror(informer);
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });
  await client.create('vm', vm('before-kill', 'restart'));
  await waitFor(() => informer.get('restart/before-kill'), { message: 'the watch to be live before the kill' });

  await cluster.apiserver.kill();
  const other = await cluster.startApiserver();
  const otherClient = new ShoalClient({ server: other.url });
  t.after(() => otherClient.close());
  await otherClient.create('vm', vm('while-down', 'restart'));
  await otherClient.patch('vm', 'change', { metadata: { labels: { changed: 'yes' } } }, { namespace: 'restart', type: 'merge' });
  await otherClient.delete('vm', 'remove', { namespace: 'restart' });

  await cluster.restartApiserver();
  await converged(informer, seen, otherClient, 'restart');
  assert.equal(informer.get('restart/change')?.metadata.labels?.changed, 'yes');

  // And the resumed watch is live again.
  await client.create('vm', vm('after-restart', 'restart'));
  await converged(informer, seen, client, 'restart');
});

test('after etcd compacted the versions it would resume from, the informer relists (410) and emits the differences', async (t) => {
  const client = new ShoalClient({ server: cluster.client.server });
  t.after(() => client.close());
  await createNamespace(client, 'compact');
  for (const name of ['keep', 'change', 'remove']) await client.create('vm', vm(name, 'compact'));
  const informer = new Informer(client, 'vm', { namespace: 'compact', backoff: { initialMs: 50, maxMs: 500 } });
  const seen = mirror(informer);
  const warnings: unknown[] = [];
  informer.on('warning', (e) => warnings.push(e));
  t.after(() => informer.stop());
  informer.start();
  await informer.waitForSync({ timeoutMs: 15_000 });

  await cluster.apiserver.kill();
  const other = await cluster.startApiserver();
  const otherClient = new ShoalClient({ server: other.url });
  t.after(() => otherClient.close());
  await otherClient.create('vm', vm('while-down', 'compact'));
  await otherClient.patch('vm', 'change', { metadata: { labels: { changed: 'yes' } } }, { namespace: 'compact', type: 'merge' });
  await otherClient.delete('vm', 'remove', { namespace: 'compact' });
  // Unrelated churn, then forget all history: the informer's resourceVersion is now too old.
  for (let i = 0; i < 3; i++) await otherClient.create('vm', vm(`churn-${i}`, 'default'));
  await compactEtcd(cluster.etcd);

  await cluster.restartApiserver();
  await converged(informer, seen, client, 'compact');
  assert.ok(
    warnings.some((w) => /expired|410|too old|compacted/i.test(String((w as Error)?.message ?? w))),
    `the informer went through a relist: ${warnings.map((w) => String((w as Error)?.message ?? w)).join(' | ')}`,
  );
});
