/** startProcess never leaves a child behind: one that is not ready in time is killed before the error. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './process-alive.js';
import { startProcess } from './process.js';

let dir: string;
/** A script that prints `lines`, then runs until it is signalled (or exits with `exitCode`). */
async function script(name: string, lines: string[], exitCode?: number): Promise<string> {
  const path = join(dir, `${name}.mjs`);
  const end = exitCode === undefined ? 'setInterval(() => {}, 1000);' : `process.exit(${exitCode});`;
  await writeFile(path, `${lines.map((l) => `console.log(${JSON.stringify(l)});`).join('\n')}\n${end}\n`);
  return path;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-start-process-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a process that never prints its ready line is SIGKILLed and gone when the error is thrown', async () => {
  const err = await startProcess(await script('silent', ['starting']), [], { ready: /ready on/, timeoutMs: 1_500 }).then(
    () => assert.fail('it should not have been ready'),
    (e: unknown) => e as Error,
  );
  assert.match(err.message, /silent\.mjs \(pid \d+\) not ready after 1500 ms:\nstarting\n/);
  const pid = Number(/\(pid (\d+)\)/.exec(err.message)![1]);
  assert.equal(processAlive(pid), false, `pid ${pid} was left running`);
});

test('a process that exits before it is ready is an error with its output', async () => {
  await assert.rejects(
    startProcess(await script('quits', ['bad flag'], 0), [], { ready: /ready on/ }),
    /quits\.mjs exited \(0\) before it was ready:\nbad flag/,
  );
  await assert.rejects(startProcess(await script('fails', ['no etcd'], 3), [], { ready: /ready on/ }), /fails\.mjs exited \(3\) before it was ready:\nno etcd/);
});

test('a ready process runs until stopped', async () => {
  const p = await startProcess(await script('fine', ['warming up', 'fine ready on http://127.0.0.1:1']), [], { ready: /ready on/ });
  assert.equal(p.readyLine, 'fine ready on http://127.0.0.1:1');
  assert.equal(processAlive(p.pid), true);
  await p.stop();
  assert.equal(processAlive(p.pid), false);
  assert.deepEqual(await p.exited, { exitCode: undefined, signal: 'SIGTERM' });
});

test('nodeOptions reach node itself, before the script', async () => {
  const path = join(dir, 'young-generation.mjs');
  // V8 takes the semi-space size at start only; what the process reports is what node was given.
  await writeFile(path, `console.log('semi ' + process.execArgv.join(' ') + ' ready on x');\nsetInterval(() => {}, 1000);\n`);
  const p = await startProcess(path, ['--not-for-node'], { ready: /ready on/, nodeOptions: ['--max-semi-space-size=32'] });
  try {
    assert.equal(p.readyLine, 'semi --max-semi-space-size=32 ready on x');
  } finally {
    await p.stop();
  }
});
