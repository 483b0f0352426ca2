/** Binding bodies, checked by schemas/options/binding.json: what is read, what is a 400 and what a 422. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, kinds } from '@shoal/api';
import { parseBinding } from './binding.js';

const vmKind = kinds().find('vm')!;
const parse = (body: unknown) => parseBinding(vmKind, 'default', 'web', body);

const refused = (body: unknown) => {
  try {
    parse(body);
  } catch (err) {
    assert.ok(err instanceof ApiError);
    return { code: err.code, fields: (err.details?.causes ?? []).map((c) => c.field) };
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
};

test('a well-formed Binding is read as it is', () => {
  const body = {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Binding',
    metadata: { name: 'web', namespace: 'default', resourceVersion: '7', labels: { a: 'b' } },
    target: { name: 'n1', kind: 'Node' },
  };
  assert.deepEqual(parse(structuredClone(body)), body);
  assert.deepEqual(parse({ target: { name: 'node-1.rack-2' } }), { target: { name: 'node-1.rack-2' } });
  assert.deepEqual(parse({ metadata: null, target: { name: 'n1' } }), { metadata: null, target: { name: 'n1' } });
});

test('not a Binding of this VM is 400: the shape, kind, apiVersion, undeclared fields, another name or namespace', () => {
  for (const body of [undefined, null, 'x', 5, [], { kind: 'VirtualMachine', target: { name: 'n1' } }, { apiVersion: 'v1', target: { name: 'n1' } }])
    assert.equal(refused(body).code, 400, JSON.stringify(body));
  assert.deepEqual(refused({ target: { name: 'n1' }, spec: {} }), { code: 400, fields: ['spec'] });
  assert.deepEqual(refused({ target: { name: 'n1', uid: 'x' } }), { code: 400, fields: ['target.uid'] });
  assert.deepEqual(refused({ metadata: { name: 'other' }, target: { name: 'n1' } }), { code: 400, fields: ['metadata.name'] });
  assert.deepEqual(refused({ metadata: { name: 5 }, target: { name: 'n1' } }), { code: 400, fields: ['metadata.name'] });
  assert.deepEqual(refused({ metadata: { namespace: 'elsewhere' }, target: { name: 'n1' } }), { code: 400, fields: ['metadata.namespace'] });
});

test('a bad value is 422 naming its field', () => {
  assert.deepEqual(refused({}), { code: 422, fields: ['target'] });
  assert.deepEqual(refused({ target: 'n1' }), { code: 422, fields: ['target'] });
  assert.deepEqual(refused({ target: {} }), { code: 422, fields: ['target.name'] });
  for (const name of ['', 'Not_A_Node', 'x'.repeat(254), 5])
    assert.deepEqual([...new Set(refused({ target: { name } }).fields)], ['target.name'], JSON.stringify(name));
  assert.deepEqual(refused({ target: { name: 'n1', kind: 'Pod' } }), { code: 422, fields: ['target.kind'] });
  assert.deepEqual(refused({ metadata: { resourceVersion: 7 }, target: { name: 'n1' } }), { code: 422, fields: ['metadata.resourceVersion'] });
  assert.deepEqual(refused({ metadata: 'web', target: { name: 'n1' } }), { code: 422, fields: ['metadata'] });
});
