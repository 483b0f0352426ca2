/** The REST verbs against a real etcd and a real apiserver process, as a client sees them. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
let cp: TestCluster;
let api: <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => ReturnType<typeof http<T>>;

const vm = (name: string, spec: object = {}, metadata: object = {}) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, ...metadata },
  spec: { resources: { vcpus: 1, memoryMiB: 128 }, ...spec },
});

before(async () => {
  cp = await startCluster();
  api = (method, path, body, headers) => http(cp.url, method, path, body, headers);
});
after(() => cp?.stop());

/** Every key under the registry, for proving that a rejected request changed nothing. */
async function keyspace(): Promise<string> {
  const all = await Promise.all(['virtualmachines', 'namespaces', 'nodes', 'leases', 'events'].map((p) => api('GET', `/apis/shoal.dev/v1alpha1/${p}`)));
  return JSON.stringify(all.map((r) => r.body.items));
}

test('create returns 201 with server-set identity, and get returns the same object', async () => {
  const created = await api('POST', VMS, vm('alpha'));
  assert.equal(created.status, 201);
  const m = created.body.metadata;
  assert.match(m.uid, /^[0-9a-f-]{36}$/);
  assert.match(m.resourceVersion, /^\d+$/);
  assert.equal(m.generation, 1);
  assert.ok(Date.parse(m.creationTimestamp) > Date.now() - 60_000);
  assert.equal(created.body.spec.runStrategy, 'Always', 'defaults are applied');
  const got = await api('GET', `${VMS}/alpha`);
  assert.deepEqual(got.body, created.body);
});

test('a duplicate create is 409 AlreadyExists and a missing object is 404 NotFound, both as Status', async () => {
  await api('POST', VMS, vm('dup'));
  const again = await api('POST', VMS, vm('dup'));
  assert.equal(again.status, 409);
  assert.equal(again.body.kind, 'Status');
  assert.equal(again.body.reason, 'AlreadyExists');
  const missing = await api('GET', `${VMS}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, 'NotFound');
  assert.equal(missing.body.message, 'virtualmachines.shoal.dev "nope" not found');
});

test('an update with a stale resourceVersion is 409 Conflict and changes nothing', async () => {
  const created = (await api('POST', VMS, vm('conflict'))).body;
  const first = await api('PUT', `${VMS}/conflict`, { ...created, spec: { ...created.spec, resources: { vcpus: 2, memoryMiB: 128 } } });
  assert.equal(first.status, 200);
  assert.equal(first.body.metadata.generation, 2);
  const stale = await api('PUT', `${VMS}/conflict`, { ...created, spec: { ...created.spec, resources: { vcpus: 3, memoryMiB: 128 } } });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, 'Conflict');
  assert.equal((await api('GET', `${VMS}/conflict`)).body.spec.resources.vcpus, 2);
  const withoutVersion = await api('PUT', `${VMS}/conflict`, { ...created, metadata: { name: 'conflict' } });
  assert.equal(withoutVersion.status, 422);
  assert.equal(withoutVersion.body.details.causes[0].field, 'metadata.resourceVersion');
});

test('an invalid spec is 422 with field paths, and nothing is written', async () => {
  const before = await keyspace();
  const res = await api('POST', VMS, vm('bad', { resources: { vcpus: 0, memoryMiB: 128 }, runStrategy: 'Sometimes' }));
  assert.equal(res.status, 422);
  assert.equal(res.body.reason, 'Invalid');
  assert.deepEqual(res.body.details.causes.map((c: { field: string }) => c.field).sort(), ['spec.resources.vcpus', 'spec.runStrategy']);
  const unknown = await api('POST', `${VMS}?fieldValidation=Strict`, vm('bad2', { gpus: 1 }));
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.message, /unknown field "spec.gpus"/);
  assert.equal(await keyspace(), before);
});

test('fieldValidation=Warn stores without the unknown field and says so in a Warning header', async () => {
  const res = await api('POST', `${VMS}?fieldValidation=Warn`, vm('warned', { gpus: 1 }));
  assert.equal(res.status, 201);
  assert.equal(res.body.spec.gpus, undefined);
  assert.match(String(res.headers.warning), /unknown field \\"spec.gpus\\"/);
});

test('merge patch and JSON patch; generation moves only with the spec', async () => {
  await api('POST', VMS, vm('patchy'));
  const labelled = await api('PATCH', `${VMS}/patchy`, { metadata: { labels: { tier: 'web' } } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(labelled.status, 200);
  assert.equal(labelled.body.metadata.labels.tier, 'web');
  assert.equal(labelled.body.metadata.generation, 1);
  const resized = await api('PATCH', `${VMS}/patchy`, [{ op: 'replace', path: '/spec/resources/vcpus', value: 4 }], {
    'content-type': 'application/json-patch+json',
  });
  assert.equal(resized.body.spec.resources.vcpus, 4);
  assert.equal(resized.body.metadata.generation, 2);
  const unlabelled = await api('PATCH', `${VMS}/patchy`, { metadata: { labels: { tier: null } } }, { 'content-type': 'application/merge-patch+json' });
  assert.deepEqual(unlabelled.body.metadata.labels ?? {}, {});
  const badPatch = await api('PATCH', `${VMS}/patchy`, { spec: { resources: { vcpus: -1 } } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(badPatch.status, 422);
  const pinned = await api(
    'PATCH',
    `${VMS}/patchy`,
    { metadata: { resourceVersion: '1' }, spec: { cmdline: 'quiet' } },
    { 'content-type': 'application/merge-patch+json' },
  );
  assert.equal(pinned.status, 409, 'a patch naming an old resourceVersion is a failed precondition');
  // Server-side apply merges its configuration: what it leaves out stays (routes/server-side-apply.test.ts has the rest).
  const applyYaml = { 'content-type': 'application/apply-patch+yaml' };
  const configuration = 'apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata: {name: patchy}\nspec:\n  cmdline: quiet\n';
  const ssa = await api('PATCH', `${VMS}/patchy?fieldManager=tester`, configuration, applyYaml);
  assert.equal(ssa.status, 200, JSON.stringify(ssa.body));
  assert.equal(ssa.body.spec.cmdline, 'quiet');
  assert.equal(ssa.body.spec.resources.vcpus, 4);
  assert.equal(ssa.body.metadata.generation, 3);
  const unnamed = await api('PATCH', `${VMS}/patchy`, configuration, applyYaml);
  assert.equal(unnamed.status, 422, 'an apply must name its field manager');
  assert.equal(unnamed.body.details.causes[0].field, 'fieldManager');
});

test('status is written through /status only', async () => {
  const created = (await api('POST', VMS, vm('stat'))).body;
  const viaMain = await api('PUT', `${VMS}/stat`, { ...created, status: { phase: 'Running' } });
  assert.deepEqual(viaMain.body.status, { phase: 'Pending' }, 'the main resource does not write status');
  const viaStatus = await api(
    'PATCH',
    `${VMS}/stat/status`,
    { status: { phase: 'Running', restarts: 0 }, spec: { resources: { vcpus: 9 } } },
    { 'content-type': 'application/merge-patch+json' },
  );
  assert.equal(viaStatus.status, 200);
  assert.equal(viaStatus.body.status.phase, 'Running');
  assert.equal(viaStatus.body.spec.resources.vcpus, 1, 'the status endpoint ignores spec');
  const badStatus = await api('PATCH', `${VMS}/stat/status`, { status: { phase: 'Dancing' } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(badStatus.status, 422);
  assert.equal(badStatus.body.details.causes[0].field, 'status.phase');
});

test('a /status patch, merge or JSON, changes the status it names and nothing else; one validation refuses changes nothing at all', async () => {
  await api('POST', VMS, vm('statpatch', {}, { labels: { tier: 'web' } }));
  const merge = { 'content-type': 'application/merge-patch+json' };
  const jsonPatch = { 'content-type': 'application/json-patch+json' };
  const ready = { type: 'Ready', status: 'True', reason: 'Booted', message: 'up', lastTransitionTime: '2026-01-01T00:00:00Z' };
  const running = await api('PATCH', `${VMS}/statpatch/status`, { status: { phase: 'Running', restarts: 0, conditions: [ready] } }, merge);
  assert.equal(running.status, 200, JSON.stringify(running.body));

  const viaJson = await api(
    'PATCH',
    `${VMS}/statpatch/status`,
    [
      { op: 'replace', path: '/status/restarts', value: 2 },
      { op: 'add', path: '/metadata/labels/tier', value: 'db' },
    ],
    jsonPatch,
  );
  assert.equal(viaJson.status, 200, JSON.stringify(viaJson.body));
  assert.equal(viaJson.body.status.restarts, 2);
  assert.deepEqual(viaJson.body.status.conditions, [ready], 'what the patch did not name stays');
  assert.deepEqual(viaJson.body.metadata.labels, { tier: 'web' }, 'the status endpoint ignores metadata');

  const before = (await api('GET', `${VMS}/statpatch`)).body;
  const refusals = [
    // A valid change beside an invalid one, in the status and outside it.
    await api('PATCH', `${VMS}/statpatch/status`, { metadata: { labels: { tier: 'db' } }, status: { phase: 'Dancing', restarts: 5 } }, merge),
    await api(
      'PATCH',
      `${VMS}/statpatch/status`,
      [
        { op: 'replace', path: '/status/conditions/0/message', value: 'changed' },
        { op: 'replace', path: '/status/restarts', value: -1 },
      ],
      jsonPatch,
    ),
  ];
  for (const refused of refusals) {
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.match(refused.body.details.causes[0].field, /^status\./);
  }
  assert.deepEqual((await api('GET', `${VMS}/statpatch`)).body, before);
});

test('finalizers make deletion graceful: deletionTimestamp first, gone when the last finalizer leaves', async () => {
  await api('POST', VMS, vm('fin', {}, { finalizers: ['shoal.dev/agent'] }));
  const deleting = await api('DELETE', `${VMS}/fin`);
  assert.equal(deleting.status, 200);
  assert.ok(deleting.body.metadata.deletionTimestamp);
  assert.equal((await api('GET', `${VMS}/fin`)).status, 200, 'still there while a finalizer remains');
  const addMore = await api(
    'PATCH',
    `${VMS}/fin`,
    { metadata: { finalizers: ['shoal.dev/agent', 'x.dev/y'] } },
    { 'content-type': 'application/merge-patch+json' },
  );
  assert.equal(addMore.status, 422);
  const done = await api('PATCH', `${VMS}/fin`, { metadata: { finalizers: null } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(done.status, 200);
  assert.equal((await api('GET', `${VMS}/fin`)).status, 404);
});

test('delete honours preconditions and dryRun', async () => {
  const created = (await api('POST', VMS, vm('careful'))).body;
  const wrongUid = await api('DELETE', `${VMS}/careful`, { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } });
  assert.equal(wrongUid.status, 409);
  const dry = await api('DELETE', `${VMS}/careful?dryRun=All`);
  assert.equal(dry.status, 200);
  assert.equal((await api('GET', `${VMS}/careful`)).status, 200);
  const ok = await api('DELETE', `${VMS}/careful`, { preconditions: { uid: created.metadata.uid } });
  assert.equal(ok.status, 200);
  assert.equal((await api('GET', `${VMS}/careful`)).status, 404);
});

test('a DELETE with an empty body and a JSON Content-Type deletes without options, as Kubernetes; a body that is not DeleteOptions is still refused', async () => {
  await api('POST', VMS, vm('bodiless'));
  const json = { 'content-type': 'application/json' };
  for (const body of ['{"kind":"Pod"}', ' ', '{']) {
    const refused = await api('DELETE', `${VMS}/bodiless`, body, json);
    assert.equal(refused.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.reason, 'BadRequest');
  }
  assert.equal((await api('GET', `${VMS}/bodiless`)).status, 200, 'refused deletes delete nothing');
  const deleted = await api('DELETE', `${VMS}/bodiless`, '', json);
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.equal(deleted.body.metadata.name, 'bodiless');
  assert.equal((await api('GET', `${VMS}/bodiless`)).status, 404);
  const collection = await api('DELETE', `${VMS}?labelSelector=none%3Dthere`, '', { 'content-type': 'application/json; charset=utf-8' });
  assert.equal(collection.status, 200, JSON.stringify(collection.body));
});

test('objects go only into namespaces that exist; cluster-scoped kinds take no namespace', async () => {
  const res = await api('POST', '/apis/shoal.dev/v1alpha1/namespaces/nowhere/virtualmachines', vm('lost'));
  assert.equal(res.status, 404);
  assert.match(res.body.message, /namespaces? "nowhere" not found/);
  assert.equal((await api('POST', '/apis/shoal.dev/v1alpha1/namespaces', { metadata: { name: 'team-a' } })).body.status.phase, 'Active');
  assert.equal((await api('POST', '/apis/shoal.dev/v1alpha1/namespaces/team-a/virtualmachines', vm('found'))).status, 201);
  const node = await api('POST', '/apis/shoal.dev/v1alpha1/nodes', { metadata: { name: 'n1', namespace: 'default' } });
  assert.equal(node.status, 422);
  assert.equal(node.body.details.causes[0].field, 'metadata.namespace');
});

test('a Table is returned when asked for, with formatted cells and row metadata', async () => {
  await api('POST', VMS, vm('tabled', { resources: { vcpus: 2, memoryMiB: 512 } }));
  const res = await api('GET', `${VMS}/tabled`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
  assert.equal(res.body.kind, 'Table');
  const names = res.body.columnDefinitions.map((c: { name: string }) => c.name);
  assert.deepEqual(names.slice(0, 5), ['Name', 'Phase', 'Node', 'vCPUs', 'Memory']);
  assert.equal(names.at(-1), 'Age');
  const row = res.body.rows[0];
  assert.equal(row.cells[0], 'tabled');
  assert.equal(row.cells[3], 2);
  assert.equal(row.cells[4], '512Mi');
  assert.match(row.cells.at(-1), /^\d+s$/);
  assert.equal(row.object.metadata.name, 'tabled');
});

test('hostile bodies: malformed JSON, oversized and deeply nested bodies are refused with a Status', async () => {
  const malformed = await api('POST', VMS, '{"metadata": {', { 'content-type': 'application/json' });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.kind, 'Status');
  // The server may answer 413 and close before the client finished sending: both are a refusal.
  const huge = await api('POST', VMS, vm('huge', { cmdline: 'x'.repeat(4 * 1024 * 1024) })).catch((err: NodeJS.ErrnoException) => ({ status: err.code }));
  assert.ok(huge.status === 413 || huge.status === 'EPIPE' || huge.status === 'ECONNRESET', `expected 413, got ${huge.status}`);
  assert.equal((await api('GET', `${VMS}/huge`)).status, 404);
  let deep: unknown = {};
  for (let i = 0; i < 200; i++) deep = { a: deep };
  const nested = await api('POST', VMS, { ...vm('deep'), extra: deep });
  assert.equal(nested.status, 400);
  const wrongKind = await api('POST', VMS, { ...vm('wrong'), kind: 'Node' });
  assert.equal(wrongKind.status, 400);
  const yaml = await api('POST', VMS, 'apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata: {name: from-yaml}\n', {
    'content-type': 'application/yaml',
  });
  assert.equal(yaml.status, 201);
});

test('health, readiness, version and metrics endpoints answer', async () => {
  assert.equal((await api('GET', '/healthz')).body, 'ok');
  assert.equal((await api('GET', '/readyz')).body, 'ok');
  assert.equal((await api('GET', '/version')).body.minor, '32');
  const metrics = (await api('GET', '/metrics')).body as string;
  assert.match(metrics, /shoal_apiserver_requests_total\{verb="create",resource="virtualmachines",code="201"\} \d+/);
  assert.match(metrics, /shoal_apiserver_etcd_request_duration_seconds_bucket/);
  const unknownPath = await api('GET', '/apis/shoal.dev/v1alpha1/namespaces/default/widgets');
  assert.equal(unknownPath.status, 404);
  assert.equal(unknownPath.body.kind, 'Status');
});

test('deleting a namespace deletes its contents first, honouring their finalizers', async (t) => {
  // The apiserver marks the namespace Terminating; the controller-manager's namespace controller empties it.
  const cm = await cp.startControllerManager({ controllers: ['namespace'] });
  t.after(() => cm.stop());
  const NS = '/apis/shoal.dev/v1alpha1/namespaces';
  const inNs = '/apis/shoal.dev/v1alpha1/namespaces/doomed/virtualmachines';
  await api('POST', NS, { metadata: { name: 'doomed' } });
  await api('POST', inNs, vm('plain'));
  await api('POST', inNs, vm('guarded', {}, { finalizers: ['shoal.dev/agent'] }));
  const deleting = await api('DELETE', `${NS}/doomed`);
  assert.equal(deleting.status, 200);
  assert.equal(deleting.body.status.phase, 'Terminating');
  await waitFor(async () => (await api('GET', `${inNs}/plain`)).status === 404, { message: 'plain VM deleted with its namespace' });
  const guarded = await api('GET', `${inNs}/guarded`);
  assert.ok(guarded.body.metadata.deletionTimestamp, 'the finalized VM is being deleted, not gone');
  assert.equal((await api('GET', `${NS}/doomed`)).status, 200, 'the namespace waits for its contents');
  assert.equal((await api('POST', inNs, vm('late'))).status, 403, 'nothing new goes into a terminating namespace');
  await api('PATCH', `${inNs}/guarded`, { metadata: { finalizers: null } }, { 'content-type': 'application/merge-patch+json' });
  await waitFor(async () => (await api('GET', `${NS}/doomed`)).status === 404, { message: 'namespace gone' });
  assert.equal((await api('DELETE', `${NS}/default`)).status, 403);
});
