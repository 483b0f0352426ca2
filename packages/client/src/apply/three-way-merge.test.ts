import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMergePatch, threeWayMergePatch, type JsonObject } from './three-way-merge.js';

const vm = (spec: JsonObject, metadata: JsonObject = {}): JsonObject => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name: 'web', ...metadata },
  spec,
});

test('first apply over an object created elsewhere only sets the manifest fields', () => {
  const current = { ...vm({ resources: { vcpus: 1, memoryMiB: 256 }, nodeName: 'n1' }), status: { phase: 'Running' } };
  const patch = threeWayMergePatch(undefined, vm({ resources: { vcpus: 2 } }), current);
  assert.deepEqual(patch, { spec: { resources: { vcpus: 2 } } });
});

test('a field removed from the manifest since the last apply is deleted', () => {
  const original = vm({ resources: { vcpus: 2 }, cmdline: 'quiet' });
  const current = vm({ resources: { vcpus: 2, memoryMiB: 256 }, cmdline: 'quiet' });
  const patch = threeWayMergePatch(original, vm({ resources: { vcpus: 2 } }), current);
  assert.deepEqual(patch, { spec: { cmdline: null } });
});

test('fields other writers own are left alone', () => {
  const original = vm({ resources: { vcpus: 2 } }, { labels: { app: 'web' } });
  const modified = vm({ resources: { vcpus: 4 } }, { labels: { app: 'web' } });
  const current = {
    ...vm(
      { resources: { vcpus: 2, memoryMiB: 256 }, nodeName: 'n1', runStrategy: 'Always' },
      { labels: { app: 'web', team: 'ops' }, uid: 'u1', resourceVersion: '7' },
    ),
    status: { phase: 'Running' },
  };
  const patch = threeWayMergePatch(original, modified, current);
  assert.deepEqual(patch, { spec: { resources: { vcpus: 4 } } });
  const after = applyMergePatch(current, patch) as JsonObject;
  assert.deepEqual((after.metadata as JsonObject).labels, { app: 'web', team: 'ops' });
  assert.equal((after.spec as JsonObject).nodeName, 'n1');
  assert.deepEqual(after.status, { phase: 'Running' });
});

test('a removed field someone else already deleted is not patched', () => {
  const original = vm({ cmdline: 'quiet' });
  assert.deepEqual(threeWayMergePatch(original, vm({}), vm({})), {});
});

test('a field the manifest sets back to its applied value overrides another writer', () => {
  const original = vm({ runStrategy: 'Always' });
  const current = vm({ runStrategy: 'Halted' });
  assert.deepEqual(threeWayMergePatch(original, vm({ runStrategy: 'Always' }), current), { spec: { runStrategy: 'Always' } });
});

test('arrays are replaced whole, and only when they differ', () => {
  const original = vm({ command: ['a', 'b'] });
  assert.deepEqual(threeWayMergePatch(original, vm({ command: ['a', 'b'] }), vm({ command: ['a', 'b'] })), {});
  assert.deepEqual(threeWayMergePatch(original, vm({ command: ['a'] }), vm({ command: ['a', 'b'] })), { spec: { command: ['a'] } });
});

test('an explicit null in the manifest deletes the live field', () => {
  assert.deepEqual(threeWayMergePatch(undefined, vm({ cmdline: null }), vm({ cmdline: 'x' })), { spec: { cmdline: null } });
  assert.deepEqual(threeWayMergePatch(undefined, vm({ cmdline: null }), vm({})), {});
});

test('an object replacing a scalar (or a missing field) is sent whole', () => {
  assert.deepEqual(threeWayMergePatch(undefined, vm({ network: { mode: 'none' } }), vm({})), { spec: { network: { mode: 'none' } } });
});

test('a removed nested object is deleted as a whole', () => {
  const original = vm({ rootDisk: { baseImage: '/a.qcow2' } });
  assert.deepEqual(threeWayMergePatch(original, vm({}), vm({ rootDisk: { baseImage: '/a.qcow2' } })), { spec: { rootDisk: null } });
});

test('an identical manifest gives an empty patch', () => {
  const m = vm({ resources: { vcpus: 2 } }, { labels: { a: 'b' } });
  const current = { ...vm({ resources: { vcpus: 2, memoryMiB: 256 } }, { labels: { a: 'b' }, resourceVersion: '9' }), status: {} };
  assert.deepEqual(threeWayMergePatch(m, m, current), {});
});

test('applyMergePatch follows RFC 7386', () => {
  assert.deepEqual(applyMergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } }), { a: 'z', c: { d: 'e' } });
  assert.deepEqual(applyMergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
  assert.deepEqual(applyMergePatch({ a: 'b' }, { b: { c: null } }), { a: 'b', b: {} });
});
