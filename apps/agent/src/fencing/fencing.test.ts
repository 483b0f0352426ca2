/** The pure parts of fencing: flag rules, the FenceClock, and FenceMonitor over a simulated runtime. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDriver } from '../runtime/simulated/simulated-driver.js';
import type { VmLaunchSpec } from '../runtime/driver.js';
import { FenceClock } from './fence-clock.js';
import { FenceMonitor } from './fence-monitor.js';
import { Registry } from 'prom-client';
import { fencingCount } from './fencing-metric.js';
import { defaultFenceTimeoutSeconds, fencingTimingError } from './timing.js';

test('flags: whole seconds, a fence timeout above 0 and no shorter than the lease, with the reason said', () => {
  assert.equal(fencingTimingError({ leaseDurationSeconds: 4, fenceTimeoutSeconds: 6 }), undefined);
  assert.equal(fencingTimingError({ leaseDurationSeconds: 4, fenceTimeoutSeconds: 4 }), undefined, 'equal is allowed');
  assert.match(
    fencingTimingError({ leaseDurationSeconds: 4, fenceTimeoutSeconds: 3 })!,
    /--fence-timeout 3 is shorter than --lease-duration 4: the VMs would be stopped while the node's lease is still valid.*use at least 4/,
  );
  assert.match(
    fencingTimingError({ leaseDurationSeconds: 4, fenceTimeoutSeconds: 0 })!,
    /--fence-timeout 0: must be a whole number of seconds greater than 0 \(fencing cannot be turned off/,
  );
  assert.match(fencingTimingError({ leaseDurationSeconds: 4, fenceTimeoutSeconds: 6.5 })!, /--fence-timeout 6.5: must be a whole number/);
  assert.match(fencingTimingError({ leaseDurationSeconds: 1, fenceTimeoutSeconds: 6 })!, /--lease-duration 1: must be a whole number of seconds, at least 2/);
  assert.match(fencingTimingError({ leaseDurationSeconds: NaN, fenceTimeoutSeconds: 6 })!, /--lease-duration NaN/);
  // The default follows a raised lease instead of contradicting it.
  assert.equal(defaultFenceTimeoutSeconds(4), 6);
  assert.equal(defaultFenceTimeoutSeconds(40), 60);
  assert.equal(defaultFenceTimeoutSeconds(3), 5);
  for (const lease of [2, 3, 4, 10, 40])
    assert.equal(fencingTimingError({ leaseDurationSeconds: lease, fenceTimeoutSeconds: defaultFenceTimeoutSeconds(lease) }), undefined);
});

test('the clock: fresh for a lease duration after a renewal was sent, fenced after the fence timeout', () => {
  const c = new FenceClock(4_000, 6_000);
  assert.equal(c.fresh(0), false, 'never renewed: not fresh');
  assert.equal(c.fenced(1e12), false, 'never renewed: nothing to fence');
  assert.equal(c.renewed(1_000, 1_050), false);
  assert.equal(c.lastRenewal, 1_000, 'counted from when the request was sent, as the Lease renewTime says');
  assert.equal(c.fresh(4_999), true);
  assert.equal(c.fresh(5_000), false);
  assert.equal(c.mayAct(4_999), true);
  assert.equal(c.mayAct(5_000), false, 'a lease that is not fresh stops all action');
  assert.equal(c.fenced(7_000), false);
  assert.equal(c.fenced(7_001), true);
  // An answer that arrives late does not move the clock back.
  c.renewed(900, 7_000);
  assert.equal(c.lastRenewal, 1_000);
});

test('a renewal that ends a stale period closes the gate until a relist that began after it', () => {
  const c = new FenceClock(4_000, 6_000);
  c.renewed(0, 10);
  assert.equal(c.renewed(1_000, 1_010), false, 'a normal renewal');
  // A renewal sent in time but answered after the fence timeout: the supervisors may have fenced meanwhile.
  assert.equal(c.renewed(6_900, 7_100), true);
  assert.equal(c.epoch, 1);
  assert.equal(c.fresh(7_200), true);
  assert.equal(c.needsRelist(), true);
  assert.equal(c.mayAct(7_200), false, 'fresh, but the cache may be stale');
  const epoch = c.epoch;
  // Another stale period ends while that relist runs: it is not enough.
  c.renewed(20_000, 20_010);
  c.relisted(epoch);
  assert.equal(c.mayAct(20_020), false);
  c.relisted(c.epoch);
  assert.equal(c.mayAct(20_020), true);
  c.relisted(0);
  assert.equal(c.mayAct(20_020), true, 'an older relist finishing late does not undo a newer one');
});

const spec = (uid: string): VmLaunchSpec => ({ uid, namespace: 'default', name: uid, vcpus: 1, memoryMiB: 256, image: 'default', network: 'user' });
const silent = { warn() {}, error() {} };

test('FenceMonitor stops every simulated guest, booting, running or stopping, once the fence timeout passes', async () => {
  const driver = new SimulatedDriver({ bootMs: 60_000, stopMs: 60_000 });
  const clock = new FenceClock(4_000, 6_000);
  let now = 0;
  const monitor = new FenceMonitor({ clock, driver, log: silent, now: () => now });
  clock.renewed(0, 5);
  await driver.start(spec('booting'));
  await driver.start(spec('stopping'));
  await driver.requestStop('stopping', 30_000);
  now = 6_000;
  await monitor.check();
  assert.deepEqual(
    driver
      .list()
      .map((i) => i.phase)
      .sort(),
    ['starting', 'stopping'],
    'within the fence timeout nothing is touched',
  );
  now = 6_001;
  await monitor.check();
  for (const i of driver.list()) {
    assert.equal(i.phase, 'exited');
    assert.deepEqual({ ...i.exit, at: undefined }, { success: false, reason: 'Fenced', at: undefined }, i.uid);
    assert.equal(i.bootedAt, undefined, 'a guest fenced while booting never reports it booted');
  }
  await driver.close();
});

test('shoal_agent_fencings_total counts each stale period past the fence timeout once, VMs or not', async () => {
  const driver = new SimulatedDriver({ bootMs: 60_000 });
  const clock = new FenceClock(4_000, 6_000);
  const registry = new Registry();
  let now = 0;
  const monitor = new FenceMonitor({ clock, driver, log: silent, now: () => now, fencings: fencingCount('n1', registry) });
  const count = async () => (await registry.getSingleMetric('shoal_agent_fencings_total')!.get()).values.find((v) => v.labels.node === 'n1')?.value;
  assert.equal(await count(), 0, 'the series exists from the start');
  clock.renewed(0, 5);
  await driver.start(spec('vm'));
  now = 6_000;
  await monitor.check();
  assert.equal(await count(), 0, 'within the fence timeout');
  for (now of [6_001, 6_500, 9_000]) await monitor.check();
  assert.equal(await count(), 1, 'one stale period, looked at three times: one fencing');
  // Renewed, then stale again with nothing running: the node fenced itself all the same.
  clock.renewed(10_000, 10_005);
  now = 12_000;
  await monitor.check();
  assert.equal(await count(), 1);
  now = 16_001;
  await monitor.check();
  assert.equal(await count(), 2);
  await driver.close();
});

test('a simulated launch is refused when mayLaunch says no, and nothing is left behind', async () => {
  const driver = new SimulatedDriver({ bootMs: 1 });
  await assert.rejects(
    driver.start(spec('late'), () => false),
    { name: 'LaunchRefusedError' },
  );
  assert.equal(driver.state('late'), undefined);
  await driver.start(spec('ok'), () => true);
  assert.equal(driver.state('ok')!.phase, 'starting');
  await driver.close();
});
