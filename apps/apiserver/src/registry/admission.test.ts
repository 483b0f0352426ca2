import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kinds, type KubeObject } from '@shoal/api';
import { admitCreate, admitUpdate } from './admission.js';

const vmKind = kinds().find('vm')!;
const vm = (extra: Partial<KubeObject> = {}): KubeObject =>
  ({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web' }, spec: { resources: { vcpus: 2 } }, ...extra }) as KubeObject;

function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

test('create fills server-owned metadata and schema defaults, ignoring what the client claimed', () => {
  const { object } = admitCreate(vmKind, vm({ metadata: { name: 'web', uid: 'mine', generation: 7, resourceVersion: '5' }, status: { phase: 'Running' } }), 'default', 'Strict');
  assert.notEqual(object.metadata.uid, 'mine');
  assert.match(object.metadata.uid!, /^[0-9a-f-]{36}$/);
  assert.equal(object.metadata.generation, 1);
  assert.equal(object.metadata.namespace, 'default');
  assert.equal(object.metadata.resourceVersion, undefined);
  assert.equal(object.status, undefined, 'status is written through /status only');
  assert.deepEqual((object.spec as any).resources, { vcpus: 2, memoryMiB: 256 });
  assert.equal((object.spec as any).runStrategy, 'Always');
});

test('generateName produces a name with that prefix', () => {
  const { object } = admitCreate(vmKind, vm({ metadata: { generateName: 'batch-' } }), 'default', 'Strict');
  assert.match(object.metadata.name!, /^batch-[a-z0-9]{5}$/);
});

test('invalid values are rejected with every field path', () => {
  const err = apiError(() => admitCreate(vmKind, vm({ spec: { resources: { vcpus: 0, memoryMiB: 'lots' }, runStrategy: 'Sometimes' } }), 'default', 'Strict'));
  assert.equal(err.code, 422);
  assert.equal(err.reason, 'Invalid');
  const fields = err.details!.causes!.map((c) => c.field).sort();
  assert.deepEqual(fields, ['spec.resources.memoryMiB', 'spec.resources.vcpus', 'spec.runStrategy']);
});

test('unknown fields: Strict rejects, Warn warns and drops, Ignore drops', () => {
  const body = () => vm({ spec: { resources: { vcpus: 1 }, gpus: 2 } });
  const strict = apiError(() => admitCreate(vmKind, body(), 'default', 'Strict'));
  assert.equal(strict.code, 400);
  assert.match(strict.message, /unknown field "spec.gpus"/);
  const warned = admitCreate(vmKind, body(), 'default', 'Warn');
  assert.deepEqual(warned.warnings, ['unknown field "spec.gpus"']);
  assert.equal((warned.object.spec as any).gpus, undefined);
  assert.equal((admitCreate(vmKind, body(), 'default', 'Ignore').object.spec as any).gpus, undefined);
});

test('a name is required, and the namespace must match the URL', () => {
  assert.equal(apiError(() => admitCreate(vmKind, vm({ metadata: {} }), 'default', 'Strict')).details!.causes![0]!.field, 'metadata.name');
  assert.equal(apiError(() => admitCreate(vmKind, vm({ metadata: { name: 'a', namespace: 'other' } }), 'default', 'Strict')).code, 400);
  assert.equal(apiError(() => admitCreate(vmKind, vm({ metadata: { name: '../etc' } }), 'default', 'Strict')).code, 422);
});

test('update bumps generation on spec changes only, and keeps status and identity', () => {
  const current = admitCreate(vmKind, vm(), 'default', 'Strict').object;
  current.metadata.resourceVersion = '10';
  current.status = { phase: 'Running' };
  const relabelled = admitUpdate({ kind: vmKind, namespace: 'default', name: 'web', current, fieldValidation: 'Strict', body: { ...structuredClone(current), metadata: { ...current.metadata, labels: { a: 'b' } } } });
  assert.equal(relabelled.object.metadata.generation, 1);
  const resized = admitUpdate({
    kind: vmKind,
    namespace: 'default',
    name: 'web',
    current,
    fieldValidation: 'Strict',
    body: { ...structuredClone(current), metadata: { ...current.metadata, uid: undefined, creationTimestamp: 'x' }, spec: { resources: { vcpus: 4 } }, status: { phase: 'Failed' } },
  });
  assert.equal(resized.object.metadata.generation, 2);
  assert.deepEqual(resized.object.status, { phase: 'Running' }, 'status is not changed through the main resource');
  assert.equal(resized.object.metadata.uid, current.metadata.uid);
  assert.equal(resized.object.metadata.creationTimestamp, current.metadata.creationTimestamp);
});

test('the status subresource changes status only', () => {
  const current = admitCreate(vmKind, vm(), 'default', 'Strict').object;
  const { object } = admitUpdate({
    kind: vmKind,
    namespace: 'default',
    name: 'web',
    current,
    subresource: 'status',
    fieldValidation: 'Strict',
    body: { ...structuredClone(current), spec: { resources: { vcpus: 8 } }, status: { phase: 'Running', restarts: 1 } },
  });
  assert.deepEqual(object.status, { phase: 'Running', restarts: 1 });
  assert.equal((object.spec as any).resources.vcpus, 2);
  assert.equal(object.metadata.generation, 1);
});

test('no finalizer may be added to an object being deleted', () => {
  const current = admitCreate(vmKind, vm({ metadata: { name: 'web', finalizers: ['a/b'] } }), 'default', 'Strict').object;
  current.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  const err = apiError(() =>
    admitUpdate({ kind: vmKind, namespace: 'default', name: 'web', current, fieldValidation: 'Strict', body: { ...structuredClone(current), metadata: { ...current.metadata, finalizers: ['a/b', 'c/d'] } } }),
  );
  assert.equal(err.code, 422);
  assert.equal(err.details!.causes![0]!.field, 'metadata.finalizers');
});
