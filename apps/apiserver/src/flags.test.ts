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
