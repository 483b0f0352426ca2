/** The watch cache against a real etcd: it holds what etcd holds, and takes this apiserver's own writes without parsing them again. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { kinds as loadKinds, parseLabelSelector, type KubeObject } from '@shoal/api';
import { register } from 'prom-client';
import { waitFor } from '@shoal/testing';
import type { ObjectStore } from './object-store.js';
import type { WatchCache } from './watch-cache.js';
import { ResourceService } from '../registry/resource-service.js';
import { startTestStorage, STRICT_WRITE as strict, type TestStorage } from '../test-support/storage.js';
import type { Change } from './watch-filter.js';

const kinds = loadKinds();
const vmKind = kinds.find('vm')!;
const nsKind = kinds.find('Namespace')!;

let storage: TestStorage;
let etcd: Etcd3;
let cache: WatchCache;
let service: ResourceService;
let store: ObjectStore;

before(async () => {
  storage = await startTestStorage('cache');
  ({ etcd, store } = storage);
  cache = await storage.startCache();
  service = new ResourceService(store, cache);
  await service.create(nsKind, undefined, { metadata: { name: 'default' } }, strict);
});
after(() => storage?.stop());

/** shoal_apiserver_watch_cache_objects of one resource, as /metrics would show it. */
async function heldForms(resource: string): Promise<{ parsed: number; json: number }> {
  const { values } = await register.getSingleMetric('shoal_apiserver_watch_cache_objects')!.get();
  const of = (form: string) => values.find((v) => v.labels.resource === resource && v.labels.form === form)?.value ?? 0;
  return { parsed: of('parsed'), json: of('json') };
}

const caughtUp = async () => {
  const revision = await store.currentRevision();
  assert.ok(await cache.waitForRevision(revision, 5_000), `cache at ${cache.revision}, etcd at ${revision}`);
};

test("the cache holds this apiserver's own writes as the very objects written, equal to what etcd stores", async () => {
  const created = await Promise.all(
    Array.from({ length: 300 }, (_, i) => service.create(vmKind, 'default', { metadata: { name: `own-${i}`, labels: { i: String(i) } }, spec: {} }, strict)),
  );
  await caughtUp();
  for (const { object } of created) {
    const held = cache.getObject(vmKind, 'default', object.metadata.name!);
    assert.equal(held, object, 'the same object, not a parse of the same JSON');
    assert.deepEqual(held, (await store.get(`/registry/shoal.dev/virtualmachines/default/${object.metadata.name}`))!.object);
  }
});

test('writes from elsewhere are parsed when read, with the resourceVersion etcd gave them', async () => {
  {
    const body = {
      apiVersion: 'shoal.dev/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name: 'foreign', namespace: 'default', uid: 'u-1' },
      spec: { image: 'x' },
    };
    const { header } = await etcd.put('/registry/shoal.dev/virtualmachines/default/foreign').value(JSON.stringify(body)).exec();
    await caughtUp();
    const held = cache.getObject(vmKind, 'default', 'foreign') as KubeObject;
    assert.deepEqual(held, { ...body, metadata: { ...body.metadata, resourceVersion: header.revision } });
  }
});

test('updates and deletes reach watchers with the object before and after', async () => {
  const changes: Change[] = [];
  const unsubscribe = cache.subscribe(vmKind, (c) => changes.push(c));
  try {
    const { object } = await service.create(vmKind, 'default', { metadata: { name: 'lifecycle' }, spec: {} }, strict);
    const patched = await service.patch({ kind: vmKind, namespace: 'default', name: 'lifecycle' }, 'merge', { metadata: { labels: { step: '2' } } }, strict);
    await service.delete({ kind: vmKind, namespace: 'default', name: 'lifecycle' }, { dryRun: false });
    await waitFor(() => changes.filter((c) => c.object.metadata.name === 'lifecycle').length >= 3, { message: '3 changes' });
    const mine = changes.filter((c) => c.object.metadata.name === 'lifecycle');
    assert.deepEqual(
      mine.map((c) => c.type),
      ['ADDED', 'MODIFIED', 'DELETED'],
    );
    assert.equal(mine[1]!.previous?.metadata.resourceVersion, object.metadata.resourceVersion);
    assert.deepEqual(mine[1]!.object.metadata.labels, { step: '2' });
    assert.equal(mine[2]!.previous?.metadata.resourceVersion, patched.object.metadata.resourceVersion);
    assert.ok(Number(mine[2]!.object.metadata.resourceVersion) > Number(patched.object.metadata.resourceVersion), 'a deletion carries its own revision');
    assert.equal(cache.getObject(vmKind, 'default', 'lifecycle'), undefined);
  } finally {
    unsubscribe();
  }
});

test('objects nobody reads parsed go back to their JSON at a sweep; a plain list parses none of them, a selector parses what it reads', async () => {
  // Two sweeps let go of everything earlier tests read: from here on, counts are this test's.
  cache.compactUnread();
  cache.compactUnread();
  const created = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      service.create(vmKind, 'default', { metadata: { name: `sweep-${i}`, labels: { half: String(i % 2) } }, spec: {} }, strict),
    ),
  );
  await caughtUp();
  const held = (i: number) => cache.getObject(vmKind, 'default', `sweep-${i}`)!;
  assert.equal(held(0), created[0]!.object, 'read once before the sweep');
  assert.ok(cache.compactUnread() >= 39, 'the 39 unread ones at least are let go');
  assert.equal(held(0), created[0]!.object, 'the one read since the last sweep kept its parsed form');
  for (let i = 1; i < 40; i++) {
    const again = held(i);
    assert.notEqual(again, created[i]!.object, `sweep-${i} was parsed again`);
    assert.deepEqual(again, created[i]!.object, `sweep-${i} reads the same after its compaction`);
  }
  assert.equal(cache.compactUnread(), 0, 'what was read since the last sweep is kept');
  assert.ok(cache.compactUnread() >= 40, 'and let go at the next, unread since');

  const plain = await service.listStored(vmKind, { namespace: 'default', labels: [], fields: [] });
  assert.ok(plain.items.length >= 40);
  assert.equal(cache.compactUnread(), 0, 'a list without selectors parsed nothing');
  const forms = await heldForms('virtualmachines');
  assert.equal(forms.parsed, 0, '/metrics: none held parsed');
  assert.equal(forms.json, plain.items.length, '/metrics: all held as JSON');

  const selected = await service.listStored(vmKind, { namespace: 'default', labels: parseLabelSelector('half=1'), fields: [] });
  assert.deepEqual(
    selected.items.map((s) => s.object.metadata.name).filter((n) => n!.startsWith('sweep-')),
    created
      .filter((_, i) => i % 2 === 1)
      .map((c) => c.object.metadata.name)
      .sort(),
  );
  assert.equal((await heldForms('virtualmachines')).parsed, plain.items.length, '/metrics: the selector parsed every object it tested');
  assert.equal(cache.compactUnread(), 0, 'what the selector read is kept until a sweep finds it unread');
  assert.ok(cache.compactUnread() >= 40, 'and let go at the next one');
});

test('a whole list is in the order of namespace, then name, whatever the characters of either', async () => {
  for (const ns of ['a', 'a-b', 'b']) await service.create(nsKind, undefined, { metadata: { name: ns } }, strict);
  for (const [ns, name] of [
    ['a-b', 'x'],
    ['a', 'x-y'],
    ['a', 'x'],
    ['b', 'a'],
    ['a', 'x.y'],
  ])
    await service.create(vmKind, ns, { metadata: { name }, spec: {} }, strict);
  const { items } = await service.listStored(vmKind, { labels: [], fields: [] });
  const order = items.map((s) => `${s.object.metadata.namespace}/${s.object.metadata.name}`).filter((k) => /^(a|a-b|b)\//.test(k));
  assert.deepEqual(order, ['a/x', 'a/x-y', 'a/x.y', 'a-b/x', 'b/a']);
});

test('superseded values a watch replayed from the window (so parsed) go back to their JSON at the next sweep', async () => {
  cache.compactUnread();
  cache.compactUnread();
  const { object } = await service.create(vmKind, 'default', { metadata: { name: 'replayed' }, spec: {} }, strict);
  for (let i = 0; i < 5; i++)
    await service.patch({ kind: vmKind, namespace: 'default', name: 'replayed' }, 'merge', { metadata: { labels: { step: String(i) } } }, strict);
  await caughtUp();
  const replay = () => cache.changesSince(vmKind, Number(object.metadata.resourceVersion))!.filter((c) => c.object.metadata.name === 'replayed');
  const steps = replay().map((c) => c.previous?.metadata.labels?.step ?? 'none');
  assert.deepEqual(steps, ['none', '0', '1', '2', '3'], 'each change carries the value before it, parsed again from JSON');
  assert.ok(cache.compactUnread() >= 5, 'the five values the replay parsed are let go');
  assert.deepEqual(
    replay().map((c) => c.previous?.metadata.labels?.step ?? 'none'),
    steps,
    'and read the same when replayed again',
  );
});
