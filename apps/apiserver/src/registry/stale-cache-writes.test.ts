/**
 * Patches and binds start from the watch cache's copy and swap against its revision: a copy that
 * is behind etcd (another apiserver wrote since, and this one's watch has not delivered it) must
 * cost a retry, never a lost write or a false conflict. A real etcd; the cache made stale for
 * certain by stopping its watch once it holds the objects.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds as loadKinds, type KubeObject } from '@shoal/api';
import type { WatchCache } from '../storage/watch-cache.js';
import { startTestStorage, STRICT_WRITE as strict, type TestStorage } from '../test-support/storage.js';
import { ResourceService } from './resource-service.js';

const kinds = loadKinds();
const vmKind = kinds.find('vm')!;
const nsKind = kinds.find('Namespace')!;

let storage: TestStorage;
let staleCache: WatchCache;
/** An apiserver whose cache stopped following etcd. */
let stale: ResourceService;
/** Another apiserver on the same etcd, writing behind its back. */
let other: ResourceService;

const scope = (name: string) => ({ kind: vmKind, namespace: 'default', name });
const inEtcd = async (name: string) => (await other.get(scope(name))) as KubeObject & { spec: { nodeName?: string } };

before(async () => {
  storage = await startTestStorage('stale-cache');
  const { store } = storage;
  other = new ResourceService(store, await storage.startCache());
  await other.create(nsKind, undefined, { metadata: { name: 'default' } }, strict);
  for (const name of ['p', 'b', 'pinned'])
    await other.create(vmKind, 'default', { metadata: { name, labels: { v: '1' } }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } }, strict);
  staleCache = await storage.startCache();
  stale = new ResourceService(store, staleCache);
  // From here on, this cache holds the objects as they were and never learns of a change.
  await staleCache.stop();
});
after(() => storage?.stop());

const merge = (service: ResourceService, name: string, patch: unknown) => service.patch(scope(name), 'merge', patch, strict);

test('a patch that changes nothing on the stale copy is judged again on etcd and written', async () => {
  await merge(other, 'p', { metadata: { labels: { v: '2' } } });
  const res = await merge(stale, 'p', { metadata: { labels: { v: '1' } } });
  assert.equal(res.object.metadata.labels?.v, '1');
  assert.equal((await inEtcd('p')).metadata.labels?.v, '1');
});

test('a patch on the stale copy loses nothing written since: the swap fails and it is applied to what etcd holds', async () => {
  await merge(other, 'p', { metadata: { labels: { other: 'yes' } } });
  await merge(stale, 'p', { metadata: { labels: { mine: 'yes' } } });
  const now = await inEtcd('p');
  assert.equal(now.metadata.labels?.other, 'yes');
  assert.equal(now.metadata.labels?.mine, 'yes');
});

test('a patch pinned to a version newer than the copy is judged on etcd: no false conflict', async () => {
  const current = await merge(other, 'pinned', { metadata: { labels: { v: '3' } } });
  const res = await merge(stale, 'pinned', { metadata: { resourceVersion: current.object.metadata.resourceVersion, labels: { w: '1' } } });
  assert.equal(res.object.metadata.labels?.w, '1');
  await assert.rejects(
    merge(stale, 'pinned', { metadata: { resourceVersion: current.object.metadata.resourceVersion, labels: { w: '2' } } }),
    (err: { code?: number }) => err.code === 409,
    'the version it names has been written over since',
  );
});

test('bulk binds on stale copies: unpinned ones bind what etcd holds, pinned ones to the current version bind, stale pins get 409', async () => {
  const moved = await merge(other, 'b', { metadata: { labels: { v: '9' } } });
  const [unpinned] = await stale.bindMany(vmKind, [{ namespace: 'default', name: 'b', binding: { target: { name: 'n1' } } }], { dryRun: false });
  assert.equal(unpinned, undefined);
  const bound = await inEtcd('b');
  assert.equal(bound.spec.nodeName, 'n1');
  assert.equal(bound.metadata.labels?.v, '9', 'the change made elsewhere is kept');

  const current = await inEtcd('pinned');
  const outcomes = await stale.bindMany(
    vmKind,
    [
      { namespace: 'default', name: 'pinned', binding: { metadata: { resourceVersion: current.metadata.resourceVersion }, target: { name: 'n2' } } },
      { namespace: 'default', name: 'b', binding: { metadata: { resourceVersion: moved.object.metadata.resourceVersion }, target: { name: 'n1' } } },
    ],
    { dryRun: false },
  );
  assert.equal(outcomes[0], undefined);
  assert.equal(outcomes[1]?.code, 409, 'b moved on since that version (it was bound)');
  assert.equal((await inEtcd('pinned')).spec.nodeName, 'n2');
});
