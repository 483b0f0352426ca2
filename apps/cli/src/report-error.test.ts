import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@shoal/api';
import { ExitError, UsageError } from './cli-errors.js';
import { reportError } from './report-error.js';

test('errors map to what the user reads and the exit code', () => {
  assert.deepEqual(reportError(new ApiError(404, 'NotFound', 'virtualmachines.shoal.dev "x" not found')), {
    message: 'Error from server (NotFound): virtualmachines.shoal.dev "x" not found',
    exitCode: 1,
  });
  assert.equal(reportError(new UsageError('bad')).exitCode, 2);
  assert.deepEqual(reportError(new ExitError(1)), { message: '', exitCode: 1 });
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  assert.match(reportError(refused).message, /cannot reach the API server/);
  assert.deepEqual(reportError(new Error('boom')), { message: 'error: boom', exitCode: 1 });
});
