/** shoal-apiserver's flags as parsed and checked, without starting a server. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseApiserverFlags } from './flags.js';

// async: the checks throw as the flags are parsed, and a refusal should be a rejection like any other.
const parse = async (...args: string[]) =>
  parseApiserverFlags(['--etcd-servers', 'http://127.0.0.1:2379', ...args], () => {
    throw new Error('no config file in these tests');
  });

test('the watch cache sweeps unread objects every 30 s unless told otherwise; 0 turns the sweep off; a negative interval is refused', async () => {
  assert.equal((await parse())['watch-cache-compact-interval'], 30);
  assert.equal((await parse('--watch-cache-compact-interval', '0'))['watch-cache-compact-interval'], 0);
  assert.equal((await parse('--watch-cache-compact-interval', '2.5'))['watch-cache-compact-interval'], 2.5);
  await assert.rejects(parse('--watch-cache-compact-interval', '-1'), /--watch-cache-compact-interval must be 0 \(never\) or a positive number of seconds/);
  await assert.rejects(parse('--watch-cache-compact-interval', 'often'), /--watch-cache-compact-interval must be 0 \(never\) or a positive number of seconds/);
});

test('128 requests are worked on at once unless told otherwise (0: no limit), and wait for a seat 30 s at most; nonsense is refused', async () => {
  const defaults = await parse();
  assert.deepEqual([defaults['max-requests-inflight'], defaults['request-queue-timeout']], [128, 30]);
  assert.equal((await parse('--max-requests-inflight', '0'))['max-requests-inflight'], 0);
  await assert.rejects(parse('--max-requests-inflight', '-1'), /--max-requests-inflight must be 0 \(no limit\) or a whole number of requests/);
  await assert.rejects(parse('--max-requests-inflight', '2.5'), /--max-requests-inflight must be 0 \(no limit\) or a whole number/);
  await assert.rejects(parse('--request-queue-timeout', '0'), /--request-queue-timeout must be a positive number of seconds/);
});
