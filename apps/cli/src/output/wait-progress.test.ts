import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@shoal/testing';
import { defaultTerminalLine, waitWithProgress, WaitTimeoutError, type ProgressStream } from './wait-progress.js';

/** What a stream was given: a pure stand-in for stderr, a terminal or not. */
function stream(isTTY: boolean, columns?: number): ProgressStream & { text: string } {
  return {
    isTTY,
    columns,
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
}

test('off a terminal: a plain line per phase change, none for figures that move within a phase', async () => {
  const out = stream(false);
  const stdout = stream(false);
  const result = await waitWithProgress({ subject: 'backup web-1', out }, async (progress) => {
    progress.update({ phase: 'New' });
    progress.update({ phase: 'InProgress', detail: '0 B of 40.0 MiB', fraction: 0 });
    progress.update({ phase: 'InProgress', detail: '12.0 MiB of 40.0 MiB', fraction: 0.3 });
    progress.note('virtualmachine/default/web evicted', stdout);
    progress.update({ phase: 'InProgress', detail: '40.0 MiB of 40.0 MiB', fraction: 1 });
    progress.update({ phase: 'Completed' });
    return 'done';
  });
  assert.equal(result, 'done');
  assert.equal(out.text, 'backup web-1: New\nbackup web-1: InProgress 0 B of 40.0 MiB\nbackup web-1: Completed\n');
  assert.equal(stdout.text, 'virtualmachine/default/web evicted\n');
});

test('on a terminal: one line redrawn in place, the time ticking on, cleared at the end and around notes', async () => {
  const out = stream(true, 80);
  await waitWithProgress({ subject: 'draining node/n1', out, tickMs: 20 }, async (progress) => {
    progress.update({ phase: '2 VMs left', detail: 'default/a, default/b', fraction: 0 });
    const drawn = out.text;
    assert.equal(drawn, `\rdraining node/n1: 2 VMs left default/a, default/b  [>${' '.repeat(19)}]  0s\x1b[K`);
    await waitFor(() => out.text.length >= drawn.length * 2, { timeoutMs: 2000, message: 'the tick to redraw the line' });
    out.text = '';
    progress.note('virtualmachine/default/a evicted');
    progress.update({ phase: '1 VMs left', detail: 'default/b', fraction: 0.5 });
    assert.match(out.text, /^\r\x1b\[Kvirtualmachine\/default\/a evicted\n\r.*\x1b\[K\r.*1 VMs left default\/b {2}\[=+>\s*\] {2}0s\x1b\[K$/);
    out.text = '';
  });
  assert.equal(out.text, '\r\x1b[K', 'cleared');
  assert.doesNotMatch(out.text, /\n/);
});

test('the terminal line keeps bar and time in view and cuts what it waits for instead; a caller may draw its own', async () => {
  const line = defaultTerminalLine(
    'deleting virtualmachine.shoal.dev "a-rather-long-name"',
    { phase: 'finalizers', detail: 'x.dev/one, x.dev/two', fraction: 0.5 },
    65_000,
    60,
  );
  assert.equal(line.length, 59);
  assert.match(line, /…  \[={10}> {9}\] {2}1m5s$/);
  const out = stream(true, 80);
  await waitWithProgress({ subject: 'migration m', out }, async (progress) => {
    progress.update({ phase: 'Running', terminalLine: (elapsed, columns) => `custom ${columns} ${elapsed < 1000 ? 'soon' : 'late'}` });
  });
  assert.equal(out.text, '\rcustom 80 soon\x1b[K\r\x1b[K');
});

test('past the deadline: WaitTimeoutError naming what was waited for and where it stood, and the body told to stop', async () => {
  const out = stream(false);
  let bodySignal: AbortSignal | undefined;
  const started = Date.now();
  await assert.rejects(
    waitWithProgress({ subject: 'deleting virtualmachine.shoal.dev "stuck"', out, timeoutMs: 150 }, async (progress, signal) => {
      bodySignal = signal;
      progress.update({ phase: 'waiting on finalizers', detail: 'test.shoal.dev/hold' });
      await new Promise(() => undefined); // never done by itself
    }),
    (err) =>
      err instanceof WaitTimeoutError &&
      err.message === 'timed out after 150ms waiting for deleting virtualmachine.shoal.dev "stuck" (waiting on finalizers test.shoal.dev/hold)',
  );
  assert.ok(Date.now() - started < 2000, 'at the deadline, not later');
  assert.equal(bodySignal?.aborted, true);
  assert.equal(out.text, 'deleting virtualmachine.shoal.dev "stuck": waiting on finalizers test.shoal.dev/hold\n');
});

test('without a deadline the body decides; its error and the caller signal pass through', async () => {
  await assert.rejects(
    waitWithProgress({ subject: 's', out: stream(false) }, async () => {
      throw new Error('the server said no');
    }),
    { message: 'the server said no' },
  );
  const ctrlC = new AbortController();
  const outcome = waitWithProgress(
    { subject: 's', out: stream(false), signal: ctrlC.signal },
    (_progress, signal) => new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('stopped'))),
  );
  ctrlC.abort();
  assert.equal(await outcome, 'stopped');
});
