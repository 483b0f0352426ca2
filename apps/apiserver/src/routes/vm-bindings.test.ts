/**
 * Bulk binds (`POST /apis/shoal.dev/v1alpha1/bindings`) against a real etcd and a real apiserver
 * process, through raw HTTP and ShoalClient.bindMany: each item means what its single bind means,
 * and succeeds or fails on its own; a bad body binds nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ShoalClient } from '@shoal/client';
import { http, openWatch, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const API = '/apis/shoal.dev/v1alpha1';
const BINDINGS = `${API}/bindings`;
const vmsIn = (ns: string) => `${API}/namespaces/${ns}/virtualmachines`;

let cp: TestCluster;
let client: ShoalClient;
let api: <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => ReturnType<typeof http<T>>;

const vm = (name: string) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { resources: { vcpus: 1, memoryMiB: 128 } },
});
const item = (namespace: string, name: string, node: string, resourceVersion?: string) => ({
  metadata: { namespace, name, ...(resourceVersion ? { resourceVersion } : {}) },
  target: { name: node },
});
const list = (items: unknown[]) => ({ apiVersion: 'shoal.dev/v1alpha1', kind: 'BindingList', items });

async function createVms(ns: string, names: string[]): Promise<Map<string, any>> {
  const out = new Map<string, any>();
  for (const name of names) {
    const res = await api('POST', vmsIn(ns), vm(name));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    out.set(name, res.body);
  }
  return out;
}

const nodeOf = async (ns: string, name: string) => (await api('GET', `${vmsIn(ns)}/${name}`)).body.spec.nodeName as string | undefined;

before(async () => {
  cp = await startCluster();
  api = (method, path, body, headers) => http(cp.url, method, path, body, headers);
  client = cp.client;
  for (const ns of ['blue', 'green']) assert.equal((await api('POST', `${API}/namespaces`, { metadata: { name: ns } })).status, 201);
});
after(async () => {
  await cp?.stop();
});

test('one request binds VMs of several namespaces; each item answers as its single bind would, the others still bind', async () => {
  const blue = await createVms('blue', ['a', 'b', 'stale', 'taken']);
  await createVms('green', ['c']);
  assert.equal((await client.bind('blue', 'taken', 'n9')).status, 'Success');
  const staleVersion = blue.get('stale').metadata.resourceVersion;
  assert.equal(
    (await api('PATCH', `${vmsIn('blue')}/stale`, { metadata: { labels: { moved: 'on' } } }, { 'content-type': 'application/merge-patch+json' })).status,
    200,
  );

  const res = await api(
    'POST',
    BINDINGS,
    list([
      item('blue', 'a', 'n1', blue.get('a').metadata.resourceVersion),
      item('blue', 'b', 'n2'),
      item('green', 'c', 'n1'),
      item('blue', 'missing', 'n1'),
      item('blue', 'stale', 'n1', staleVersion),
      item('blue', 'taken', 'n1'),
      item('blue', 'taken', 'n9'),
    ]),
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.kind, 'BindingResults');
  const results = res.body.results as { status: string; code: number; reason?: string; message?: string }[];
  assert.deepEqual(
    results.map((r) => [r.status, r.code, r.reason]),
    [
      ['Success', 201, undefined],
      ['Success', 201, undefined],
      ['Success', 201, undefined],
      ['Failure', 404, 'NotFound'],
      ['Failure', 409, 'Conflict'],
      ['Failure', 409, 'Conflict'],
      ['Success', 201, undefined], // already bound to that node: nothing to do, as a single bind answers
    ],
  );
  assert.match(results[5]!.message!, /already bound to node n9/);
  assert.equal(await nodeOf('blue', 'a'), 'n1');
  assert.equal(await nodeOf('blue', 'b'), 'n2');
  assert.equal(await nodeOf('green', 'c'), 'n1');
  assert.equal(await nodeOf('blue', 'stale'), undefined, 'a bind pinned to an old version binds nothing');
  assert.equal(await nodeOf('blue', 'taken'), 'n9');

  const bound = (await api('GET', `${vmsIn('blue')}/a`)).body;
  assert.deepEqual(bound.metadata.finalizers, ['shoal.dev/agent']);
  assert.equal(bound.status.conditions.find((c: { type: string }) => c.type === 'Scheduled').status, 'True');
});

test('hundreds of binds span several etcd transactions; every one is bound and reaches watchers as one MODIFIED event each', async () => {
  const names = Array.from({ length: 300 }, (_, i) => `many-${i}`);
  const created = await createVms('green', names);
  const from = Math.max(...[...created.values()].map((v) => Number(v.metadata.resourceVersion)));
  const watch = await openWatch(cp.url, `${vmsIn('green')}?watch=1&resourceVersion=${from}`);
  // An agent's own watch of its node's VMs: it must see exactly its VMs arrive.
  const agentWatch = await openWatch(cp.url, `${API}/virtualmachines?watch=1&resourceVersion=${from}&fieldSelector=spec.nodeName%3Dnode-1`);
  try {
    const results = await client.bindMany(names.map((name, i) => ({ namespace: 'green', name, nodeName: `node-${i % 3}` })));
    assert.equal(results.length, 300);
    assert.ok(
      results.every((r) => r.status === 'Success'),
      JSON.stringify(results.find((r) => r.status !== 'Success')),
    );
    await waitFor(() => watch.events.length >= 300, { message: '300 bind events on the watch' });
    await waitFor(() => agentWatch.events.length >= 100, { message: "node-1's 100 VMs on its agent's watch" });
    assert.ok(watch.events.every((e) => e.type === 'MODIFIED' && e.object.spec.nodeName));
    assert.deepEqual(new Set(watch.events.map((e) => e.object.metadata.name)), new Set(names));
    assert.ok(agentWatch.events.every((e) => e.type === 'ADDED' && e.object.spec.nodeName === 'node-1'));
    assert.equal(agentWatch.events.length, 100);
    // Transactions of at most 128 objects: 300 binds in at least three distinct revisions.
    assert.ok(new Set(watch.events.map((e) => e.object.metadata.resourceVersion)).size >= 3);
  } finally {
    watch.close();
    agentWatch.close();
  }
});

test('a bad BindingList is refused whole with the field named, and binds nothing', async () => {
  await createVms('blue', ['untouched']);
  const cases: [unknown, number, string][] = [
    [{ kind: 'BindingList' }, 400, ''],
    [list([item('blue', 'untouched', 'n1'), { metadata: { name: 'untouched' }, target: { name: 'n1' } }]), 422, 'items[1].metadata.namespace'],
    [list([item('blue', 'untouched', 'n1'), item('blue', 'untouched', 'Not_A_Node')]), 422, 'items[1].target.name'],
    [list([{ ...item('blue', 'untouched', 'n1'), extra: 1 }]), 400, 'items[0].extra'],
    [list(Array.from({ length: 1001 }, () => item('blue', 'untouched', 'n1'))), 400, 'items'],
  ];
  for (const [body, code, field] of cases) {
    const res = await api('POST', BINDINGS, body);
    assert.equal(res.status, code, JSON.stringify(res.body));
    assert.equal(res.body.kind, 'Status');
    if (field)
      assert.ok(
        res.body.details.causes.some((c: { field: string }) => c.field === field),
        JSON.stringify(res.body.details),
      );
  }
  assert.equal(await nodeOf('blue', 'untouched'), undefined);
});

test('dryRun answers as a bind would and binds nothing', async () => {
  await createVms('blue', ['dry']);
  const res = await api('POST', `${BINDINGS}?dryRun=All`, list([item('blue', 'dry', 'n1'), item('blue', 'nope', 'n1')]));
  assert.equal(res.status, 200);
  assert.deepEqual(
    res.body.results.map((r: { code: number }) => r.code),
    [201, 404],
  );
  assert.equal(await nodeOf('blue', 'dry'), undefined);
});

test('OpenAPI publishes the route with the BindingList and BindingResults schemas', async () => {
  const doc = (await api('GET', '/openapi/v3/apis/shoal.dev/v1alpha1')).body;
  const op = doc.paths[BINDINGS]?.post;
  assert.ok(op, 'the bulk route is in OpenAPI');
  const resolve = (s: any) => (s?.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s);
  assert.equal(resolve(op.requestBody?.content?.['application/json']?.schema)?.title, 'BindingList');
  assert.equal(resolve(op.responses?.['200']?.content?.['application/json']?.schema)?.title, 'BindingResults');
});
