import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@shoal/api';
import { isConnectionError, isNeverConnectedError } from './connection-errors.js';
import { shouldRetry } from './transport.js';

const withCode = (code: string) => Object.assign(new Error(code), { code });

test('refused connections are safe to retry for writes, resets are not', () => {
  assert.ok(isNeverConnectedError(withCode('ECONNREFUSED')));
  assert.ok(isNeverConnectedError(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')])));
  assert.ok(!isNeverConnectedError(withCode('ECONNRESET')));
  assert.ok(!isNeverConnectedError(withCode('UND_ERR_SOCKET')));
  assert.ok(isConnectionError(withCode('UND_ERR_SOCKET')));
  assert.ok(isConnectionError(new Error('wrapped', { cause: withCode('ECONNRESET') })));
  assert.ok(!isConnectionError(new Error('plain')));
});

test('the retry policy per mode', () => {
  assert.ok(shouldRetry(withCode('ECONNRESET'), 'read'));
  assert.ok(!shouldRetry(withCode('ECONNRESET'), 'write'));
  assert.ok(shouldRetry(withCode('ECONNREFUSED'), 'write'));
  assert.ok(!shouldRetry(withCode('ECONNREFUSED'), 'none'));
  assert.ok(shouldRetry(new ApiError(503, 'ServiceUnavailable', 'x'), 'read'));
  assert.ok(shouldRetry(new ApiError(429, 'TooManyRequests', 'x'), 'read'));
  assert.ok(shouldRetry(new ApiError(429, 'TooManyRequests', 'x'), 'write'), 'a 429 is answered before the request is worked on');
  assert.ok(!shouldRetry(new ApiError(429, 'TooManyRequests', 'x'), 'none'));
  assert.ok(!shouldRetry(new ApiError(503, 'ServiceUnavailable', 'x'), 'write'), 'a 5xx write may have been committed');
  assert.ok(!shouldRetry(new ApiError(404, 'NotFound', 'x'), 'read'));
});
