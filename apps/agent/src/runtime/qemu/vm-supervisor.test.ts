/**
 * vm-supervisor.sh, the per-VM dead man's switch, as a real process. A small node program stands
 * in for QEMU (the supervisor only spawns, watches and signals it); the test process stands in
 * for the agent by touching the heartbeat file, or stopping to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
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

/** `fenceFile`: the supervisor also reads the timeout from DIR/fence-timeout, which holds this to begin with. */
async function supervise(heartbeat: 'fresh' | 'stale' | 'missing', ignoreTerm = false, fence: { seconds: number; fenceFile?: string } = { seconds: FENCE_S }) {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-supervisor-'));
  const hb = join(dir, 'heartbeat');
  const fenceFile = join(dir, 'fence-timeout');
  if (heartbeat !== 'missing') await writeFile(hb, '');
  if (heartbeat === 'stale') await utimes(hb, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  if (fence.fenceFile !== undefined) await writeFile(fenceFile, fence.fenceFile);
  const fenceArgs = fence.fenceFile !== undefined ? [String(fence.seconds), fenceFile] : [String(fence.seconds)];
  const proc = execa(SUPERVISOR, [dir, hb, ...fenceArgs, '--', ...fakeQemu(ignoreTerm)], { reject: false });
  const exitJson = () =>
    readFile(join(dir, 'exit.json'), 'utf8').then(
      (t) => JSON.parse(t) as { code: number; fenced: boolean },
      () => undefined,
    );
  return { dir, hb, fenceFile, proc, exitJson, cleanup: () => rm(dir, { recursive: true, force: true }) };
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

/** The test as the agent: touches the heartbeat every 200 ms until stopped; answers when it last did. */
function renewing(hb: string) {
  let last = Date.now();
  let touches = 0;
  const timer = setInterval(() => {
    last = Date.now();
    touches++;
    void utimes(hb, new Date(last), new Date(last));
  }, 200);
  return {
    touches: () => touches,
    stop: () => {
      clearInterval(timer);
      return last;
    },
  };
}

const childPid = (dir: string) =>
  waitFor(async () => Number(await readFile(join(dir, 'child.pid'), 'utf8').catch(() => '')) || undefined, { timeoutMs: 5_000, message: 'child.pid' });

test('the fence file changes the timeout of a running VM: shorter than its launch, then longer', async () => {
  // Launched with 30 s, shortened to 1 s by the agent: fenced about a second after the heartbeat stops.
  const shorter = await supervise('fresh', false, { seconds: 30, fenceFile: '30\n' });
  // Launched with 1 s, raised to 3 s (the agent published that first).
  const longer = await supervise('fresh', false, { seconds: 1, fenceFile: '1\n' });
  const agents = [renewing(shorter.hb), renewing(longer.hb)];
  try {
    await Promise.all([childPid(shorter.dir), childPid(longer.dir)]);
    // Written while the heartbeats are fresh: whichever look comes next reads the new timeout.
    await writeFile(shorter.fenceFile, '1\n');
    await writeFile(longer.fenceFile, '3\n');
    const [lastShort, lastLong] = agents.map((a) => a.stop());
    const [exitShort, exitLong] = await Promise.all([
      waitFor(shorter.exitJson, { timeoutMs: 10_000, message: 'exit.json of the shortened VM' }),
      waitFor(longer.exitJson, { timeoutMs: 15_000, message: 'exit.json of the lengthened VM' }),
    ]);
    assert.equal(exitShort.fenced, true);
    assert.equal(exitLong.fenced, true);
    // The supervisor's own account: the heartbeat's age it saw, against the timeout it kept.
    assert.match(await readFile(join(shorter.dir, 'qemu.log'), 'utf8'), /\(limit 1000 ms\): stopped the VM/);
    assert.match(await readFile(join(longer.dir, 'qemu.log'), 'utf8'), /\(limit 3000 ms\): stopped the VM/);
    // Measured by the test, loosely (a busy machine delays both sides): far sooner than 30 s, and not before 3 s.
    const shortAfter = (await statMs(join(shorter.dir, 'exit.json'))) - lastShort!;
    const longAfter = (await statMs(join(longer.dir, 'exit.json'))) - lastLong!;
    assert.ok(shortAfter <= 10_000, `the shortened VM was stopped ${shortAfter} ms after the last heartbeat, not 30 s`);
    assert.ok(longAfter >= 3_000, `the lengthened VM was stopped ${longAfter} ms after the last heartbeat: not before its new 3 s`);
  } finally {
    for (const a of agents) a.stop();
    await Promise.all([shorter.proc, longer.proc]);
    await Promise.all([shorter.cleanup(), longer.cleanup()]);
  }
});

test('a fence file that cannot be read, or holds no number, means the shortest timeout seen, never a longer one', async () => {
  // Each launched with 30 s and told 2 s, then its file garbled (an octal-looking 08 must not end the watcher's shell): 2 s still holds.
  const cases = ['08\n', 'ten\n', '99999999999\n', '', undefined];
  const runs = await Promise.all(cases.map(() => supervise('fresh', false, { seconds: 30, fenceFile: '2\n' })));
  const agents = runs.map((r) => renewing(r.hb));
  try {
    await Promise.all(runs.map((r) => childPid(r.dir)));
    // A look with the heartbeat fresh reads the 2 s (looks are a second apart; the heartbeat is touched every 200 ms).
    await waitFor(() => agents.every((a) => a.touches() >= 6), { timeoutMs: 5_000, message: 'a second of heartbeats' });
    await Promise.all(runs.map((r, i) => (cases[i] === undefined ? rm(r.fenceFile) : writeFile(r.fenceFile, cases[i]!))));
    const last = agents.map((a) => a.stop());
    for (const [i, r] of runs.entries()) {
      const what = JSON.stringify(cases[i] ?? 'removed');
      const exit = await waitFor(r.exitJson, { timeoutMs: 15_000, message: `exit.json with the fence file ${what}` });
      assert.equal(exit.fenced, true);
      // The supervisor's own account: the timeout it kept was 2 s, not the launch's 30 s.
      assert.match(await readFile(join(r.dir, 'qemu.log'), 'utf8'), /\(limit 2000 ms\): stopped the VM/, what);
      const after = (await statMs(join(r.dir, 'exit.json'))) - last[i]!;
      assert.ok(after <= 10_000, `${what}: stopped ${after} ms after the last heartbeat, not 30 s`);
    }
  } finally {
    for (const a of agents) a.stop();
    await Promise.all(runs.map((r) => r.proc));
    await Promise.all(runs.map((r) => r.cleanup()));
  }
});

async function statMs(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}
