/**
 * The simulated runtime keeps the driver's stop contract as the QEMU driver does: requestStop
 * asks and returns at once, the guest is `stopping` with a deadline, a later call at or past the
 * deadline kills it (grace 0: at once), a deadline is only ever brought forward.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@shoal/testing';
import type { VmLaunchSpec } from '../driver.js';
import { SimulatedDriver } from './simulated-driver.js';

const spec = (uid: string): VmLaunchSpec => ({ uid, namespace: 'default', name: uid, vcpus: 1, memoryMiB: 256, image: 'default', network: 'user' });

/** Resolves once the instance reached this phase (the driver says so through 'change'). */
function reaches(driver: SimulatedDriver, uid: string, phase: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (driver.state(uid)?.phase !== phase) return;
      driver.off('change', check);
      resolve();
    };
    driver.on('change', check);
    check();
  });
}

const exitOf = (driver: SimulatedDriver, uid: string) => ({ ...driver.state(uid)!.exit, at: undefined });

test('grace 0 kills at once, even a guest that would never shut down', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: Infinity });
  await driver.start(spec('a'));
  await reaches(driver, 'a', 'running');
  await driver.requestStop('a', 0);
  assert.equal(driver.state('a')!.phase, 'exited');
  assert.deepEqual(exitOf(driver, 'a'), { success: false, reason: 'Killed', at: undefined });
  await driver.close();
});

test('requestStop returns at once; the guest shuts down cleanly on its own within the grace', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: 50 });
  await driver.start(spec('clean'));
  await reaches(driver, 'clean', 'running');
  const before = Date.now();
  await driver.requestStop('clean', 30_000);
  const stopping = driver.state('clean')!;
  assert.equal(stopping.phase, 'stopping', 'asked, not waited for');
  assert.ok(Date.parse(stopping.stopDeadline!) >= before + 30_000);
  await reaches(driver, 'clean', 'exited');
  assert.deepEqual(exitOf(driver, 'clean'), { success: true, reason: 'ShutDown', at: undefined });
  await driver.close();
});

test('a guest that ignores the request runs on until a call at or past its deadline kills it', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: Infinity });
  await driver.start(spec('stubborn'));
  await reaches(driver, 'stubborn', 'running');
  await driver.requestStop('stubborn', 100);
  const deadline = Date.parse(driver.state('stubborn')!.stopDeadline!);
  await driver.requestStop('stubborn', 100);
  assert.equal(driver.state('stubborn')!.phase, 'stopping', 'before the deadline, asking again only asks');
  await driver.requestStop('stubborn', 60_000);
  assert.equal(Date.parse(driver.state('stubborn')!.stopDeadline!), deadline, 'a longer grace asked later does not draw the stop out');
  await waitFor(() => Date.now() >= deadline, { timeoutMs: 5_000, message: 'the deadline' });
  assert.equal(driver.state('stubborn')!.phase, 'stopping', 'the driver never kills on its own: the caller comes back');
  await driver.requestStop('stubborn', 60_000);
  assert.deepEqual(exitOf(driver, 'stubborn'), { success: false, reason: 'Killed', at: undefined });
  await driver.close();
});

test('a shorter grace hurries a stop under way; kill() ends one at once', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: Infinity });
  await driver.start(spec('b'));
  // Stopped while it boots: it never reports it booted.
  await driver.requestStop('b', 30_000);
  assert.equal(driver.state('b')!.phase, 'stopping');
  await driver.requestStop('b', 0);
  assert.equal(driver.state('b')!.phase, 'exited');
  assert.equal(driver.state('b')!.bootedAt, undefined);

  await driver.start(spec('k'));
  await driver.requestStop('k', 30_000);
  await driver.kill('k');
  assert.deepEqual(exitOf(driver, 'k'), { success: false, reason: 'Killed', at: undefined });
  await driver.close();
});

test('removing a guest that is still stopping forgets it', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: 60_000 });
  await driver.start(spec('c'));
  await driver.requestStop('c', 30_000);
  await driver.remove('c');
  assert.equal(driver.state('c'), undefined);
  await driver.close();
});
