/** What tests read of how a process was started. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLine, nodeFlagsBefore } from './command-line.js';

test("a process's argv from /proc, and the flags node got before a command's script", async () => {
  assert.deepEqual(await commandLine(process.pid), [process.argv0, ...process.execArgv, ...process.argv.slice(1)]);
  const argv = ['/usr/bin/node', '--max-semi-space-size=64', '/repo/bin/shoal-controller-manager.js', '--port', '0'];
  assert.deepEqual(nodeFlagsBefore(argv, 'shoal-controller-manager'), ['--max-semi-space-size=64']);
  assert.deepEqual(nodeFlagsBefore(['/usr/bin/node', '/repo/bin/shoal-agent.js'], 'shoal-agent'), []);
  assert.equal(nodeFlagsBefore(argv, 'shoal-agent'), undefined, 'not that command');
});
