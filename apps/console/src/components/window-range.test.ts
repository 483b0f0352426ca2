/** The rows a virtualised list draws, on numbers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { windowRange } from './window-range.js';

test('at the top: the rows in view and the overscan below', () => {
  assert.deepEqual(windowRange({ scrollTop: 0, viewportHeight: 300, rowHeight: 30, rowCount: 10_000, overscan: 5 }), { start: 0, end: 16 });
});

test('scrolled into the middle: a window around the rows in view, whatever the list length', () => {
  assert.deepEqual(windowRange({ scrollTop: 30_000, viewportHeight: 300, rowHeight: 30, rowCount: 10_000, overscan: 5 }), { start: 995, end: 1016 });
});

test('at the end: the last rows, never past the list', () => {
  const r = windowRange({ scrollTop: 299_700, viewportHeight: 300, rowHeight: 30, rowCount: 10_000, overscan: 5 });
  assert.equal(r.end, 10_000);
  assert.ok(r.start <= 9_990 && r.start >= 9_980, `start ${r.start}`);
  // Scrolled further than the rows reach (the list just shrank): still the last rows, not nothing.
  const shrunk = windowRange({ scrollTop: 299_700, viewportHeight: 300, rowHeight: 30, rowCount: 50, overscan: 5 });
  assert.deepEqual(shrunk, { start: 44, end: 50 });
});

test('no rows, no window', () => {
  assert.deepEqual(windowRange({ scrollTop: 0, viewportHeight: 300, rowHeight: 30, rowCount: 0 }), { start: 0, end: 0 });
});
