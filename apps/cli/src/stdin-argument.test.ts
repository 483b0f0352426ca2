import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinStdinFileArgs } from './stdin-argument.js';

test('-f - and --filename - become --filename=-, other arguments stay', () => {
  assert.deepEqual(joinStdinFileArgs(['apply', '-f', '-']), ['apply', '--filename=-']);
  assert.deepEqual(joinStdinFileArgs(['apply', '--filename', '-', '-f', 'x.yaml']), ['apply', '--filename=-', '-f', 'x.yaml']);
  assert.deepEqual(joinStdinFileArgs(['get', 'vm', '--', '-f', '-']), ['get', 'vm', '--', '-f', '-']);
});
