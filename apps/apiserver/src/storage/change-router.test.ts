/** ChangeRouter over plain changes: who is reached by what. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import { ChangeRouter, routeKeyOf } from './change-router.js';
import type { Change } from './watch-filter.js';

const vm = (name: string, nodeName?: string, namespace = 'default'): KubeObject =>
  ({ metadata: { name, namespace }, spec: nodeName ? { nodeName } : {} }) as KubeObject;
const change = (type: Change['type'], object: KubeObject, previous?: KubeObject): Change => ({ type, object, previous, revision: 1 });

function recorder(router: ChangeRouter, key?: Parameters<ChangeRouter['add']>[1]) {
  const seen: string[] = [];
  const remove = router.add((c) => seen.push(`${c.type} ${c.object.metadata.name}`), key);
  return { seen, remove };
}

test("a watcher indexed on spec.nodeName gets its node's changes, including a VM arriving and leaving, and nothing of other nodes", () => {
  const router = new ChangeRouter();
  const n1 = recorder(router, { field: 'spec.nodeName', value: 'n1' });
  const n2 = recorder(router, { field: 'spec.nodeName', value: 'n2' });
  const everyone = recorder(router);
  router.route(change('ADDED', vm('a')));
  router.route(change('MODIFIED', vm('a', 'n1'), vm('a')));
  router.route(change('MODIFIED', vm('a', 'n2'), vm('a', 'n1')));
  router.route(change('DELETED', vm('a', 'n2')));
  assert.deepEqual(n1.seen, ['MODIFIED a', 'MODIFIED a']);
  assert.deepEqual(n2.seen, ['MODIFIED a', 'DELETED a']);
  assert.deepEqual(everyone.seen, ['ADDED a', 'MODIFIED a', 'MODIFIED a', 'DELETED a']);
});

test('unbound VMs reach watchers of spec.nodeName= (the empty value), as the field selector matches them', () => {
  const router = new ChangeRouter();
  const unbound = recorder(router, { field: 'spec.nodeName', value: '' });
  router.route(change('ADDED', vm('a')));
  router.route(change('ADDED', vm('b', 'n1')));
  assert.deepEqual(unbound.seen, ['ADDED a']);
});

test('a removed watcher is reached no more, and the router forgets empty groups', () => {
  const router = new ChangeRouter();
  const n1 = recorder(router, { field: 'spec.nodeName', value: 'n1' });
  const other = recorder(router, { field: 'metadata.namespace', value: 'blue' });
  assert.equal(router.size, 2);
  n1.remove();
  other.remove();
  assert.equal(router.size, 0);
  router.route(change('ADDED', vm('a', 'n1', 'blue')));
  assert.deepEqual([n1.seen, other.seen], [[], []]);
});

test('routeKeyOf: an equality field requirement first, then the namespace, else none', () => {
  assert.deepEqual(routeKeyOf({ namespace: 'blue', fields: [{ field: 'spec.nodeName', op: '=', value: 'n1' }] }), { field: 'spec.nodeName', value: 'n1' });
  assert.deepEqual(routeKeyOf({ namespace: 'blue', fields: [{ field: 'spec.nodeName', op: '!=', value: 'n1' }] }), {
    field: 'metadata.namespace',
    value: 'blue',
  });
  assert.equal(routeKeyOf({ fields: [] }), undefined);
});
