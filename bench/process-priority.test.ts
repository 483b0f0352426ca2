/** reniceProcess lowers every thread of a running process, not only the one whose id is its pid. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { getPriority } from 'node:os';
import { reniceProcess } from './process-priority.js';

/** The nice value of each thread of `pid`, from field 19 of /proc/<pid>/task/<tid>/stat. */
function threadNiceness(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[16]);
  });
}

test('every thread of a Node process gets the nice value, and threads it starts later inherit it', async (t) => {
  // A worker started on "go" is a thread made after the renice.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `process.stdin.on('data', () => { new (require('node:worker_threads').Worker)('setInterval(() => {}, 1000)', { eval: true }).on('online', () => console.log('worker')); }); console.log('ready');`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const lines = child.stdout.setEncoding('utf8');
  await once(lines, 'data');
  const before = threadNiceness(child.pid!);
  assert.ok(before.length > 1, `a Node process runs several threads, saw ${before.length}`);
  // Inherited from this process until lowered.
  assert.deepEqual(
    before,
    before.map(() => getPriority()),
  );

  assert.equal(reniceProcess(child.pid!, 19), before.length);
  assert.deepEqual(
    threadNiceness(child.pid!),
    before.map(() => 19),
  );

  child.stdin.write('go\n');
  await once(lines, 'data');
  const after = threadNiceness(child.pid!);
  assert.ok(after.length > before.length, 'the worker added threads');
  assert.deepEqual(
    after,
    after.map(() => 19),
  );
});
