/** DeleteOptions bodies: what is read, and what is refused before anything is deleted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@shoal/api';
import { parseDeleteOptions } from './delete-options.js';

const refused = (body: unknown) => {
  try {
    parseDeleteOptions(body);
  } catch (err) {
    assert.ok(err instanceof ApiError);
    return { code: err.code, fields: (err.details?.causes ?? []).map((c) => c.field) };
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
};

test('well-formed DeleteOptions are read', () => {
  assert.deepEqual(parseDeleteOptions(undefined), { dryRun: false });
  assert.deepEqual(parseDeleteOptions({}), { preconditions: undefined, dryRun: false });
  assert.deepEqual(
    parseDeleteOptions({
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      dryRun: ['All'],
      preconditions: { uid: 'u', resourceVersion: '5' },
      propagationPolicy: 'Background',
      gracePeriodSeconds: 0,
    }),
    {
      preconditions: { uid: 'u', resourceVersion: '5' },
      dryRun: true,
    },
  );
});

test('a body that is not DeleteOptions is 400; a wrong field is 422 naming it', () => {
  for (const body of ['x', 5, [], { kind: 'Pod' }, { apiVersion: 5 }]) assert.equal(refused(body).code, 400, JSON.stringify(body));
  assert.deepEqual(refused({ preconditions: 'x' }), { code: 422, fields: ['preconditions'] });
  assert.deepEqual(refused({ preconditions: [] }), { code: 422, fields: ['preconditions'] });
  assert.deepEqual(refused({ preconditions: { uid: 5 } }), { code: 422, fields: ['preconditions.uid'] });
  assert.deepEqual(refused({ preconditions: { resourceVersion: 'abc' } }), { code: 422, fields: ['preconditions.resourceVersion'] });
  assert.deepEqual(refused({ preconditions: { resourceVersion: 5 } }), { code: 422, fields: ['preconditions.resourceVersion'] });
  assert.deepEqual(refused({ dryRun: 5 }), { code: 422, fields: ['dryRun'] });
  assert.deepEqual(refused({ dryRun: 'All' }), { code: 422, fields: ['dryRun'] });
  assert.deepEqual(refused({ dryRun: ['All', 'Bogus'] }), { code: 422, fields: ['dryRun[1]'] });
  assert.deepEqual(refused({ propagationPolicy: 'Bogus' }), { code: 422, fields: ['propagationPolicy'] });
  assert.deepEqual(refused({ gracePeriodSeconds: -1 }), { code: 422, fields: ['gracePeriodSeconds'] });
  assert.deepEqual(refused({ gracePeriodSeconds: 'x' }), { code: 422, fields: ['gracePeriodSeconds'] });
});
