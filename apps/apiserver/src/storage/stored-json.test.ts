import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import { StoredForm } from './stored-form.js';
import { metadataEnd, withResourceVersionAt } from './stored-json.js';
import { answerJson, decode } from './stored-value.js';

/** Objects whose JSON has what could trip a scan: braces, quotes and backslashes in strings, metadata late or empty. */
const objects: KubeObject[] = [
  { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'a', namespace: 'default', labels: { 'x/y': 'z' } }, spec: { vcpus: 1 } },
  { spec: { template: { metadata: { name: 'not-this-one' } }, text: '}{"metadata":{' }, metadata: { name: 'spec-first' } },
  { kind: 'K', metadata: {} },
  { apiVersion: 'v', metadata: { name: 'ünïcödé ☃ \u2028', annotations: { 'a"b': 'c\\d', e: '\\', 'f\\"': '"}' } }, status: { ok: true } },
  {
    kind: 'K',
    list: [1, [2, { a: null }], 'x]'],
    n: -1.5e-7,
    t: true,
    metadata: { name: 'after-arrays', managedFields: [{ fieldsV1: { 'f:spec': {} } }] },
  } as KubeObject,
];

test('the answer written from stored JSON is the one StoredForm writes from the object', () => {
  for (const obj of objects) {
    const form = StoredForm.of(obj);
    const end = metadataEnd(form.value);
    assert.ok(end > 0, `metadata found in ${form.value}`);
    assert.equal(withResourceVersionAt(form.value, end, 42), form.withResourceVersion(42));
  }
});

test('JSON without a metadata object, or not compact, is not scanned but serialised from the object', () => {
  for (const json of ['{"kind":"K"}', '{"metadata":"x"}', '{"metadata":[]}', '{ "metadata": {} }', '[]', '{"a":"unterminated', '{"a":{"b":1}']) {
    assert.equal(metadataEnd(json), -1, json);
  }
  const stored = decode({ key: Buffer.from('k'), value: Buffer.from('{ "kind": "K", "metadata": { "name": "spaced" } }'), mod_revision: '9' } as never);
  assert.deepEqual(JSON.parse(answerJson(stored)), { kind: 'K', metadata: { name: 'spaced', resourceVersion: '9' } });
});

test('an object read from etcd answers with its resourceVersion and nothing else changed', () => {
  for (const obj of objects) {
    const stored = decode({ key: Buffer.from('k'), value: Buffer.from(StoredForm.of(obj).value), mod_revision: '77' } as never);
    assert.deepEqual(JSON.parse(answerJson(stored)), { ...obj, metadata: { ...obj.metadata, resourceVersion: '77' } });
  }
});

test("a deletion's answer is the last object at the deletion's revision, from stored JSON or not", () => {
  for (const json of [StoredForm.of(objects[0]!).value, '{ "kind": "K", "metadata": { "name": "spaced" } }']) {
    const stored = decode({ key: Buffer.from('k'), value: Buffer.from(json), mod_revision: '5' } as never);
    const answer = JSON.parse(answerJson(stored, 8));
    assert.equal(answer.metadata.resourceVersion, '8');
    assert.deepEqual({ ...answer, metadata: { ...answer.metadata, resourceVersion: '5' } }, stored.object);
    assert.equal(stored.object.metadata.resourceVersion, '5', 'the stored object is left as it was');
  }
});
