import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiErrorFromResponse } from './api-errors.js';

test('a Status body becomes its ApiError', () => {
  const err = apiErrorFromResponse(
    404,
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      reason: 'NotFound',
      code: 404,
      message: 'virtualmachines.shoal.dev "x" not found',
    }),
  );
  assert.equal(err.code, 404);
  assert.equal(err.reason, 'NotFound');
  assert.equal(err.message, 'virtualmachines.shoal.dev "x" not found');
});

test('anything else becomes a synthetic error with the reason its code implies', () => {
  const err = apiErrorFromResponse(503, '<html>Bad gateway</html>');
  assert.equal(err.reason, 'ServiceUnavailable');
  assert.ok(err.retryable);
  assert.match(err.message, /503.*Bad gateway/);
  assert.equal(apiErrorFromResponse(409, '').reason, 'Conflict');
});
