import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findCondition, isConditionTrue, removeCondition, setCondition } from './conditions.js';
import type { Condition } from './model/generated.js';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';

test('a new condition is appended with the time it was set', () => {
  const list = setCondition([{ type: 'Ready', status: 'True', lastTransitionTime: T0 }], { type: 'Scheduled', status: 'False', reason: 'Unschedulable' }, T1);
  assert.deepEqual(
    list.map((c) => [c.type, c.status, c.lastTransitionTime]),
    [
      ['Ready', 'True', T0],
      ['Scheduled', 'False', T1],
    ],
  );
});

test('lastTransitionTime moves only when the status changes, not for a new reason or message', () => {
  const before: Condition[] = [{ type: 'Ready', status: 'False', reason: 'Booting', message: 'a', lastTransitionTime: T0 }];
  const reworded = setCondition(before, { type: 'Ready', status: 'False', reason: 'Halted', message: 'b' }, T1);
  assert.equal(reworded[0]!.lastTransitionTime, T0);
  assert.equal(reworded[0]!.reason, 'Halted');
  const flipped = setCondition(before, { type: 'Ready', status: 'True', reason: 'Booted' }, T1);
  assert.equal(flipped[0]!.lastTransitionTime, T1);
});

test('a condition keeps its place among the others and the input is not changed', () => {
  const before: Condition[] = [
    { type: 'A', status: 'True', lastTransitionTime: T0 },
    { type: 'B', status: 'True', lastTransitionTime: T0 },
    { type: 'C', status: 'True', lastTransitionTime: T0 },
  ];
  const after = setCondition(before, { type: 'B', status: 'False' }, T1);
  assert.deepEqual(
    after.map((c) => c.type),
    ['A', 'B', 'C'],
  );
  assert.equal(before[1]!.status, 'True');
});

test('find, isTrue and remove look at one type only', () => {
  const list: Condition[] = [
    { type: 'Ready', status: 'True' },
    { type: 'Scheduled', status: 'False' },
  ];
  assert.equal(findCondition(list, 'Scheduled')?.status, 'False');
  assert.equal(findCondition(undefined, 'Ready'), undefined);
  assert.ok(isConditionTrue(list, 'Ready'));
  assert.ok(!isConditionTrue(list, 'Scheduled'));
  assert.deepEqual(removeCondition(list, 'Ready'), [{ type: 'Scheduled', status: 'False' }]);
});
