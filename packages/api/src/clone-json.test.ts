import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneJson } from './clone-json.js';

test('cloneJson: an equal copy sharing nothing with the original', () => {
  const original = { metadata: { name: 'a', labels: { x: '1' } }, spec: { list: [{ n: 1 }, 'two', null, true, 3.5] }, status: {} };
  const copy = cloneJson(original);
  assert.deepStrictEqual(copy, original);
  copy.metadata.labels.x = '2';
  (copy.spec.list[0] as { n: number }).n = 9;
  assert.equal(original.metadata.labels.x, '1');
  assert.deepEqual(original.spec.list[0], { n: 1 });
  assert.deepStrictEqual(cloneJson(original), structuredClone(original));
});

test('cloneJson: a "__proto__" member stays data and never becomes the prototype', () => {
  const parsed = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
  const copy = cloneJson(parsed);
  assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  assert.equal((copy as { polluted?: boolean }).polluted, undefined);
  assert.deepEqual(Object.keys(copy), ['__proto__', 'a']);
  assert.equal(JSON.stringify(copy), JSON.stringify(parsed));
});
