/** JSON merge patch (RFC 7386), including keys that are special to JavaScript objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMergePatch, type Json } from './merge-patch.js';

test('objects merge, null deletes, the rest replaces', () => {
  assert.deepEqual(applyMergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { b: { c: null, x: 1 }, e: [2] }), { a: 1, b: { d: 3, x: 1 }, e: [2] });
});

test('a "__proto__" key stays data: it neither changes the prototype nor hides from validation', () => {
  const patch = JSON.parse('{"spec":{"__proto__":{"runStrategy":"Halted"}}}') as Json;
  const out = applyMergePatch({ spec: { runStrategy: 'Always' } }, patch) as { spec: Record<string, unknown> };
  assert.equal(Object.getPrototypeOf(out.spec), Object.prototype);
  assert.equal(out.spec.runStrategy, 'Always');
  assert.ok(Object.hasOwn(out.spec, '__proto__'), 'an own property a schema sees as an unknown field');
  assert.deepEqual(Object.keys(out.spec).sort(), ['__proto__', 'runStrategy']);
});
