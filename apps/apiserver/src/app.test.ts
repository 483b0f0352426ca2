/**
 * buildApp only wires: the watch cache and the built-in namespaces start when the app becomes
 * ready (here, the first inject()), and the watch stops when it closes. Real etcd.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { startEtcd, type EtcdMember } from '@shoal/testing';
import { buildApp } from './app.js';

let member: EtcdMember;
let etcd: Etcd3;

before(async () => {
  member = await startEtcd({ name: 'app' });
  etcd = new Etcd3({ hosts: member.endpoint });
});
after(async () => {
  etcd?.close();
  await member?.stop();
});

const registryKeys = async () => (await etcd.getAll().prefix('/registry/').keys()).sort();
/** The watches etcd serves, from its own metrics. */
const etcdWatchers = async () => Number(/^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(await (await fetch(`${member.endpoint}/metrics`)).text())?.[1] ?? NaN);

test('building the app writes nothing; it becomes ready on the first request, with the built-in namespaces; closing it stops what it started', async () => {
  const server = await buildApp({ etcd });
  try {
    assert.deepEqual(await registryKeys(), [], 'buildApp touched etcd');
    assert.equal(await etcdWatchers(), 0);

    const ready = await server.app.inject({ method: 'GET', url: '/readyz?verbose' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.match(ready.body, /\[\+\]watch-cache ok/);
    assert.deepEqual(await registryKeys(), [
      '/registry/shoal.dev/namespaces/default',
      '/registry/shoal.dev/namespaces/shoal-node-lease',
      '/registry/shoal.dev/namespaces/shoal-system',
    ]);

    assert.ok((await etcdWatchers()) >= 1, 'the watch cache watches etcd');
  } finally {
    await server.close();
  }
  // What the app started is stopped: the cache's etcd watch is gone.
  assert.equal(await etcdWatchers(), 0, 'the watch cache still watches etcd after close');
});
