import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, humanDuration } from './human-duration.js';

test('ages read like kubectl', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const cases: [number, string][] = [
    [0, '0s'],
    [-500, '0s'],
    [-5 * s, '<invalid>'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [5 * m + 30 * s, '5m30s'],
    [45 * m, '45m'],
    [3 * h, '3h'],
    [3 * h + 20 * m, '3h20m'],
    [30 * h, '30h'],
    [3 * d + 4 * h, '3d4h'],
    [100 * d, '100d'],
    [3 * 365 * d + 10 * d, '3y10d'],
    [9 * 365 * d, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  assert.equal(age('2024-01-01T00:00:00Z', Date.parse('2024-01-01T00:01:00Z')), '60s');
  assert.equal(age(undefined), '<unknown>');
});
