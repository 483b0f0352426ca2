/**
 * Fencing never depends on a write succeeding. Real microVMs (TCG on the build machines) under
 * the real supervisor, started through QemuDriver, whose run dirs break after boot in the three
 * ways a disk breaks under a running VM:
 *
 *   removed     the agent's data dir deleted, the heartbeat file with it (missing = stale)
 *   full        a small tmpfs filled to its last block and its last inode
 *   read-only   a read-only bind mount over the data dir (ext4 remounts itself ro after an I/O
 *               error; a tmpfs with files open for writing refuses `remount,ro`, the bind does not)
 *
 * For each: with the heartbeat stale, the supervisor's dead man's switch stops QEMU within the
 * fence timeout and a small margin; and the agent's own fence() (the heartbeat kept fresh, so the
 * supervisor stays quiet) stops it at once and reports the exit as Fenced. Needs root (mount).
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { processAlive, waitFor } from '@shoal/testing';
import type { VmLaunchSpec } from '../driver.js';
import { QemuDriver } from './qemu-driver.js';

const BOOT_DEADLINE_MS = 90_000;
const FENCE_S = 2;
/** The supervisor looks once a second; then SIGTERM, and forks on two busy cores. */
const MARGIN_MS = 2_500;
const HEARTBEAT_EVERY_MS = 250;

/** Undone after each test whatever happened: processes killed, drivers closed, mounts gone. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => undefined);
});

interface Breakage {
  name: string;
  /** Whether the data dir is a small tmpfs of its own (to fill, or to remount read-only). */
  tmpfs: boolean;
  /** Breaks the disk under `dataDir`, whose VM runs in `runDir`, and proves it is broken. */
  apply(dataDir: string, runDir: string): Promise<void>;
}

const breakages: Breakage[] = [
  {
    name: 'the run dir removed (the whole data dir, heartbeat and all)',
    tmpfs: false,
    async apply(dataDir) {
      await rm(dataDir, { recursive: true, force: true });
      await assert.rejects(writeFile(join(dataDir, 'probe'), ''), { code: 'ENOENT' });
    },
  },
  {
    name: 'a full disk (no block, no inode left)',
    tmpfs: true,
    async apply(dataDir, runDir) {
      // dd stops at ENOSPC; then empty files until not even an inode is left.
      await execa('dd', ['if=/dev/zero', `of=${join(dataDir, 'fill')}`, 'bs=1M'], { reject: false });
      for (let i = 0; ; i++) {
        const full = await writeFile(join(dataDir, `fill-${i}`), '').then(
          () => false,
          (err: NodeJS.ErrnoException) => err.code === 'ENOSPC',
        );
        if (full) break;
        assert.ok(i < 10_000, 'the tmpfs should run out of inodes');
      }
      await assert.rejects(writeFile(join(runDir, 'probe'), ''), { code: 'ENOSPC' });
    },
  },
  {
    name: 'a read-only dir (a ro bind mount over it)',
    tmpfs: false,
    async apply(dataDir, runDir) {
      await execa('mount', ['--bind', dataDir, dataDir]);
      cleanups.push(async () => void (await execa('umount', ['-l', dataDir])));
      await execa('mount', ['-o', 'remount,bind,ro', dataDir]);
      await assert.rejects(writeFile(join(runDir, 'probe'), ''), { code: 'EROFS' });
    },
  },
];

const kill = (pid: number | undefined) => {
  if (pid && processAlive(pid)) process.kill(pid, 'SIGKILL');
};

/** A data dir for one test: a plain temp dir, or a small tmpfs mounted on one. */
async function dataDirFor(b: Breakage): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-broken-disk-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  if (b.tmpfs) {
    // Room for a VM's run files and little else; few inodes, so a full disk is quick to make.
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=8m,nr_inodes=64', 'shoal-test', dir]);
    // Lazy: a QEMU that outlived a failed test may still hold files there.
    cleanups.push(async () => void (await execa('umount', ['-l', dir])));
  }
  return dir;
}

/** The test stands in for the agent: it touches the heartbeat file until told to stop. */
function agentHeartbeat(file: string) {
  let last = 0;
  const touch = () => {
    last = Date.now();
    return writeFile(file, '', { flag: 'a' }).then(() => utimes(file, new Date(last), new Date(last)));
  };
  const timer = setInterval(() => void touch().catch(() => undefined), HEARTBEAT_EVERY_MS);
  cleanups.push(async () => clearInterval(timer));
  return {
    touch,
    /** Stops touching; answers when the last touch was. */
    stop: () => {
      clearInterval(timer);
      return last;
    },
  };
}

/** Boots a VM whose command runs for ever; answers its QEMU's and supervisor's pids and its run dir. */
async function bootVm(driver: QemuDriver, uid: string) {
  const spec: VmLaunchSpec = {
    uid,
    namespace: 'default',
    name: uid,
    vcpus: 1,
    memoryMiB: 256,
    image: 'default',
    network: 'none',
    command: ['sh', '-c', 'while :; do sleep 1; done'],
  };
  await driver.start(spec);
  const running = await waitFor(() => (driver.state(uid)?.phase === 'running' ? driver.state(uid) : undefined), {
    timeoutMs: BOOT_DEADLINE_MS,
    message: 'the guest to boot',
  });
  const runDir = join(driver.consoleLog(uid)!, '..');
  const supervisor = Number((await execa('cat', [join(runDir, 'supervisor.pid')])).stdout);
  cleanups.push(async () => {
    kill(running.pid);
    kill(supervisor);
  });
  assert.ok(processAlive(running.pid!) && processAlive(supervisor));
  return { qemu: running.pid!, supervisor, runDir };
}

async function newDriver(dataDir: string, heartbeatFile: string, fenceSeconds: number): Promise<QemuDriver> {
  const driver = new QemuDriver({ dataDir, heartbeatFile, fenceSeconds, capacity: { vcpus: 2, memoryMiB: 2048 } });
  cleanups.push(() => driver.close());
  await driver.init();
  return driver;
}

for (const [i, b] of breakages.entries()) {
  test(`supervisor, heartbeat stale, ${b.name}: QEMU is stopped within the fence timeout`, async () => {
    const dataDir = await dataDirFor(b);
    const heartbeatFile = join(dataDir, 'heartbeat');
    const agent = agentHeartbeat(heartbeatFile);
    await agent.touch();
    const driver = await newDriver(dataDir, heartbeatFile, FENCE_S);
    const vm = await bootVm(driver, `broken-disk-supervisor-${i}`);

    const lastHeartbeat = agent.stop();
    await b.apply(dataDir, vm.runDir);
    await waitFor(() => !processAlive(vm.qemu), {
      timeoutMs: FENCE_S * 1000 + MARGIN_MS + 5_000,
      intervalMs: 50,
      message: 'QEMU stopped by its supervisor',
    });
    // (Sooner when the heartbeat file went with the data dir: a missing heartbeat is as old as can be.)
    const took = Date.now() - lastHeartbeat;
    assert.ok(took <= FENCE_S * 1000 + MARGIN_MS, `QEMU stopped ${took} ms after the last heartbeat (fence timeout ${FENCE_S} s)`);
    // Its record lost or not, the supervisor finishes: no watcher is left behind.
    await waitFor(() => !processAlive(vm.supervisor), { timeoutMs: 5_000, message: 'the supervisor to exit' });
  });

  test(`agent fence(), heartbeat fresh, ${b.name}: QEMU is killed first, and the exit says Fenced`, async () => {
    const dataDir = await dataDirFor(b);
    // Outside the broken disk, and kept fresh: the supervisor must not be the one that fences.
    const outside = await mkdtemp(join(tmpdir(), 'shoal-heartbeat-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    const heartbeatFile = join(outside, 'heartbeat');
    const agent = agentHeartbeat(heartbeatFile);
    await agent.touch();
    const driver = await newDriver(dataDir, heartbeatFile, 60);
    const uid = `broken-disk-agent-${i}`;
    const vm = await bootVm(driver, uid);

    await b.apply(dataDir, vm.runDir);
    const asked = Date.now();
    await driver.fence();
    await waitFor(() => !processAlive(vm.qemu), { timeoutMs: 5_000, intervalMs: 50, message: 'QEMU killed by fence()' });
    const took = Date.now() - asked;
    assert.ok(took <= 2_000, `killed ${took} ms after fence() was called`);
    const exited = await waitFor(() => (driver.state(uid)?.phase === 'exited' ? driver.state(uid) : undefined), {
      timeoutMs: 10_000,
      message: 'the exit seen by the driver',
    });
    assert.equal(exited.exit?.reason, 'Fenced', 'fenced, though no marker could be written');
    agent.stop();
  });
}
