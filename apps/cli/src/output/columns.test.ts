import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatColumns } from './columns.js';

test('columns align with three spaces and no trailing blanks', () => {
  const out = formatColumns([
    ['NAME', 'PHASE', 'AGE'],
    ['web-frontend', 'Running', '5s'],
    ['db', '<none>', '10m'],
  ]);
  assert.equal(out, 'NAME           PHASE     AGE\nweb-frontend   Running   5s\ndb             <none>    10m\n');
});
