import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import { ObjectStore } from './object-store.js';

const obj = (name: string, rv: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  metadata: { name, namespace: 'default', resourceVersion: rv, uid: `uid-${name}`, ...extra },
});

test('events older than or equal to the cached version are ignored', () => {
  const s = new ObjectStore();
  assert.equal(s.apply({ type: 'ADDED', object: obj('a', '5') })?.type, 'add');
  assert.equal(s.apply({ type: 'MODIFIED', object: obj('a', '5') }), undefined);
  assert.equal(s.apply({ type: 'MODIFIED', object: obj('a', '4') }), undefined);
  assert.equal(s.apply({ type: 'MODIFIED', object: obj('a', '10') })?.type, 'update', 'numeric, not string, comparison');
  assert.equal(s.apply({ type: 'DELETED', object: obj('a', '9') }), undefined, 'a delete older than the cached version is a replay');
  assert.equal(s.apply({ type: 'DELETED', object: obj('a', '11') })?.type, 'delete');
  assert.equal(s.apply({ type: 'DELETED', object: obj('a', '12') }), undefined);
  assert.equal(s.size, 0);
});

test('replace answers the differences with the cache', () => {
  const s = new ObjectStore();
  s.apply({ type: 'ADDED', object: obj('keep', '1') });
  s.apply({ type: 'ADDED', object: obj('change', '2') });
  s.apply({ type: 'ADDED', object: obj('gone', '3') });
  s.apply({ type: 'ADDED', object: obj('reborn', '4') });
  const changes = s.replace([obj('keep', '1'), obj('change', '7'), obj('new', '8'), obj('reborn', '9', { uid: 'other' })]);
  const summary = changes.map((c) => `${c.type}:${c.object.metadata.name}@${c.object.metadata.resourceVersion}`).sort();
  assert.deepEqual(summary, ['add:new@8', 'add:reborn@9', 'delete:gone@3', 'delete:reborn@4', 'update:change@7']);
  assert.deepEqual(s.keys().sort(), ['default/change', 'default/keep', 'default/new', 'default/reborn']);
});

test('replace takes the listed version even when it is older (etcd restored from a snapshot)', () => {
  const s = new ObjectStore();
  s.apply({ type: 'ADDED', object: obj('a', '120') });
  const changes = s.replace([obj('a', '100')]);
  assert.deepEqual(
    changes.map((c) => `${c.type}:${c.object.metadata.resourceVersion}`),
    ['update:100'],
  );
  assert.equal(s.get('default/a')!.metadata.resourceVersion, '100');
  assert.equal(s.apply({ type: 'MODIFIED', object: obj('a', '1000121') })?.type, 'update', 'and events after the relist apply to it');
});

test('cached objects are frozen', () => {
  const s = new ObjectStore();
  s.apply({ type: 'ADDED', object: { ...obj('a', '1'), spec: { x: { y: 1 } } } });
  const cached = s.get('default/a')!;
  assert.throws(() => {
    (cached.spec as { x: { y: number } }).x.y = 2;
  }, TypeError);
});
