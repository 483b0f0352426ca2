/** serverSideApply and the client's apply patches against a real etcd and apiserver. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, type VirtualMachine } from '@shoal/api';
import { startCluster, type TestCluster } from '@shoal/testing';
import { ManifestError } from './apply.js';
import { serverSideApply } from './server-side-apply.js';
import { createNamespace, vm } from '../test-support/cluster.js';

let cluster: TestCluster;

before(async () => {
  cluster = await startCluster();
  await createNamespace(cluster.client, 'ssa');
});
after(() => cluster?.stop());

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, String(err));
    return err;
  }
  assert.fail('expected the apply to fail');
}

test('created, then configured, then unchanged; the manager owns what its manifest sets', async () => {
  const { client } = cluster;
  const manifest = vm('web', 'ssa', { vcpus: 1, labels: { app: 'web' } });
  const first = await serverSideApply<VirtualMachine>(client, manifest, { fieldManager: 'gitops' });
  assert.equal(first.result, 'created');
  assert.equal(first.kind.kind, 'VirtualMachine');
  assert.equal(first.object.spec.resources.memoryMiB, 256, 'the stored object, defaults and all');
  assert.deepEqual(
    first.object.metadata.managedFields?.map((e) => [e.manager, e.operation]),
    [['gitops', 'Apply']],
  );

  const unchanged = await serverSideApply(client, manifest, { fieldManager: 'gitops' });
  assert.equal(unchanged.result, 'unchanged');
  assert.equal(unchanged.object.metadata.resourceVersion, first.object.metadata.resourceVersion);

  const changed = await serverSideApply<VirtualMachine>(client, vm('web', 'ssa', { vcpus: 3 }), { fieldManager: 'gitops' });
  assert.equal(changed.result, 'configured');
  assert.equal(changed.object.spec.resources.vcpus, 3);
  assert.equal(changed.object.metadata.labels, undefined, 'the label the manager no longer applies is gone');
});

test('a conflict with another manager is an ApiError 409 with a cause per field; force takes the fields over', async () => {
  const { client } = cluster;
  await serverSideApply(client, vm('shared', 'ssa', { vcpus: 1 }), { fieldManager: 'team-a' });
  const err = await rejection(serverSideApply(client, vm('shared', 'ssa', { vcpus: 2 }), { fieldManager: 'gitops' }));
  assert.equal(err.code, 409);
  assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "team-a": .spec.resources.vcpus');
  assert.deepEqual(err.details?.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "team-a"', field: '.spec.resources.vcpus' }]);
  const forced = await serverSideApply<VirtualMachine>(client, vm('shared', 'ssa', { vcpus: 2 }), { fieldManager: 'gitops', force: true });
  assert.equal(forced.result, 'configured');
  assert.equal(forced.object.spec.resources.vcpus, 2);
});

test('dryRun answers what would be stored and stores nothing; the namespace option fills in a manifest without one', async () => {
  const { client } = cluster;
  const manifest = { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'dry' }, spec: { resources: { vcpus: 2 } } };
  const dry = await serverSideApply(client, manifest, { fieldManager: 'gitops', namespace: 'ssa', dryRun: true });
  assert.equal(dry.result, 'created');
  assert.equal(dry.object.metadata.namespace, 'ssa');
  assert.equal((await rejection(client.get('vm', 'dry', { namespace: 'ssa' }))).code, 404);
});

test('a manifest without a name or kind is refused before anything is sent; the server refuses a bad one with its field', async () => {
  const { client } = cluster;
  await assert.rejects(
    serverSideApply(client, { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: {} }, { fieldManager: 'x' }),
    ManifestError,
  );
  await assert.rejects(serverSideApply(client, { metadata: { name: 'x' } } as never, { fieldManager: 'x' }), ManifestError);
  const bad = await rejection(serverSideApply(client, vm('bad', 'ssa', { vcpus: 0 }), { fieldManager: 'gitops' }));
  assert.equal(bad.code, 422);
  assert.equal(bad.details?.causes?.[0]?.field, 'spec.resources.vcpus');
});

test("client.patch with type 'apply' and a status subresource", async () => {
  const { client } = cluster;
  await serverSideApply(client, vm('stat', 'ssa'), { fieldManager: 'gitops' });
  const status = { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'stat' }, status: { phase: 'Running' } };
  const patched = await client.patch<VirtualMachine>('vm', 'stat', status, {
    type: 'apply',
    status: true,
    namespace: 'ssa',
    fieldManager: 'agent',
    force: true,
  });
  assert.equal(patched.status?.phase, 'Running');
  const entry = patched.metadata.managedFields?.find((e) => e.manager === 'agent');
  assert.deepEqual([entry?.operation, entry?.subresource], ['Apply', 'status']);
});
