import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.js';

test('durations as kubectl writes them', () => {
  assert.equal(parseDuration('60s'), 60_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('45'), 45_000);
  assert.throws(() => parseDuration('soon'), /invalid duration/);
  assert.throws(() => parseDuration('5x'), /invalid duration/);
  assert.throws(() => parseDuration(''), /invalid duration/);
});
