/** The watch cache against a real etcd: it holds what etcd holds, and takes this apiserver's own writes without parsing them again. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { kinds as loadKinds, type KubeObject } from '@shoal/api';
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
