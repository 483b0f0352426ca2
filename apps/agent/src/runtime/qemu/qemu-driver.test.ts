/**
 * The QEMU driver's stop contract on a real microVM (TCG on the build machines) whose guest is
 * slow to obey the power button: its command shrugs off SIGTERM, so the init gives it its 10 s
 * (the default shoal.stop_timeout) before powering off — longer than the grace here. requestStop
 * asks and returns at once; the
 * deadline is kept beside the guest, so a restarted agent (a new driver on the same data dir)
 * finds the stop under way with the same deadline; a call past the deadline kills QEMU.
 */
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killLeftoverVms, processAlive, waitFor } from '@shoal/testing';
import type { VmLaunchSpec } from '../driver.js';
import { QemuDriver } from './qemu-driver.js';

const BOOT_DEADLINE_MS = 90_000;

let dataDir: string;
let heartbeatFile: string;
let heartbeat: NodeJS.Timeout;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'shoal-qemu-driver-'));
  heartbeatFile = join(dataDir, 'heartbeat');
  await writeFile(heartbeatFile, '');
  // The test stands in for an agent renewing its lease: the supervisors' dead man's switch stays quiet.
  heartbeat = setInterval(() => void utimes(heartbeatFile, new Date(), new Date()).catch(() => undefined), 1_000);
});
after(async () => {
  clearInterval(heartbeat);
  await killLeftoverVms(dataDir);
  await rm(dataDir, { recursive: true, force: true });
});

/** Drivers still open: closed after each test whatever happened, so their pollers never keep the process alive. */
const open = new Set<QemuDriver>();
const newDriver = async () => {
  const driver = new QemuDriver({ dataDir, heartbeatFile, fenceSeconds: 60, capacity: { vcpus: 2, memoryMiB: 2048 } });
  open.add(driver);
  await driver.init();
  return driver;
};
const close = async (driver: QemuDriver) => {
  open.delete(driver);
  await driver.close();
};
afterEach(async () => {
  for (const d of [...open]) await close(d);
});

test('requestStop asks and returns; a restarted agent finds the stop and its deadline; a call past the deadline kills QEMU', async () => {
  const spec: VmLaunchSpec = {
    uid: 'qemu-driver-stubborn',
    namespace: 'default',
    name: 'stubborn',
    vcpus: 1,
    memoryMiB: 256,
    image: 'default',
    network: 'none',
    command: ['sh', '-c', "trap '' TERM; while :; do sleep 1; done"],
  };
  const first = await newDriver();
  await first.start(spec);
  const running = await waitFor(() => (first.state(spec.uid)?.phase === 'running' ? first.state(spec.uid) : undefined), {
    timeoutMs: BOOT_DEADLINE_MS,
    message: 'the guest to boot',
  });
  const pid = running.pid!;
  assert.ok(processAlive(pid));

  // Less than the 10 s the guest's init waits for its command: the deadline comes first.
  const GRACE_MS = 5_000;
  const asked = Date.now();
  await first.requestStop(spec.uid, GRACE_MS);
  const askedFor = Date.now() - asked;
  const stopping = first.state(spec.uid)!;
  assert.equal(stopping.phase, 'stopping');
  assert.ok(askedFor < 2_000, `requestStop took ${askedFor} ms: it asks, it does not wait`);
  const deadline = stopping.stopDeadline!;
  assert.ok(Date.parse(deadline) >= asked + GRACE_MS);
  const serial = first.consoleLog(spec.uid)!;

  // The agent restarts at once (before the deadline, however slow the guest is to hear the
  // button): a new driver adopts the guest, and the stop with it.
  await close(first);
  const second = await newDriver();
  const [adopted] = await second.adopt();
  assert.deepEqual([adopted?.phase, adopted?.stopDeadline], ['stopping', deadline], 'the same deadline, not a fresh grace');
  assert.ok(Date.now() < Date.parse(deadline), 'the restart took less than the grace');
  await second.requestStop(spec.uid, 600_000);
  assert.equal(second.state(spec.uid)!.stopDeadline, deadline, 'a longer grace asked later does not draw the stop out');
  assert.ok(processAlive(pid), 'before the deadline, asking again only asks');
  await waitFor(async () => /^SHOAL-SHUTDOWN/m.test(await readFile(serial, 'utf8')), {
    timeoutMs: GRACE_MS,
    message: 'the guest to hear the power button',
  });

  await waitFor(() => Date.now() >= Date.parse(deadline), { timeoutMs: GRACE_MS + 5_000, message: 'the deadline' });
  assert.ok(processAlive(pid), 'the driver kills nothing on its own');
  await second.requestStop(spec.uid, 600_000);
  await waitFor(() => second.state(spec.uid)?.phase === 'exited', { timeoutMs: 15_000, message: 'QEMU killed and its exit recorded' });
  assert.ok(!processAlive(pid));
  await second.remove(spec.uid);
});
