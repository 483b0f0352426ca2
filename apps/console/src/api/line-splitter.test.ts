/** Watch lines out of a body that arrives in arbitrary pieces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from './line-splitter.js';

test('a line cut between chunks comes out whole, once it ends; empty lines are skipped', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"type":"ADDED"'), []);
  assert.deepEqual(s.push(',"object":{}}\n{"type":"MOD'), ['{"type":"ADDED","object":{}}']);
  assert.deepEqual(s.push('IFIED"}\n\n{"type":"DELETED"}\n'), ['{"type":"MODIFIED"}', '{"type":"DELETED"}']);
  assert.deepEqual(s.push(''), []);
});
