/**
 * vm-supervisor.sh, the per-VM dead man's switch, as a real process. A small node program stands
 * in for QEMU (the supervisor only spawns, watches and signals it); the test process stands in
 * for the agent by touching the heartbeat file, or stopping to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { waitFor, processAlive } from '@shoal/testing';

const SUPERVISOR = fileURLToPath(new URL('./vm-supervisor.sh', import.meta.url));
const FENCE_S = 1;

/** Stands in for QEMU; with ignoreTerm it shrugs off SIGTERM, as a wedged QEMU might. */
const fakeQemu = (ignoreTerm = false) => [process.execPath, '-e', `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000)`];

async function supervise(heartbeat: 'fresh' | 'stale' | 'missing', ignoreTerm = false) {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-supervisor-'));
  const hb = join(dir, 'heartbeat');
  if (heartbeat !== 'missing') await writeFile(hb, '');
  if (heartbeat === 'stale') await utimes(hb, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  const proc = execa(SUPERVISOR, [dir, hb, String(FENCE_S), '--', ...fakeQemu(ignoreTerm)], { reject: false });
  const exitJson = () =>
    readFile(join(dir, 'exit.json'), 'utf8').then(
      (t) => JSON.parse(t) as { code: number; fenced: boolean },
      () => undefined,
    );
  return { dir, hb, proc, exitJson, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test('a fresh heartbeat keeps the VM; once it is older than the fence timeout the VM is stopped within about a second, marked fenced', async () => {
  const s = await supervise('fresh');
  const pid = await waitFor(async () => Number(await readFile(join(s.dir, 'child.pid'), 'utf8').catch(() => '')) || undefined, {
    timeoutMs: 5_000,
    message: 'child.pid',
  });
  // The agent renewing: touched 15 times over 3 s, three fence timeouts, and the VM lives on.
  let touches = 0;
  let lastTouch = Date.now();
  const agent = setInterval(() => {
    lastTouch = Date.now();
    touches++;
    void utimes(s.hb, new Date(lastTouch), new Date(lastTouch));
  }, 200);
  await waitFor(() => touches >= 15, { timeoutMs: 10_000, message: '15 heartbeats' });
  clearInterval(agent);
  assert.ok(processAlive(pid), 'a VM with a fresh heartbeat runs on');
  assert.equal(await s.exitJson(), undefined, 'and its supervisor has recorded no exit');

  const exit = await waitFor(s.exitJson, { timeoutMs: 10_000, message: 'exit.json after the heartbeat stopped' });
  const after = Date.now() - lastTouch;
  assert.equal(exit.fenced, true);
  assert.ok(!processAlive(pid), 'QEMU is gone');
  // Fence timeout, plus at most one check interval (1 s) and the time to stop.
  assert.ok(after >= FENCE_S * 1000, `not before the fence timeout (${after} ms)`);
  assert.ok(after <= FENCE_S * 1000 + 1_800, `stopped ${after} ms after the last heartbeat`);
  assert.match(await readFile(join(s.dir, 'qemu.log'), 'utf8'), /supervisor: agent heartbeat is \d+ ms old \(limit 1000 ms\): stopped the VM/);
  await s.proc;
  await s.cleanup();
});

test('a QEMU that ignores SIGTERM is killed a second later', async () => {
  const s = await supervise('fresh', true);
  const pid = await waitFor(async () => Number(await readFile(join(s.dir, 'child.pid'), 'utf8').catch(() => '')) || undefined, {
    timeoutMs: 5_000,
    message: 'child.pid',
  });
  const exit = await waitFor(s.exitJson, { timeoutMs: 10_000, message: 'exit.json' });
  assert.equal(exit.fenced, true);
  assert.equal(exit.code, 137, 'killed by SIGKILL');
  assert.ok(!processAlive(pid));
  await s.proc;
  await s.cleanup();
});

for (const heartbeat of ['stale', 'missing'] as const) {
  test(`a ${heartbeat} heartbeat at launch: QEMU is never started, and the exit says fenced`, async () => {
    const s = await supervise(heartbeat);
    const done = await s.proc;
    assert.equal(done.exitCode, 0);
    const exit = await s.exitJson();
    assert.deepEqual(exit && { code: exit.code, fenced: exit.fenced }, { code: -1, fenced: true });
    assert.equal(existsSync(join(s.dir, 'child.pid')), false, 'nothing was launched');
    assert.match(await readFile(join(s.dir, 'qemu.log'), 'utf8'), /not starting the VM/);
    await s.cleanup();
  });
}

test('a heartbeat file that disappears while the VM runs (its data dir removed) is stale: the VM is stopped', async () => {
  const s = await supervise('fresh');
  const pid = await waitFor(async () => Number(await readFile(join(s.dir, 'child.pid'), 'utf8').catch(() => '')) || undefined, {
    timeoutMs: 5_000,
    message: 'child.pid',
  });
  await rm(s.hb);
  const removed = Date.now();
  const exit = await waitFor(s.exitJson, { timeoutMs: 10_000, message: 'exit.json after the heartbeat file was removed' });
  assert.equal(exit.fenced, true);
  assert.ok(!processAlive(pid), 'QEMU is gone');
  // Not a fence timeout later: a missing heartbeat is as old as can be, so the next look stops it.
  assert.ok(Date.now() - removed <= 2_500, `stopped ${Date.now() - removed} ms after the heartbeat file went`);
  await s.proc;
  await s.cleanup();
});
