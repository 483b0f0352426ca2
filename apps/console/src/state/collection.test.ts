/** The VM list's state under watch events, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, WatchEvent } from '@shoal/api/browser';
import { Collection } from './collection.js';

const obj = (namespace: string, name: string, resourceVersion: string, phase = 'Pending'): KubeObject => ({
  metadata: { namespace, name, resourceVersion, uid: `${namespace}-${name}` },
  status: { phase },
});
const names = (c: Collection<KubeObject>) => c.items().map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
const event = (type: WatchEvent['type'], o: KubeObject): WatchEvent<KubeObject> => ({ type, object: o });

test('a list is shown by namespace, then name, numbers compared as numbers', () => {
  const c = new Collection<KubeObject>();
  c.replace([obj('b', 'vm-10', '1'), obj('a', 'vm-2', '2'), obj('b', 'vm-9', '3'), obj('a', 'vm-10', '4'), obj('a', 'vm-01', '5'), obj('a', 'vm-1', '6')]);
  assert.deepEqual(names(c), ['a/vm-01', 'a/vm-1', 'a/vm-2', 'a/vm-10', 'b/vm-9', 'b/vm-10']);
  assert.equal(c.size, 6);
  assert.equal(c.at(3)!.metadata.name, 'vm-10');
  assert.equal(c.get('b/vm-9')!.metadata.resourceVersion, '3');
});

test('watch events insert, replace and remove rows where they belong, and count as changes', () => {
  const c = new Collection<KubeObject>();
  c.replace([obj('default', 'vm-1', '10'), obj('default', 'vm-3', '11')]);
  const before = c.revision;
  assert.ok(c.apply(event('ADDED', obj('default', 'vm-2', '12'))));
  assert.deepEqual(names(c), ['default/vm-1', 'default/vm-2', 'default/vm-3']);
  assert.ok(c.apply(event('MODIFIED', obj('default', 'vm-2', '13', 'Running'))));
  assert.equal((c.at(1)!.status as { phase: string }).phase, 'Running');
  assert.equal(c.size, 3);
  assert.ok(c.apply(event('DELETED', obj('default', 'vm-1', '14'))));
  assert.deepEqual(names(c), ['default/vm-2', 'default/vm-3']);
  assert.equal(c.get('default/vm-1'), undefined);
  assert.equal(c.revision, before + 3);
});

test('an event older than the object held is a replay and changes nothing; BOOKMARKs change nothing', () => {
  const c = new Collection<KubeObject>();
  c.replace([obj('default', 'web', '20', 'Running')]);
  const before = c.revision;
  assert.equal(c.apply(event('MODIFIED', obj('default', 'web', '19', 'Starting'))), false);
  assert.equal(c.apply(event('MODIFIED', obj('default', 'web', '20', 'Starting'))), false);
  assert.equal(c.apply(event('DELETED', obj('default', 'web', '18'))), false, 'a delete from before the object was made again');
  assert.equal(c.apply(event('BOOKMARK', { metadata: { resourceVersion: '30' } })), false);
  assert.equal((c.get('default/web')!.status as { phase: string }).phase, 'Running');
  assert.equal(c.revision, before);
});

test('a relist (after 410 Gone) replaces everything: rows gone meanwhile disappear', () => {
  const c = new Collection<KubeObject>();
  c.replace([obj('default', 'a', '1'), obj('default', 'b', '2')]);
  c.replace([obj('default', 'b', '5'), obj('default', 'c', '6')]);
  assert.deepEqual(names(c), ['default/b', 'default/c']);
  assert.equal(c.get('default/b')!.metadata.resourceVersion, '5');
});

test('10,000 objects: events in random order keep the order sorted', () => {
  const c = new Collection<KubeObject>();
  const all = Array.from({ length: 10_000 }, (_, i) => obj(`ns-${i % 7}`, `vm-${i}`, String(i + 1)));
  c.replace(all.slice(0, 5000));
  let rv = 20_000;
  for (const o of all.slice(5000).reverse()) c.apply(event('ADDED', { ...o, metadata: { ...o.metadata, resourceVersion: String(rv++) } }));
  for (let i = 0; i < 10_000; i += 3) c.apply(event('DELETED', { ...all[i]!, metadata: { ...all[i]!.metadata, resourceVersion: String(rv++) } }));
  const shown = c.items();
  assert.equal(shown.length, 10_000 - Math.ceil(10_000 / 3));
  for (let i = 1; i < shown.length; i++) {
    const [a, b] = [shown[i - 1]!.metadata, shown[i]!.metadata];
    assert.ok(
      a.namespace! < b.namespace! || (a.namespace === b.namespace && Number(a.name!.slice(3)) < Number(b.name!.slice(3))),
      `${a.namespace}/${a.name} before ${b.namespace}/${b.name}`,
    );
  }
});
