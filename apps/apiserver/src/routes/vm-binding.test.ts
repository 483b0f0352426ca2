/** The binding subresource of VMs against a real etcd and a real apiserver process, through raw HTTP and ShoalClient.bind. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kinds, validateObject, type KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { http, openWatch, startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { boundVm } from '../registry/strategies/virtualmachine.js';

const API = '/apis/shoal.dev/v1alpha1';
const VMS = `${API}/namespaces/default/virtualmachines`;
const MERGE = { 'content-type': 'application/merge-patch+json' };

let cp: TestCluster;
let client: ShoalClient;
let api: <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => ReturnType<typeof http<T>>;

const vm = (name: string, metadata: object = {}) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, ...metadata },
  spec: { resources: { vcpus: 1, memoryMiB: 128 } },
});
const binding = (name: string, node: string | undefined, metadata: object = {}) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'Binding',
  metadata: { name, ...metadata },
  target: node === undefined ? {} : { name: node },
});
const bind = (name: string, node: string | undefined, metadata: object = {}) => api('POST', `${VMS}/${name}/binding`, binding(name, node, metadata));

before(async () => {
  cp = await startCluster();
  api = (method, path, body, headers) => http(cp.url, method, path, body, headers);
  client = cp.client;
});
after(async () => {
  await cp?.stop();
});

test("a bind sets spec.nodeName and the Scheduled condition in one write, seen as one MODIFIED event; the phase stays the agent's to report", async () => {
  const created = (await api('POST', VMS, vm('web'))).body;
  // A VM the preemptor nominated a node for, with a condition of its own to keep.
  const pending = await api(
    'PATCH',
    `${VMS}/web/status`,
    {
      status: {
        phase: 'Pending',
        nominatedNodeName: 'n1',
        conditions: [
          { type: 'Scheduled', status: 'False', reason: 'Unschedulable', message: 'no node fits', lastTransitionTime: '2026-01-01T00:00:00Z' },
          { type: 'Other', status: 'True', reason: 'Kept' },
        ],
      },
    },
    MERGE,
  );
  assert.equal(pending.status, 200, JSON.stringify(pending.body));

  const watch = await openWatch(cp.url, `${VMS}?watch=1&resourceVersion=${pending.body.metadata.resourceVersion}`);
  try {
    const res = await bind('web', 'n1');
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });

    const got = (await api('GET', `${VMS}/web`)).body;
    assert.equal(got.spec.nodeName, 'n1');
    assert.equal(got.metadata.generation, created.metadata.generation + 1, 'binding is a spec change');
    assert.deepEqual(got.metadata.finalizers, ['shoal.dev/agent'], "the node agent's finalizer comes with the bind");
    const { conditions, ...status } = got.status;
    assert.deepEqual(status, { phase: 'Pending' }, "nominatedNodeName is cleared; phase, nodeName, reason are the node agent's");
    assert.equal(conditions.length, 2);
    assert.deepEqual(conditions[1], { type: 'Other', status: 'True', reason: 'Kept' });
    const scheduled = conditions[0];
    assert.deepEqual(
      { ...scheduled, lastTransitionTime: undefined },
      { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: 'assigned to n1', lastTransitionTime: undefined },
    );
    assert.ok(Date.parse(scheduled.lastTransitionTime) > Date.parse('2026-01-01T00:00:00Z') || Date.now() < Date.parse('2026-01-01T00:00:00Z'));

    // Wait for the bind to reach the watch, then for a later write, so "only one event" is certain.
    await waitFor(() => watch.events.length >= 1, { message: 'the bind on the watch' });
    await api('PATCH', `${VMS}/web`, { metadata: { labels: { after: 'bind' } } }, MERGE);
    await waitFor(() => watch.events.length >= 2, { message: 'the label change on the watch' });
    assert.equal(watch.events[0]!.type, 'MODIFIED');
    assert.equal(watch.events[0]!.object.spec.nodeName, 'n1');
    assert.equal(watch.events[0]!.object.status.conditions[0].status, 'True');
    assert.equal(watch.events[0]!.object.metadata.resourceVersion, got.metadata.resourceVersion);
    assert.equal(watch.events[1]!.object.metadata.labels.after, 'bind', 'nothing else was written between the two');
  } finally {
    watch.close();
  }
});

test('binding again: 201 without a write to the same node, 409 to another', async () => {
  await api('POST', VMS, vm('twice'));
  assert.equal((await bind('twice', 'n1')).status, 201);
  // The agent moves the VM on; a retried bind must not put it back to Scheduled.
  await api('PATCH', `${VMS}/twice/status`, { status: { phase: 'Running' } }, MERGE);
  const before = (await api('GET', `${VMS}/twice`)).body;
  const same = await bind('twice', 'n1');
  assert.equal(same.status, 201);
  const after = (await api('GET', `${VMS}/twice`)).body;
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  assert.equal(after.status.phase, 'Running');

  const elsewhere = await bind('twice', 'n2');
  assert.equal(elsewhere.status, 409);
  assert.equal(elsewhere.body.kind, 'Status');
  assert.equal(elsewhere.body.reason, 'Conflict');
  assert.match(elsewhere.body.message, /virtualmachine twice is already bound to node n1/);
  assert.equal((await api('GET', `${VMS}/twice`)).body.metadata.resourceVersion, before.metadata.resourceVersion);
});

test('concurrent binds of one VM to different nodes: exactly one wins', async () => {
  await api('POST', VMS, vm('contested'));
  const results = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((n) => bind('contested', n)));
  assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409], JSON.stringify(results.map((r) => r.body)));
  const winner = ['n1', 'n2', 'n3', 'n4'][results.findIndex((r) => r.status === 201)];
  const got = (await api('GET', `${VMS}/contested`)).body;
  assert.equal(got.spec.nodeName, winner);
  assert.equal(got.status.conditions[0].message, `assigned to ${winner}`);
  assert.equal(got.metadata.generation, 2, 'one bind written');
});

test('refusals: 404 for a missing VM, 422 without target.name, 409 while deleting or on a stale resourceVersion; nothing changes', async () => {
  const missing = await bind('ghost', 'n1');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, 'NotFound');

  const created = (await api('POST', VMS, vm('picky', { finalizers: ['shoal.dev/test'] }))).body;
  for (const body of [binding('picky', undefined), binding('picky', ''), { metadata: { name: 'picky' } }]) {
    const res = await api('POST', `${VMS}/picky/binding`, body);
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.equal(res.body.reason, 'Invalid');
    assert.ok(['target.name', 'target'].includes(res.body.details.causes[0].field), JSON.stringify(res.body));
  }
  const badName = await bind('picky', 'Not_A_Node');
  assert.equal(badName.status, 422);
  assert.equal(badName.body.details.causes[0].field, 'target.name');
  assert.equal((await api('POST', `${VMS}/picky/binding`, { ...binding('picky', 'n1'), metadata: { name: 'other' } })).status, 400);
  assert.equal((await api('POST', `${VMS}/picky/binding`, { ...binding('picky', 'n1'), kind: 'VirtualMachine' })).status, 400);

  const stale = await bind('picky', 'n1', { resourceVersion: '1' });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  assert.equal((await api('GET', `${VMS}/picky`)).body.metadata.resourceVersion, created.metadata.resourceVersion, 'nothing written');

  const dry = await api('POST', `${VMS}/picky/binding?dryRun=All`, binding('picky', 'n1'));
  assert.equal(dry.status, 201);
  assert.equal((await api('GET', `${VMS}/picky`)).body.spec.nodeName, undefined, 'a dry run binds nothing');

  assert.equal((await api('DELETE', `${VMS}/picky`)).status, 200);
  const deleting = await bind('picky', 'n1');
  assert.equal(deleting.status, 409);
  assert.match(deleting.body.message, /being deleted/);
  await api('PATCH', `${VMS}/picky`, { metadata: { finalizers: null } }, MERGE);
});

test('ShoalClient.bind: with the current resourceVersion it binds; with an old one it throws 409', async () => {
  const created = await client.create<KubeObject>('vm', vm('by-client'));
  const ok = await client.bind('default', 'by-client', 'n7', { resourceVersion: created.metadata.resourceVersion });
  assert.equal(ok.status, 'Success');
  const bound = await client.get<any>('vm', 'by-client');
  assert.equal(bound.spec.nodeName, 'n7');
  assert.equal(bound.status.conditions[0].message, 'assigned to n7');

  await client.create<KubeObject>('vm', vm('by-client-2'));
  await client.patch('vm', 'by-client-2', { metadata: { labels: { moved: 'on' } } }, { type: 'merge' });
  const err = await client.bind('default', 'by-client-2', 'n7', { resourceVersion: created.metadata.resourceVersion }).catch((e: unknown) => e);
  assert.ok(err instanceof ApiError && err.code === 409, String(err));
  const missing = await client.bind('default', 'nobody', 'n7').catch((e: unknown) => e);
  assert.ok(missing instanceof ApiError && missing.code === 404, String(missing));
});

test('discovery lists virtualmachines/binding with verb create, and OpenAPI has the route', async () => {
  const resources = (await api('GET', API)).body.resources as { name: string; verbs: string[]; namespaced: boolean }[];
  const sub = resources.find((r) => r.name === 'virtualmachines/binding');
  assert.deepEqual(sub && { verbs: sub.verbs, namespaced: sub.namespaced }, { verbs: ['create'], namespaced: true });
  const doc = (await api('GET', '/openapi/v3/apis/shoal.dev/v1alpha1')).body;
  assert.ok(doc.paths['/apis/shoal.dev/v1alpha1/namespaces/{namespace}/virtualmachines/{name}/binding']?.post);
});

test('OpenAPI publishes the Binding and DeleteOptions bodies as schemas/options/ declares them', async () => {
  const doc = (await api('GET', '/openapi/v3/apis/shoal.dev/v1alpha1')).body;
  const bodyOf = (op: any) => op?.requestBody?.content?.['application/json']?.schema;
  const bindingBody = bodyOf(doc.paths['/apis/shoal.dev/v1alpha1/namespaces/{namespace}/virtualmachines/{name}/binding'].post);
  const deleteBody = bodyOf(doc.paths['/apis/shoal.dev/v1alpha1/namespaces/{namespace}/virtualmachines/{name}'].delete);
  const resolve = (s: any) => (s?.$ref ? doc.components.schemas[s.$ref.split('/').pop()] : s);
  assert.deepEqual(resolve(bindingBody)?.required, ['target']);
  assert.deepEqual([resolve(bindingBody)?.title, resolve(deleteBody)?.title], ['Binding', 'DeleteOptions']);
  assert.ok(resolve(deleteBody)?.properties.preconditions, JSON.stringify(deleteBody));
  assert.deepEqual(resolve(deleteBody)?.properties.dryRun.items.enum, ['All']);
});

test('a bound VM is still a valid VirtualMachine (what the bind writes satisfies the schema)', () => {
  const vmKind = kinds().find('vm')!;
  const current = {
    ...vm('pure'),
    metadata: { name: 'pure', namespace: 'default', generation: 3 },
    status: { phase: 'Pending', nominatedNodeName: 'n1', restarts: 0 },
  };
  const next = boundVm(vmKind, current, 'n1', new Date('2026-02-03T04:05:06.789Z'))!;
  assert.deepEqual(validateObject(vmKind, next), { invalid: [], unknown: [] });
  assert.equal(next.metadata.generation, 4);
  assert.deepEqual(next.status, {
    phase: 'Pending',
    restarts: 0,
    conditions: [{ type: 'Scheduled', status: 'True', reason: 'Scheduled', message: 'assigned to n1', lastTransitionTime: '2026-02-03T04:05:06Z' }],
  });
  assert.equal(current.status.phase, 'Pending', 'the stored object is not changed in place');
});

test('unbinding ends what the node reported: Pending again, its eviction request done and its reason kept, the rest of the status kept', async () => {
  await api('POST', VMS, vm('leaving'));
  assert.equal((await bind('leaving', 'n1')).status, 201);
  const request = { reason: 'Drained', message: 'node n1 is being drained', gracePeriodSeconds: 0, requestedAt: '2026-01-01T00:00:00Z' };
  await api('PATCH', `${VMS}/leaving`, { metadata: { annotations: { 'shoal.dev/eviction-requested': JSON.stringify(request), keep: 'me' } } }, MERGE);
  const reported = await api(
    'PATCH',
    `${VMS}/leaving/status`,
    {
      status: {
        phase: 'Stopped',
        nodeName: 'n1',
        ip: '10.0.0.9',
        pid: 42,
        bootedAt: '2026-01-01T00:00:01Z',
        nextRestartAt: '2026-01-01T00:00:41Z',
        restarts: 3,
        preemptedBy: 'default/boss',
        reason: 'Drained',
        message: 'stopped',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'Drained' },
          { type: 'Other', status: 'True' },
        ],
      },
    },
    MERGE,
  );
  assert.equal(reported.status, 200, JSON.stringify(reported.body));

  const unbound = await api(
    'PATCH',
    `${VMS}/leaving`,
    { metadata: { resourceVersion: reported.body.metadata.resourceVersion }, spec: { nodeName: null } },
    MERGE,
  );
  assert.equal(unbound.status, 200, JSON.stringify(unbound.body));
  assert.equal(unbound.body.spec.nodeName, undefined);
  assert.deepEqual(unbound.body.status, {
    phase: 'Pending',
    reason: 'Drained',
    message: 'node n1 is being drained',
    restarts: 3,
    preemptedBy: 'default/boss',
    conditions: [{ type: 'Other', status: 'True' }],
  });
  assert.deepEqual(unbound.body.metadata.annotations, { keep: 'me' }, 'the eviction request is done');

  // Without a request the unbind says so plainly; a bind again is a fresh start.
  assert.equal((await bind('leaving', 'n2')).status, 201);
  const plain = await api('PATCH', `${VMS}/leaving`, { spec: { nodeName: null } }, MERGE);
  assert.deepEqual(
    { phase: plain.body.status.phase, reason: plain.body.status.reason, message: plain.body.status.message },
    { phase: 'Pending', reason: 'Unbound', message: 'unbound from node n2' },
  );
  // Writes that do not unbind leave status alone.
  const labelled = await api('PATCH', `${VMS}/leaving`, { metadata: { labels: { a: 'b' } } }, MERGE);
  assert.deepEqual(labelled.body.status, plain.body.status);
});
