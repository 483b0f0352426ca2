/**
 * Sampling VM usage: /proc parsing on real files of this test's own process, and the windows and
 * rates of the sampler over a stand-in runtime and reader (a pure unit: no guest is needed to
 * check arithmetic; the real path through QEMU is covered by apps/cli/src/commands/top).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { InstanceState, RuntimeDriver } from '../runtime/driver.js';
import { parseProcessUsage, readProcessUsage, type ProcessUsage } from './process-usage.js';
import { VmUsageSampler } from './vm-usage-sampler.js';

test('a live process reads as CPU seconds, resident memory and a lifetime; a gone one as nothing', async () => {
  const spin = Date.now() + 50;
  while (Date.now() < spin); // some CPU time of our own to measure
  const own = await readProcessUsage(process.pid);
  assert.ok(own, 'this process is readable');
  assert.ok(own.cpuSeconds > 0 && own.cpuSeconds <= process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 + 0.05);
  // /proc's VmRSS and Node's rss are the same figure taken moments apart.
  assert.ok(Math.abs(own.memoryBytes - process.memoryUsage.rss()) < 64 * 1024 ** 2);
  assert.ok(own.lifetimeSeconds > 0 && own.lifetimeSeconds < process.uptime() + 5);
  assert.equal(await readProcessUsage(2 ** 22 + 1), undefined);
});

test('a command name with spaces and parentheses does not shift the fields', () => {
  const stat = '4242 (qemu (vm) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 1234567 2048 18446744073709551615';
  const usage = parseProcessUsage(stat, 'Name:\tqemu\nVmRSS:\t  204800 kB\nThreads:\t3\n', '60.50 100.00\n');
  assert.deepEqual(usage, { cpuSeconds: 3, memoryBytes: 204800 * 1024, lifetimeSeconds: 50.5 });
  assert.throws(() => parseProcessUsage('garbage', '', 'x'), /unexpected/);
});

class Runtime extends EventEmitter {
  instances: InstanceState[] = [];
  list() {
    return this.instances;
  }
}

const instance = (uid: string, pid: number | undefined, phase: InstanceState['phase'] = 'running'): InstanceState => ({
  uid,
  namespace: 'ns',
  name: `vm-${uid}`,
  phase,
  pid,
  startedAt: new Date(0).toISOString(),
});

function setup() {
  const runtime = new Runtime();
  const readings = new Map<number, ProcessUsage>();
  let now = 1_000_000;
  const sampler = new VmUsageSampler(
    runtime as unknown as RuntimeDriver,
    10_000,
    async (pid) => readings.get(pid),
    () => now,
  );
  return { runtime, readings, sampler, advance: (ms: number) => (now += ms) };
}

test('the first sample averages over the process life, later ones over the interval; a restart starts again', async () => {
  const { runtime, readings, sampler, advance } = setup();
  runtime.instances = [instance('a', 100)];
  readings.set(100, { cpuSeconds: 4, memoryBytes: 300e6, lifetimeSeconds: 8 });
  const [first] = await sampler.usage();
  assert.deepEqual(
    { cpu: first!.cpuCores, window: first!.windowSeconds, total: first!.cpuSecondsTotal, mem: first!.memoryBytes },
    { cpu: 0.5, window: 8, total: 4, mem: 300e6 },
  );

  advance(10_000);
  readings.set(100, { cpuSeconds: 19, memoryBytes: 310e6, lifetimeSeconds: 18 });
  await sampler.sample();
  const [second] = await sampler.usage();
  assert.equal(second!.windowSeconds, 10);
  assert.equal(second!.cpuCores, 1.5);

  // The guest restarted: a new QEMU with counters from zero, not a negative rate.
  runtime.instances = [{ ...instance('a', 200) }];
  readings.set(200, { cpuSeconds: 1, memoryBytes: 100e6, lifetimeSeconds: 2 });
  advance(10_000);
  await sampler.sample();
  const [restarted] = await sampler.usage();
  assert.deepEqual({ cpu: restarted!.cpuCores, window: restarted!.windowSeconds }, { cpu: 0.5, window: 2 });
});

test('VMs without a process (simulated) or that are gone are not reported; a new one is sampled on demand', async () => {
  const { runtime, readings, sampler, advance } = setup();
  runtime.instances = [instance('a', 100), instance('sim', undefined), instance('done', 300, 'exited')];
  readings.set(100, { cpuSeconds: 1, memoryBytes: 1e6, lifetimeSeconds: 1 });
  readings.set(300, { cpuSeconds: 1, memoryBytes: 1e6, lifetimeSeconds: 1 });
  assert.deepEqual(
    (await sampler.usage()).map((u) => u.uid),
    ['a'],
  );

  // Started between two ticks: asked for, it is sampled then rather than missing until the next tick.
  runtime.instances.push(instance('b', 101));
  readings.set(101, { cpuSeconds: 2, memoryBytes: 2e6, lifetimeSeconds: 4 });
  assert.deepEqual((await sampler.usage()).map((u) => u.uid).sort(), ['a', 'b']);

  // Its process died before the agent noticed: no sample rather than a stale one.
  readings.delete(101);
  advance(10_000);
  await sampler.sample();
  assert.deepEqual(
    (await sampler.usage()).map((u) => u.uid),
    ['a'],
  );

  runtime.instances = [];
  await sampler.sample();
  assert.deepEqual(await sampler.usage(), []);
});
