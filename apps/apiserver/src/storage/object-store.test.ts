/** Guarded writes against a real etcd: a write made under conditions on other keys, checked in its own transaction. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdMember } from '@shoal/testing';
import { ObjectStore } from './object-store.js';

let member: EtcdMember;
let etcd: Etcd3;
let store: ObjectStore;

before(async () => {
  member = await startEtcd({ name: 'guards' });
  etcd = new Etcd3({ hosts: member.endpoint });
  store = new ObjectStore(etcd);
});
after(async () => {
  etcd?.close();
  await member?.stop();
});

const value = (name: string) => JSON.stringify({ metadata: { name } });

test('a prefix guard holds over an empty range and until a key under the prefix is written after its revision', async () => {
  const prefix = '/registry/test/classes/';
  const read = await store.currentRevision();
  assert.equal((await store.create('/registry/test/objs/a', value('a'), [{ prefix, unchangedSince: read }])).ok, true, 'no keys: nothing changed');

  const cls = await store.create(`${prefix}one`, value('one'));
  assert.ok(cls.ok);
  const refused = await store.create('/registry/test/objs/b', value('b'), [{ prefix, unchangedSince: read }]);
  assert.deepEqual(refused, { ok: false, current: undefined, guardFailed: true });
  assert.equal(await store.get('/registry/test/objs/b'), undefined, 'nothing written');
  assert.equal((await store.create('/registry/test/objs/b', value('b'), [{ prefix, unchangedSince: cls.revision }])).ok, true);
});

test('a key guard needs the key at exactly that revision; own conflicts are told apart from guard failures', async () => {
  const dep = await store.create('/registry/test/deps/d', value('d'));
  assert.ok(dep.ok);
  const guard = [{ key: '/registry/test/deps/d', revision: dep.revision }];
  const obj = await store.create('/registry/test/objs/c', value('c'), guard);
  assert.ok(obj.ok);

  const exists = await store.create('/registry/test/objs/c', value('c'), guard);
  assert.equal(exists.ok, false);
  assert.equal(!exists.ok && exists.guardFailed, false, 'the key exists: an AlreadyExists, not a guard failure');

  assert.ok((await store.update('/registry/test/deps/d', value('d2'), dep.revision)).ok);
  const stale = await store.update('/registry/test/objs/c', value('c2'), obj.revision, guard);
  assert.equal(stale.ok, false);
  assert.equal(!stale.ok && stale.guardFailed, true, 'the object is as read, the dependency is not');
  const conflict = await store.update('/registry/test/objs/c', value('c2'), obj.revision - 1, guard);
  assert.equal(!conflict.ok && conflict.guardFailed, false, 'the object itself moved on: a conflict');

  assert.ok((await etcd.delete().key('/registry/test/deps/d')).deleted);
  const gone = await store.update('/registry/test/objs/c', value('c2'), obj.revision, [{ key: '/registry/test/deps/d', revision: 0 }]);
  assert.equal(gone.ok, true, 'revision 0: the key must not exist');
});
