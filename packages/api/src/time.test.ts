import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timestamp } from './time.js';

test('timestamps are RFC 3339 in UTC to the second, whatever was asked before', () => {
  assert.equal(timestamp(new Date('2026-12-02T19:35:09.999Z')), '2026-12-02T19:35:09Z');
  assert.equal(timestamp(Date.parse('2026-12-02T19:35:09.001Z')), '2026-12-02T19:35:09Z');
  assert.equal(timestamp(Date.parse('2026-12-02T19:35:10.000Z')), '2026-12-02T19:35:10Z');
  assert.equal(timestamp(new Date('2026-12-02T19:35:09.500Z')), '2026-12-02T19:35:09Z', 'an earlier second after a later one');
  assert.equal(timestamp(new Date('1969-12-31T23:59:59.500Z')), '1969-12-31T23:59:59Z', 'before the epoch, down to the second below');
  assert.match(timestamp(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.throws(() => timestamp(new Date('not a date')), RangeError);
});
