import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from './audit-chain.js';
import { jsonEqual } from './json-equal.js';

/** Pairs that make the two answers differ if any rule is wrong: key order, undefined members and items, types, lengths. */
const pairs: [unknown, unknown][] = [
  [
    { a: 1, b: [1, 2] },
    { b: [1, 2], a: 1 },
  ],
  [{ a: 1, b: undefined }, { a: 1 }],
  [{ a: null }, {}],
  [{ a: null }, { a: undefined }],
  [[undefined], [null]],
  [
    [1, 2],
    [2, 1],
  ],
  [[1], [1, 1]],
  [{ a: '1' }, { a: 1 }],
  [{ a: {} }, { a: [] }],
  [{ a: { b: { c: 'x' } } }, { a: { b: { c: 'y' } } }],
  [{ a: { b: { c: 'x' } } }, { a: { b: { c: 'x' } } }],
  [0, false],
  [null, undefined],
  ['', ''],
  [
    { status: { phase: 'Running' }, spec: { vcpus: 1 } },
    { spec: { vcpus: 1 }, status: { phase: 'Pending' } },
  ],
  [JSON.parse('{"__proto__":{"x":1}}'), {}],
];

test('jsonEqual answers as comparing canonical JSON does', () => {
  for (const [a, b] of pairs) {
    const expected = canonicalJson(a) === canonicalJson(b);
    assert.equal(jsonEqual(a, b), expected, `${canonicalJson(a)} vs ${canonicalJson(b)}`);
    assert.equal(jsonEqual(b, a), expected, `${canonicalJson(b)} vs ${canonicalJson(a)}`);
  }
});
