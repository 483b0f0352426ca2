import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import { StoredForm } from './stored-form.js';

const objects: KubeObject[] = [
  {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'a', namespace: 'default', labels: { 'x/y': 'z' } },
    spec: { command: ['sh', '-c', 'echo "hi"\n'] },
  },
  { metadata: { name: 'rv-in-the-middle', resourceVersion: '7', uid: 'u' }, spec: {}, status: { phase: 'Running' } },
  { spec: { a: 1 }, metadata: {}, kind: 'Node' },
  { metadata: { resourceVersion: '3' } },
  { apiVersion: 'v', metadata: { name: 'ünïcödé ☃ \u2028', annotations: { 'a"b': 'c\\d' } }, spec: { n: 1.5e-7, big: 2 ** 60, nil: null, skipped: undefined } },
  { apiVersion: 'v', kind: 'K', metadata: { name: 'x' }, extra: undefined } as KubeObject,
];

test('the stored form is JSON.stringify of the object without its resourceVersion', () => {
  for (const obj of objects) {
    const { resourceVersion: _, ...metadata } = obj.metadata;
    assert.equal(StoredForm.of(obj).value, JSON.stringify({ ...obj, metadata }));
  }
});

test('the answer is the stored form with the resourceVersion last in metadata, parsing to the object', () => {
  for (const obj of objects) {
    const answer = StoredForm.of(obj).withResourceVersion(1234);
    const { resourceVersion: _, ...metadata } = obj.metadata;
    assert.equal(answer, JSON.stringify({ ...obj, metadata: { ...metadata, resourceVersion: '1234' } }));
    assert.equal(JSON.parse(answer).metadata.resourceVersion, '1234');
  }
});

test('bytes counts UTF-8, as etcd does', () => {
  const form = StoredForm.of({ metadata: { name: '☃' } });
  assert.equal(form.bytes, Buffer.byteLength(form.value));
  assert.notEqual(form.bytes, form.value.length);
});
