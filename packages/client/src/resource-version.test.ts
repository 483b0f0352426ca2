import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareResourceVersions } from './resource-version.js';

test('resourceVersions compare as integers of any size', () => {
  assert.ok(compareResourceVersions('9', '10') < 0);
  assert.ok(compareResourceVersions('10', '9') > 0);
  assert.equal(compareResourceVersions('42', '42'), 0);
  assert.ok(compareResourceVersions('18446744073709551615', '18446744073709551614') > 0);
  assert.ok(compareResourceVersions(undefined, '1') < 0);
  assert.ok(compareResourceVersions('1', undefined) > 0);
});
