/**
 * Server-side apply and managedFields through a real apiserver over a real etcd, on the wire as
 * kubectl and the client library use them: `PATCH` with `application/apply-patch+yaml`,
 * `fieldManager` and `force`, creates and merges, conflicts between managers, pruning, the
 * status subresource, dry runs, and what every other write records.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { http, startCluster, type TestCluster } from '@shoal/testing';

const VMS = '/apis/shoal.dev/v1alpha1/namespaces/default/virtualmachines';
const APPLY = { 'content-type': 'application/apply-patch+yaml' };
const MERGE = { 'content-type': 'application/merge-patch+json' };
let cp: TestCluster;
let api: <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => ReturnType<typeof http<T>>;

before(async () => {
  cp = await startCluster();
  api = (method, path, body, headers) => http(cp.url, method, path, body, headers);
});
after(() => cp?.stop());

/** A configuration as kubectl sends it: the object as JSON, under the apply content type. */
const configuration = (name: string, spec: object, metadata: object = {}) =>
  JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name, ...metadata }, spec });

const applyAs = (manager: string, name: string, body: string, query = '') => api('PATCH', `${VMS}/${name}?fieldManager=${manager}${query}`, body, APPLY);

/** Each manager's entry as `manager operation [subresource]`. */
const managers = (obj: any): string[] => (obj.metadata.managedFields ?? []).map((e: any) => [e.manager, e.operation, e.subresource].filter(Boolean).join(' '));
const entry = (obj: any, manager: string, operation = 'Apply') =>
  obj.metadata.managedFields.find((e: any) => e.manager === manager && e.operation === operation);

test('apply creates the object (201), records its manager as Apply, and an identical apply writes nothing', async () => {
  const created = await applyAs('alice', 'ssa-new', configuration('ssa-new', { resources: { vcpus: 2 } }, { labels: { app: 'web' } }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.spec.resources.vcpus, 2);
  assert.equal(created.body.spec.resources.memoryMiB, 256, 'defaults are filled in as on any create');
  assert.equal(created.body.metadata.generation, 1);
  assert.deepEqual(created.body.metadata.managedFields, [
    {
      manager: 'alice',
      operation: 'Apply',
      apiVersion: 'shoal.dev/v1alpha1',
      time: created.body.metadata.managedFields[0].time,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': { 'f:app': {} } }, 'f:spec': { 'f:resources': { 'f:vcpus': {} } } },
    },
  ]);
  assert.match(created.body.metadata.managedFields[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.deepEqual((await api('GET', `${VMS}/ssa-new`)).body, created.body, 'stored as answered');

  const again = await applyAs('alice', 'ssa-new', configuration('ssa-new', { resources: { vcpus: 2 } }, { labels: { app: 'web' } }));
  assert.equal(again.status, 200);
  assert.equal(again.body.metadata.resourceVersion, created.body.metadata.resourceVersion, 'nothing changed, nothing written');
});

test('apply merges (YAML too): what the configuration leaves out stays, what it changes moves on the generation', async () => {
  await applyAs('alice', 'ssa-merge', configuration('ssa-merge', { resources: { vcpus: 1 } }));
  await api('PATCH', `${VMS}/ssa-merge?fieldManager=labeller`, { metadata: { labels: { team: 'ops' } } }, MERGE);
  const yaml = 'apiVersion: shoal.dev/v1alpha1\nkind: VirtualMachine\nmetadata:\n  name: ssa-merge\nspec:\n  resources:\n    vcpus: 3\n';
  const res = await applyAs('alice', 'ssa-merge', yaml);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.spec.resources.vcpus, 3);
  assert.deepEqual(res.body.metadata.labels, { team: 'ops' }, "another writer's label stays");
  assert.equal(res.body.metadata.generation, 2);
  assert.deepEqual(managers(res.body), ['alice Apply', 'labeller Update']);
});

test("a different value for another manager's field is a 409 naming each field and manager; force takes it over", async () => {
  // Created by a plain POST: shoalctl (its User-Agent) owns every field it set, as an Update.
  const post = await api('POST', VMS, JSON.parse(configuration('ssa-owned', { resources: { vcpus: 1, memoryMiB: 512 } })), { 'user-agent': 'shoalctl/0.1.0' });
  assert.deepEqual(managers(post.body), ['shoalctl Update']);
  const rv = post.body.metadata.resourceVersion;

  const conflict = await applyAs('bob', 'ssa-owned', configuration('ssa-owned', { resources: { vcpus: 4, memoryMiB: 1024 } }));
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.kind, 'Status');
  assert.equal(conflict.body.reason, 'Conflict');
  assert.equal(
    conflict.body.message,
    'Apply failed with 2 conflicts: conflicts with "shoalctl" using shoal.dev/v1alpha1:\n- .spec.resources.memoryMiB\n- .spec.resources.vcpus',
  );
  assert.deepEqual(conflict.body.details.causes, [
    { type: 'FieldManagerConflict', message: 'conflict with "shoalctl" using shoal.dev/v1alpha1', field: '.spec.resources.memoryMiB' },
    { type: 'FieldManagerConflict', message: 'conflict with "shoalctl" using shoal.dev/v1alpha1', field: '.spec.resources.vcpus' },
  ]);
  assert.equal((await api('GET', `${VMS}/ssa-owned`)).body.metadata.resourceVersion, rv, 'a conflict changes nothing');

  const forced = await applyAs('bob', 'ssa-owned', configuration('ssa-owned', { resources: { vcpus: 4 } }), '&force=true');
  assert.equal(forced.status, 200, JSON.stringify(forced.body));
  assert.equal(forced.body.spec.resources.vcpus, 4);
  assert.deepEqual(entry(forced.body, 'bob').fieldsV1, { 'f:spec': { 'f:resources': { 'f:vcpus': {} } } });
  assert.ok(!('f:vcpus' in entry(forced.body, 'shoalctl', 'Update').fieldsV1['f:spec']['f:resources']), 'shoalctl no longer owns vcpus');
});

test('the same value as another manager is shared: no conflict, and the field stays while either still applies it', async () => {
  await applyAs('alice', 'ssa-shared', configuration('ssa-shared', { resources: { vcpus: 2 }, cmdline: 'quiet' }));
  const shared = await applyAs('bob', 'ssa-shared', configuration('ssa-shared', { cmdline: 'quiet' }));
  assert.equal(shared.status, 200, JSON.stringify(shared.body));
  assert.deepEqual(entry(shared.body, 'bob').fieldsV1, { 'f:spec': { 'f:cmdline': {} } });
  assert.ok(entry(shared.body, 'alice').fieldsV1['f:spec']['f:cmdline'], 'alice still owns it too');

  // alice drops cmdline: bob still applies it, so it stays.
  const kept = await applyAs('alice', 'ssa-shared', configuration('ssa-shared', { resources: { vcpus: 2 } }));
  assert.equal(kept.body.spec.cmdline, 'quiet');
  // bob drops it too: now nobody does, and it goes.
  const nothing = JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'ssa-shared' } });
  const gone = await applyAs('bob', 'ssa-shared', nothing);
  assert.equal(gone.status, 200, JSON.stringify(gone.body));
  assert.equal(gone.body.spec.cmdline, undefined);
  assert.deepEqual(managers(gone.body), ['alice Apply'], 'a manager that owns nothing is no longer listed');
});

test('prune within the object: labels, map list items and fields the applier stopped setting are removed', async () => {
  const first = configuration(
    'ssa-prune',
    {
      resources: { vcpus: 1 },
      volumes: [
        { name: 'a', volumeName: 'vol-a' },
        { name: 'b', volumeName: 'vol-b' },
      ],
      cmdline: 'x',
    },
    { labels: { a: '1', b: '2' } },
  );
  assert.equal((await applyAs('alice', 'ssa-prune', first)).status, 201);
  const second = await applyAs(
    'alice',
    'ssa-prune',
    configuration('ssa-prune', { resources: { vcpus: 1 }, volumes: [{ name: 'b', volumeName: 'vol-b' }] }, { labels: { a: '1' } }),
  );
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.deepEqual(second.body.metadata.labels, { a: '1' });
  assert.deepEqual(second.body.spec.volumes, [{ name: 'b', volumeName: 'vol-b' }]);
  assert.equal(second.body.spec.cmdline, undefined);
});

test('the status subresource: apply and updates record managers of their own with subresource status', async () => {
  await applyAs('alice', 'ssa-status', configuration('ssa-status', { resources: { vcpus: 1 } }));
  const condition = (type: string, status: string) => ({ type, status, reason: 'Test', lastTransitionTime: '2026-01-01T00:00:00Z' });
  const statusConfig = (conditions: object[]) =>
    JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'ssa-status' }, status: { conditions } });
  const a = await api('PATCH', `${VMS}/ssa-status/status?fieldManager=agent`, statusConfig([condition('Ready', 'True')]), APPLY);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const b = await api('PATCH', `${VMS}/ssa-status/status?fieldManager=scheduler`, statusConfig([condition('Scheduled', 'True')]), APPLY);
  assert.deepEqual(
    b.body.status.conditions.map((c: { type: string }) => c.type),
    ['Ready', 'Scheduled'],
    'conditions merge by type: each applier keeps its own',
  );
  // Entries are ordered by operation, then time to the second, then name: sorted here, as the seconds may differ.
  assert.deepEqual(managers(b.body).sort(), ['agent Apply status', 'alice Apply', 'scheduler Apply status']);
  const update = await api('PATCH', `${VMS}/ssa-status/status?fieldManager=agent-update`, { status: { phase: 'Running' } }, MERGE);
  assert.equal(entry(update.body, 'agent-update', 'Update').subresource, 'status');
  assert.deepEqual(entry(update.body, 'agent-update', 'Update').fieldsV1, { 'f:status': { 'f:phase': {} } });
  const conflict = await api('PATCH', `${VMS}/ssa-status/status?fieldManager=scheduler`, statusConfig([condition('Ready', 'False')]), APPLY);
  assert.equal(conflict.status, 409);
  assert.match(conflict.body.message, /conflict with "agent" with subresource "status": \.status\.conditions\[type="Ready"\]\.status/);
  const missing = await api('PATCH', `${VMS}/nothing-here/status?fieldManager=agent`, statusConfig([]).replace('ssa-status', 'nothing-here'), APPLY);
  assert.equal(missing.status, 404, 'an apply through /status does not create');
});

test('dryRun=All answers what an apply would store and stores nothing', async () => {
  const dryCreate = await applyAs('alice', 'ssa-dry', configuration('ssa-dry', { resources: { vcpus: 2 } }), '&dryRun=All');
  assert.equal(dryCreate.status, 201, JSON.stringify(dryCreate.body));
  assert.equal(dryCreate.body.spec.resources.vcpus, 2);
  assert.deepEqual(managers(dryCreate.body), ['alice Apply']);
  assert.equal((await api('GET', `${VMS}/ssa-dry`)).status, 404);

  const real = await applyAs('alice', 'ssa-dry', configuration('ssa-dry', { resources: { vcpus: 2 } }));
  const dryUpdate = await applyAs('alice', 'ssa-dry', configuration('ssa-dry', { resources: { vcpus: 6 } }), '&dryRun=All');
  assert.equal(dryUpdate.status, 200);
  assert.equal(dryUpdate.body.spec.resources.vcpus, 6);
  assert.equal(dryUpdate.body.metadata.generation, 2);
  const stored = (await api('GET', `${VMS}/ssa-dry`)).body;
  assert.equal(stored.metadata.resourceVersion, real.body.metadata.resourceVersion);
  assert.equal(stored.spec.resources.vcpus, 2);
  const dryConflict = await applyAs('bob', 'ssa-dry', configuration('ssa-dry', { resources: { vcpus: 6 } }), '&dryRun=All');
  assert.equal(dryConflict.status, 409, 'a dry run reports the conflicts the apply would meet');
});

test('bad applies are refused with the field named, and change nothing', async () => {
  await applyAs('alice', 'ssa-bad', configuration('ssa-bad', { resources: { vcpus: 1 } }));
  const rv = (await api('GET', `${VMS}/ssa-bad`)).body.metadata.resourceVersion;
  const refused = async (body: string, status: number, field: string | undefined, query = '', manager = 'alice') => {
    const res = await applyAs(manager, 'ssa-bad', body, query);
    assert.equal(res.status, status, `${body}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.kind, 'Status');
    if (field)
      assert.ok(
        res.body.details.causes.some((c: { field: string }) => c.field === field),
        JSON.stringify(res.body),
      );
    return res.body;
  };
  await refused(JSON.stringify({ kind: 'VirtualMachine', metadata: { name: 'ssa-bad' } }), 400, 'apiVersion');
  await refused(JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', metadata: { name: 'ssa-bad' } }), 400, 'kind');
  await refused(JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: {} }), 400, 'metadata.name');
  await refused(configuration('another-name', {}), 400, 'metadata.name');
  await refused(configuration('ssa-bad', {}, { managedFields: [{ manager: 'x' }] }), 400, 'metadata.managedFields');
  const strict = await refused(configuration('ssa-bad', { gpus: 2 }), 400, 'spec.gpus', '&fieldValidation=Strict');
  assert.match(strict.message, /unknown field "spec\.gpus"/);
  await refused(configuration('ssa-bad', { volumes: [{ volumeName: 'v' }] }), 422, 'spec.volumes[0]');
  await refused(configuration('ssa-bad', { volumes: [{ name: 'a' }, { name: 'a' }] }), 422, 'spec.volumes[1]');
  await refused(configuration('ssa-bad', { resources: { vcpus: 0 } }), 422, 'spec.resources.vcpus');
  await refused(configuration('ssa-bad', {}, { resourceVersion: '1' }), 409, undefined);
  await refused(configuration('ssa-bad', {}), 422, 'fieldManager', '', '');
  await refused(configuration('ssa-bad', {}), 422, 'fieldManager', '', 'a%07b');
  await refused('- not\n- an object\n', 400, undefined);
  const forceOnMerge = await api('PATCH', `${VMS}/ssa-bad?force=true`, { metadata: { labels: { a: 'b' } } }, MERGE);
  assert.equal(forceOnMerge.status, 422);
  assert.equal(forceOnMerge.body.details.causes[0].field, 'force');
  assert.equal((await api('GET', `${VMS}/ssa-bad`)).body.metadata.resourceVersion, rv);

  const warned = await applyAs('alice', 'ssa-bad', configuration('ssa-bad', { resources: { vcpus: 1 }, gpus: 2 }), '&fieldValidation=Warn');
  assert.equal(warned.status, 200);
  assert.match(String(warned.headers.warning), /unknown field \\"spec\.gpus\\"/);
  assert.equal(warned.body.spec.gpus, undefined);
  assert.ok(!('f:gpus' in entry(warned.body, 'alice').fieldsV1['f:spec']), 'a dropped field is owned by no one');
});

test('every other write records its manager as an Update: fieldManager, else the User-Agent; [{}] clears them', async () => {
  const created = await api('POST', `${VMS}?fieldManager=creator`, JSON.parse(configuration('ssa-updates', { resources: { vcpus: 1 } })));
  assert.deepEqual(managers(created.body), ['creator Update']);
  const put = await api(
    'PUT',
    `${VMS}/ssa-updates`,
    { ...created.body, spec: { ...created.body.spec, cmdline: 'quiet' } },
    { 'user-agent': 'kubectl/v1.32.0 (linux/amd64) kubernetes/abc' },
  );
  assert.deepEqual(managers(put.body), ['creator Update', 'kubectl Update']);
  assert.deepEqual(entry(put.body, 'kubectl', 'Update').fieldsV1, { 'f:spec': { 'f:cmdline': {} } });
  const patched = await api('PATCH', `${VMS}/ssa-updates?fieldManager=kubectl-label`, { metadata: { labels: { x: 'y' } } }, MERGE);
  assert.deepEqual(entry(patched.body, 'kubectl-label', 'Update').fieldsV1, { 'f:metadata': { 'f:labels': { '.': {}, 'f:x': {} } } });
  const same = await api('PATCH', `${VMS}/ssa-updates?fieldManager=somebody`, { metadata: { labels: { x: 'y' } } }, MERGE);
  assert.equal(same.body.metadata.resourceVersion, patched.body.metadata.resourceVersion, 'a write that changes nothing records nothing');

  const forged = await api(
    'PATCH',
    `${VMS}/ssa-updates`,
    { metadata: { managedFields: [{ manager: 'x', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { nonsense: {} } }] } },
    MERGE,
  );
  assert.equal(forged.status, 422);
  assert.match(forged.body.details.causes[0].field, /^metadata\.managedFields\[0\]/);

  const cleared = await api('PATCH', `${VMS}/ssa-updates`, { metadata: { managedFields: [{}] } }, MERGE);
  assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
  assert.equal(cleared.body.metadata.managedFields, undefined);
  const untracked = await api('PATCH', `${VMS}/ssa-updates?fieldManager=later`, { spec: { cmdline: 'loud' } }, MERGE);
  assert.equal(untracked.body.metadata.managedFields, undefined, 'once cleared, updates do not track again');
  const reapplied = await applyAs('alice', 'ssa-updates', configuration('ssa-updates', { resources: { vcpus: 1 } }));
  assert.deepEqual(managers(reapplied.body), ['alice Apply', 'before-first-apply Update'], 'the first apply credits the rest to before-first-apply');
});
