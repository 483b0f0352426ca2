import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from '@shoal/api';
import { manifestNamespace, NamespaceMismatchError } from './manifest-namespace.js';

const vm = kinds().find('vm')!;
const node = kinds().find('node')!;

test('the manifest namespace, else -n, else the default; a contradiction is refused', () => {
  assert.equal(manifestNamespace(vm, { metadata: { namespace: 'a' } }, undefined, 'default'), 'a');
  assert.equal(manifestNamespace(vm, { metadata: {} }, 'b', 'default'), 'b');
  assert.equal(manifestNamespace(vm, { metadata: {} }, undefined, 'cfg'), 'cfg');
  assert.equal(manifestNamespace(vm, { metadata: { namespace: 'a' } }, 'a', 'default'), 'a');
  assert.throws(() => manifestNamespace(vm, { metadata: { namespace: 'a' } }, 'b', 'default'), NamespaceMismatchError);
  assert.equal(manifestNamespace(node, { metadata: { namespace: 'a' } }, 'b', 'default'), undefined);
});
