import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuQuantity, memoryQuantity, parseQuantity, windowDuration } from './usage-metrics.js';

test('usage goes out in the units metrics-server uses and reads back to the same figures', () => {
  assert.equal(cpuQuantity(0.25), '250000000n');
  assert.equal(memoryQuantity(180 * 1024 ** 2), '184320Ki');
  assert.equal(parseQuantity(cpuQuantity(1.5)), 1.5);
  assert.equal(parseQuantity(memoryQuantity(64 * 1024 ** 2)), 64 * 1024 ** 2);
  assert.deepEqual(['250m', '2', '1.5Gi', '100Mi', '1e3', '10k', '500u'].map(parseQuantity), [0.25, 2, 1.5 * 1024 ** 3, 100 * 1024 ** 2, 1000, 10_000, 0.0005]);
  assert.equal(windowDuration(10), '10s');
  assert.equal(windowDuration(1.23456), '1.235s');
});

test('a quantity that is not one is refused by name', () => {
  for (const bad of ['', 'm', '1 m', '12Xi', 'ten']) assert.throws(() => parseQuantity(bad), /not a quantity/, bad);
});
