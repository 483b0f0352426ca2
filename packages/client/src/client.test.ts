/** The client's verbs against a real etcd and apiserver: typed errors, paging, patches, watch, retries. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type KubeObject, type VirtualMachine, type WatchEvent } from '@shoal/api';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { ShoalClient } from './client.js';
import { isTable } from './table.js';
import { createNamespace, vm } from './test-support/cluster.js';

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster();
  client = cluster.client;
});
after(() => cluster?.stop());

async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  assert.fail('expected an ApiError');
}

test('CRUD round trip with typed errors', async () => {
  await createNamespace(client, 'crud');
  const created = await client.create('vm', vm('web', 'crud', { labels: { app: 'web' } }));
  assert.equal(created.metadata.namespace, 'crud');
  assert.ok(created.metadata.uid && created.metadata.resourceVersion);

  const dup = await apiError(client.create('vm', vm('web', 'crud')));
  assert.deepEqual([dup.code, dup.reason], [409, 'AlreadyExists']);

  const got = await client.get<VirtualMachine>('VirtualMachine', 'web', { namespace: 'crud' });
  assert.equal(got.metadata.uid, created.metadata.uid);

  const { spec } = got;
  const updated = await client.update('virtualmachines', { ...got, spec: { ...spec, resources: { ...spec.resources, vcpus: 2 } } });
  assert.equal(updated.spec.resources.vcpus, 2);
  const stale = await apiError(client.update('vm', { ...got, spec: { ...spec, resources: { ...spec.resources, vcpus: 3 } } }));
  assert.deepEqual([stale.code, stale.reason], [409, 'Conflict']);

  const merged = await client.patch('vm', 'web', { metadata: { labels: { tier: 'front' } } }, { namespace: 'crud', type: 'merge' });
  assert.deepEqual(merged.metadata.labels, { app: 'web', tier: 'front' });
  const jsonPatched = await client.patch<VirtualMachine>('vm', 'web', [{ op: 'replace', path: '/spec/resources/vcpus', value: 4 }], {
    namespace: 'crud',
    type: 'json',
  });
  assert.equal(jsonPatched.spec.resources.vcpus, 4);

  const withStatus = await client.updateStatus('vm', { ...jsonPatched, status: { phase: 'Running' } });
  assert.equal(withStatus.status?.phase, 'Running');
  const statusPatched = await client.patch<VirtualMachine>('vm', 'web', { status: { phase: 'Stopped' } }, { namespace: 'crud', type: 'merge', status: true });
  assert.equal(statusPatched.status?.phase, 'Stopped');

  const listed = await client.list('vm', { namespace: 'crud', labelSelector: 'tier=front' });
  assert.deepEqual(
    listed.items.map((o) => o.metadata.name),
    ['web'],
  );
  assert.equal((await client.list('vm', { namespace: 'crud', labelSelector: 'tier=back' })).items.length, 0);

  await client.delete('vm', 'web', { namespace: 'crud' });
  const gone = await apiError(client.get('vm', 'web', { namespace: 'crud' }));
  assert.deepEqual([gone.code, gone.reason], [404, 'NotFound']);
  assert.equal((await apiError(client.delete('vm', 'web', { namespace: 'crud' }))).code, 404);
});

test('a create or patch whose answer is discarded answers nothing, writes all the same, and still fails with the typed error', async () => {
  await createNamespace(client, 'quiet');
  assert.equal(await client.create('vm', vm('q', 'quiet'), { discardAnswer: true }), undefined);
  const taken = await apiError(client.create('vm', vm('q', 'quiet'), { discardAnswer: true }));
  assert.deepEqual([taken.code, taken.reason], [409, 'AlreadyExists']);
  const answer = await client.patch('vm', 'q', { status: { phase: 'Stopped' } }, { namespace: 'quiet', type: 'merge', status: true, discardAnswer: true });
  assert.equal(answer, undefined);
  assert.equal((await client.get<VirtualMachine>('vm', 'q', { namespace: 'quiet' })).status?.phase, 'Stopped');
  const missing = await apiError(
    client.patch('vm', 'nobody', { status: { phase: 'Stopped' } }, { namespace: 'quiet', type: 'merge', status: true, discardAnswer: true }),
  );
  assert.deepEqual([missing.code, missing.reason], [404, 'NotFound']);
  assert.match(missing.message, /nobody/);
});

test('schema violations are 422 Invalid with field paths; unknown fields are 400 under Strict', async () => {
  const invalid = await apiError(client.create('vm', { ...vm('bad', 'default'), spec: { resources: { vcpus: 0 } } }, { fieldValidation: 'Strict' }));
  assert.deepEqual([invalid.code, invalid.reason], [422, 'Invalid']);
  assert.ok(
    invalid.details?.causes?.some((c) => c.field === 'spec.resources.vcpus'),
    JSON.stringify(invalid.details),
  );
  const unknown = await apiError(client.create('vm', { ...vm('bad', 'default'), spec: { gpus: 1 } }, { fieldValidation: 'Strict' }));
  assert.equal(unknown.code, 400);
  assert.equal((await apiError(client.get('vm', 'bad'))).code, 404, 'nothing was created');
});

test('listAll pages through limit/continue and keeps the snapshot resourceVersion', async () => {
  await createNamespace(client, 'paging');
  for (let i = 0; i < 7; i++) await client.create('vm', vm(`vm-${i}`, 'paging'));
  const page = await client.list('vm', { namespace: 'paging', limit: 3 });
  assert.equal(page.items.length, 3);
  assert.ok(page.metadata.continue, 'a first page of 3 out of 7 has a continue token');
  const all = await client.listAll('vm', { namespace: 'paging', pageSize: 3 });
  assert.deepEqual(
    all.items.map((o) => o.metadata.name).sort(),
    [0, 1, 2, 3, 4, 5, 6].map((i) => `vm-${i}`),
  );
  assert.ok(all.metadata.resourceVersion);
  const everywhere = await client.listAll('vm', {});
  assert.ok(everywhere.items.length >= 7, 'no namespace lists all namespaces');
});

test('watch delivers changes in order from a list resourceVersion', async () => {
  await createNamespace(client, 'watching');
  const list = await client.list('vm', { namespace: 'watching' });
  const ac = new AbortController();
  const seen: WatchEvent[] = [];
  const done = (async () => {
    for await (const ev of client.watch('vm', { namespace: 'watching', resourceVersion: list.metadata.resourceVersion }, ac.signal)) seen.push(ev);
  })();
  await client.create('vm', vm('w', 'watching'));
  await client.patch('vm', 'w', { metadata: { labels: { x: 'y' } } }, { namespace: 'watching', type: 'merge' });
  await client.delete('vm', 'w', { namespace: 'watching' });
  await waitFor(() => seen.length >= 3, { message: 'three watch events' });
  ac.abort();
  await done;
  assert.deepEqual(
    seen.map((e) => `${e.type}:${e.object.metadata.name}`),
    ['ADDED:w', 'MODIFIED:w', 'DELETED:w'],
  );
});

test('table returns the server-rendered Table', async () => {
  await client.create('vm', vm('tabled', 'default', { vcpus: 2 }));
  const table = await client.table('vm', { namespace: 'default' });
  assert.ok(isTable(table));
  assert.equal(table.columnDefinitions[0]!.name, 'Name');
  const row = table.rows.find((r) => r.cells[0] === 'tabled');
  assert.ok(row, 'the VM has a row');
  assert.equal(row.object?.metadata.namespace, 'default');
  const one = await client.table('vm', { namespace: 'default', name: 'tabled' });
  assert.equal(one.rows.length, 1);
});

test('the low-level request answers typed errors too', async () => {
  const err = await apiError(client.request('GET', '/no/such/path'));
  assert.equal(err.code, 404);
  assert.equal(err.reason, 'NotFound');
});

test('a write refused with 429 goes again after Retry-After and lands once; without retries the 429 reaches the caller', async () => {
  // An apiserver on the same etcd that lets each client address make one request a second.
  const limited = await cluster.startApiserver({ args: ['--max-requests-per-second-per-user', '1', '--rate-limit-burst', '1'] });
  const patient = new ShoalClient({ server: limited.url, retry: { maxRetries: 3, initialMs: 50, maxMs: 100 } });
  const impatient = new ShoalClient({ server: limited.url, retry: { maxRetries: 0 } });
  try {
    // The namespace takes the one token; the create right after it finds the bucket empty.
    await createNamespace(patient, 'limited');
    const created = await patient.create<KubeObject>('vm', vm('second', 'limited'));
    assert.equal(created.metadata.name, 'second');
    const refused = await apiError(impatient.create('vm', vm('third', 'limited')));
    assert.deepEqual([refused.code, refused.reason], [429, 'TooManyRequests']);
    assert.equal(refused.details?.retryAfterSeconds, 1);
    const names = (await client.list<VirtualMachine>('vm', { namespace: 'limited' })).items.map((v) => v.metadata.name);
    assert.deepEqual(names, ['second'], 'the refused create was not made, the retried one once');
  } finally {
    await Promise.all([patient.close(), impatient.close()]);
  }
});

test('a write is retried while the connection is refused, and lands once the server is back', async () => {
  await cluster.apiserver.kill();
  const patient = new ShoalClient({ server: cluster.client.server, retry: { maxRetries: 40, initialMs: 100, maxMs: 500 } });
  try {
    const creating = patient.create<KubeObject>('vm', vm('late', 'default'));
    await cluster.restartApiserver();
    const created = await creating;
    assert.equal(created.metadata.name, 'late');
  } finally {
    await patient.close();
  }
});
