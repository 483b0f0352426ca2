/** The simulated runtime's stop honours the grace it is given, as the QEMU driver does. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('grace 0 kills at once, even a guest whose shutdown would take a minute', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: 60_000 });
  await driver.start(spec('a'));
  await reaches(driver, 'a', 'running');
  const stopped = driver.stop('a', 0);
  // Synchronously: nothing of the stop is left to wait for.
  assert.equal(driver.state('a')!.phase, 'exited');
  await stopped;
  assert.deepEqual({ ...driver.state('a')!.exit, at: undefined }, { success: false, reason: 'Killed', at: undefined });
  await driver.close();
});

test('a guest shuts down cleanly within a long grace, and is killed when the grace is shorter', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: 20 });
  await driver.start(spec('clean'));
  await reaches(driver, 'clean', 'running');
  await driver.stop('clean', 30_000);
  assert.equal(driver.state('clean')!.exit!.reason, 'ShutDown');

  const slow = new SimulatedDriver({ bootMs: 1, stopMs: 60_000 });
  await slow.start(spec('slow'));
  await reaches(slow, 'slow', 'running');
  await slow.stop('slow', 20);
  assert.equal(slow.state('slow')!.exit!.reason, 'Killed');
  await driver.close();
  await slow.close();
});

test('a shorter grace given while a stop is under way ends both stops at once', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: 60_000 });
  await driver.start(spec('b'));
  // Stopped while it boots: it never reports it booted.
  const graceful = driver.stop('b', 30_000);
  assert.equal(driver.state('b')!.phase, 'stopping');
  await driver.stop('b', 0);
  await graceful;
  assert.equal(driver.state('b')!.phase, 'exited');
  assert.equal(driver.state('b')!.bootedAt, undefined);
  await driver.close();
});

test('removing a guest that is still stopping ends its stop', async () => {
  const driver = new SimulatedDriver({ bootMs: 1, stopMs: 60_000 });
  await driver.start(spec('c'));
  const stopping = driver.stop('c', 30_000);
  await driver.remove('c');
  await stopping;
  assert.equal(driver.state('c'), undefined);
  await driver.close();
});
