/**
 * CrashLoopBackOff on a real etcd and apiserver, with small back-off values (and one long one, that a start must not wait):
 *
 *   - the agent's own wiring (vmController) over the simulated runtime, whose guests the test
 *     kills the moment they run: restarts spaced by the growing wait, and a run that lasted the
 *     reset time beginning the loop again;
 *   - a real agent process running a real microVM whose command fails at once (['false'],
 *     runStrategy Always): what a user sees (status, Events), and a loop that goes on where it
 *     was when the agent is killed and started again;
 *   - a real microVM that never boots, killed at the agent's boot timeout and restarted (after
 *     a back-off: the agent's kill was for the guest's failure);
 *   - a real microVM stopped and started by its user: started at once, no back-off, not a
 *     restart; a crash after that backs off as ever.
 *
 * VMs are bound by hand; no scheduler runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Event, VirtualMachine } from '@shoal/api';
import { Informer, type ShoalClient } from '@shoal/client';
import { EventRecorder } from '@shoal/controller-runtime';
import { REPO_ROOT, startCluster, waitFor, waitForGone, waitForObject, type TestCluster } from '@shoal/testing';
import { SimulatedDriver } from '../runtime/simulated/simulated-driver.js';
import { vmController } from './controller.js';
import type { RestartBackoffPolicy } from './restart-backoff.js';

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster();
  client = cluster.client;
});
after(async () => {
  await cluster?.stop();
});

/** The agent's VM wiring (vmController) for `node` over a simulated runtime, with this back-off; VMs are bound by hand. */
async function simulatedNode(node: string, policy: RestartBackoffPolicy, registry = new Registry()) {
  const log = pino({ level: 'silent' });
  const driver = new SimulatedDriver({ bootMs: 50 });
  const informer = new Informer<VirtualMachine>(client, 'vm', { fieldSelector: `spec.nodeName=${node}` });
  const recorder = new EventRecorder({ client, component: 'shoal-agent', host: node, log });
  const controller = vmController({
    nodeName: node,
    client,
    informer,
    driver,
    fence: { mayAct: () => true },
    recorder,
    fenceTimeoutSeconds: 60,
    stopGraceMs: 1_000,
    restartBackoff: policy,
    log,
    registry,
  });
  informer.start();
  await informer.waitForSync();
  controller.start();
  return {
    driver,
    recorder,
    async stop() {
      await controller.stop();
      await informer.stop();
      await driver.close();
      await recorder.flush();
    },
  };
}

/** The next attempt is rounded up to the second (status shows whole seconds), and a reconcile takes a moment. */
const SLACK_MS = 1_000 + 700;

async function bound(name: string, node: string, spec: object = {}): Promise<VirtualMachine> {
  await client.create('vm', { metadata: { name }, spec: { resources: { vcpus: 1, memoryMiB: 128 }, ...spec } });
  return client.patch<VirtualMachine>('vm', name, { spec: { nodeName: node } }, { type: 'merge' });
}

async function remove(name: string): Promise<void> {
  await client.delete('vm', name).catch(() => undefined);
  await waitForGone(client, 'VirtualMachine', name, { timeoutMs: 60_000 });
}

/** Every version of one VM, each with when the watch delivered it, until stop(). */
function record(name: string, resourceVersion: string) {
  const seen: { at: number; vm: VirtualMachine }[] = [];
  const abort = new AbortController();
  const done = (async () => {
    try {
      for await (const e of client.watch<VirtualMachine>('vm', { fieldSelector: `metadata.name=${name}`, resourceVersion }, abort.signal))
        seen.push({ at: Date.now(), vm: e.object });
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return {
    seen,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

const backOffEvents = async (uid: string) =>
  (await client.list<Event>('event', { namespace: 'default' })).items
    .filter((e) => e.involvedObject.uid === uid && e.reason === 'BackOff')
    .sort((a, b) => Date.parse(a.firstTimestamp!) - Date.parse(b.firstTimestamp!));

test('simulated guests killed as soon as they run: restarts wait 1, 2, 4, 4 s; a run as long as the reset time begins the loop again', async () => {
  const node = 'crash-sim';
  const { driver, recorder, stop } = await simulatedNode(node, { baseMs: 1_000, maxMs: 4_000, resetAfterMs: 3_000 });
  try {
    const vm = await bound('sim-crashy', node);
    const uid = vm.metadata.uid!;
    const watch = record('sim-crashy', vm.metadata.resourceVersion!);
    // How long each run is let live before the test kills it, and the wait its exit must bring.
    const runs: { liveMs: number; waitMs: number }[] = [
      { liveMs: 0, waitMs: 1_000 },
      { liveMs: 0, waitMs: 2_000 },
      { liveMs: 0, waitMs: 4_000 },
      { liveMs: 0, waitMs: 4_000 }, // capped
      { liveMs: 3_200, waitMs: 1_000 }, // it ran for the reset time: the loop begins again
      { liveMs: 0, waitMs: 2_000 },
    ];
    /** The guest of the run after the one launched at `previousStart`, once it runs. */
    const nextRun = (previousStart?: string) =>
      waitFor(
        () => {
          const i = driver.state(uid);
          return i?.phase === 'running' && i.startedAt !== previousStart ? i : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 20, message: 'the next run' },
      );
    const exits: { at: number; waitMs: number }[] = [];
    const gaps: number[] = [];
    let running = await nextRun();
    for (const { liveMs, waitMs } of runs) {
      const startedAt = Date.parse(running.startedAt);
      await waitFor(() => Date.now() - startedAt >= liveMs, { timeoutMs: liveMs + 5_000, intervalMs: 20, message: 'the run to last' });
      await driver.kill(uid);
      const exitAt = Date.parse(driver.state(uid)!.exit!.at);
      exits.push({ at: exitAt, waitMs });
      running = await nextRun(running.startedAt);
      gaps.push(Date.parse(running.startedAt) - exitAt);
    }
    for (const [i, gap] of gaps.entries()) {
      const { waitMs } = exits[i]!;
      assert.ok(gap >= waitMs && gap < waitMs + SLACK_MS, `restart ${i + 1}: ${gap} ms after the exit, want ${waitMs} ms (gaps ${gaps.join(', ')})`);
    }

    // Each wait was shown: CrashLoopBackOff with the next attempt, the restarts so far counting.
    await waitFor(() => watch.seen.some((s) => s.vm.status?.restarts === runs.length), { message: 'the watch to see the last restart' });
    await watch.stop();
    const waits = watch.seen.map((s) => s.vm.status!).filter((s) => s.reason === 'CrashLoopBackOff');
    const steps = [...new Map(waits.map((s) => [s.nextRestartAt, s])).values()];
    assert.deepEqual(
      steps.map((s) => [s.phase, s.restarts, s.message!.match(/^back-off (\S+)/)?.[1]]),
      [
        ['Failed', 0, '1s'],
        ['Failed', 1, '2s'],
        ['Failed', 2, '4s'],
        ['Failed', 3, '4s'],
        ['Failed', 4, '1s'],
        ['Failed', 5, '2s'],
      ],
    );
    assert.deepEqual(
      steps.map((s) => s.nextRestartAt),
      exits.map((e) => new Date(Math.ceil((e.at + e.waitMs) / 1000) * 1000).toISOString().replace('.000Z', 'Z')),
      'each next attempt: the exit plus its wait, to the second',
    );
    await recorder.flush();
    assert.equal((await backOffEvents(uid)).length, runs.length, 'one BackOff Event per step');
    await remove('sim-crashy');
  } finally {
    await stop();
  }
});

test('shoal_agent_vm_crash_loop_backoff: 1 while a VM waits out its back-off, 0 once it runs again and for a VM that runs', async () => {
  const node = 'crash-metric';
  const registry = new Registry();
  const { driver, stop } = await simulatedNode(node, { baseMs: 2_000, maxMs: 2_000, resetAfterMs: 60_000 }, registry);
  const sample = async (vm: string) => {
    const gauge = (await registry.getMetricsAsJSON()).find((m) => m.name === 'shoal_agent_vm_crash_loop_backoff');
    return (gauge?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find(
      (v) => v.labels.namespace === 'default' && v.labels.vm === vm,
    )?.value;
  };
  try {
    const steady = await bound('metric-steady', node);
    const crashy = await bound('metric-crashy', node);
    const uid = crashy.metadata.uid!;
    const runningNow = (id: string) =>
      waitFor(() => driver.state(id)?.phase === 'running', { timeoutMs: 15_000, intervalMs: 20, message: 'the guest running' });
    await runningNow(steady.metadata.uid!);
    await runningNow(uid);
    const firstRun = driver.state(uid)!.startedAt;
    assert.equal(await sample('metric-crashy'), 0, 'running: not in back-off');
    await driver.kill(uid);
    await waitForObject(client, 'VirtualMachine', 'metric-crashy', (v) => v.status?.reason === 'CrashLoopBackOff', { message: 'CrashLoopBackOff' });
    await waitFor(async () => (await sample('metric-crashy')) === 1, { message: 'the gauge at 1 during the wait' });
    assert.equal(await sample('metric-steady'), 0, 'the VM that runs');
    await waitFor(() => driver.state(uid)?.phase === 'running' && driver.state(uid)?.startedAt !== firstRun, { timeoutMs: 15_000, message: 'the restart' });
    assert.equal(await sample('metric-crashy'), 0, 'restarted: 0 at once, before its status says so');
    await remove('metric-crashy');
    await waitFor(async () => (await sample('metric-crashy')) === undefined, { message: 'no series for a VM gone' });
  } finally {
    await stop();
  }
  // metric-steady is still bound to the node (the cluster goes with the file): its agent stopped, so does its series.
  assert.equal(await sample('metric-steady'), undefined, 'a stopped controller takes its node off the gauge');
});

test('a real microVM whose command fails at once: CrashLoopBackOff with the next attempt, waits of 2, 4, 8, 8 s, kept across an agent restart', async () => {
  const node = 'crash-qemu';
  const args = ['--crash-loop-backoff-base', '2', '--crash-loop-backoff-max', '8', '--crash-loop-backoff-reset', '120'];
  const first = await cluster.startAgent(node, { args });
  const created = await bound('crashy', node, { runStrategy: 'Always', command: ['false'] });
  const uid = created.metadata.uid!;
  const watch = record('crashy', created.metadata.resourceVersion!);
  const until = (ok: (v: VirtualMachine) => boolean, message: string) =>
    waitForObject(client, 'VirtualMachine', 'crashy', ok, { timeoutMs: 120_000, intervalMs: 100, message });
  const waiting = (restarts: number) => (v: VirtualMachine) => v.status?.reason === 'CrashLoopBackOff' && v.status.restarts === restarts;

  // The third wait (8 s): the agent is killed in it and started again on the same data dir.
  const third = await until(waiting(2), 'the third back-off');
  await first.kill();
  await cluster.startAgent(node, { args, dataDir: first.dataDir });
  const fourth = await until(waiting(3), 'the fourth back-off, after the agent restart');
  await watch.stop();

  const statuses = watch.seen.map((s) => ({ at: s.at, status: s.vm.status! }));
  const steps = [...new Map(statuses.filter((s) => s.status.reason === 'CrashLoopBackOff').map((s) => [s.status.nextRestartAt, s.status])).values()];
  assert.deepEqual(
    steps.map((s) => [s.phase, s.restarts, s.message!.match(/^back-off (\S+)/)?.[1]]),
    [
      ['Failed', 0, '2s'],
      ['Failed', 1, '4s'],
      ['Failed', 2, '8s'],
      ['Failed', 3, '8s'],
    ],
    'the restarted agent went on with the loop: its next wait is 8 s, not 2 s',
  );
  assert.match(
    third.status!.message!,
    /^back-off 8s restarting the VM after its guest exited \(the guest's command exited with code 1\): restarted 2 times so far, next attempt at \S+Z$/,
  );
  assert.equal(third.status!.nextRestartAt, steps[2]!.nextRestartAt);
  assert.deepEqual(third.status!.conditions!.find((c) => c.type === 'Ready')?.reason, 'CrashLoopBackOff');
  assert.equal(fourth.status!.phase, 'Failed');
  // Never a tight loop: no restart came before the next attempt its wait announced.
  for (const step of steps.slice(0, 3)) {
    const restarted = statuses.find((s) => (s.status.restarts ?? 0) > step.restarts!);
    assert.ok(restarted, `a restart after ${step.nextRestartAt}`);
    assert.ok(
      restarted.at >= Date.parse(step.nextRestartAt!),
      `restart ${step.restarts! + 1} seen at ${new Date(restarted.at).toISOString()}, before ${step.nextRestartAt}`,
    );
  }
  const events = await waitFor(
    async () => {
      const found = await backOffEvents(uid);
      return found.length >= 4 ? found : undefined;
    },
    { timeoutMs: 10_000, message: 'the BackOff Events' },
  );
  assert.deepEqual(
    events.map((e) => [e.type, e.message!.match(/^back-off (\S+)/)?.[1], e.count ?? 1]),
    [
      ['Warning', '2s', 1],
      ['Warning', '4s', 1],
      ['Warning', '8s', 1],
      ['Warning', '8s', 1],
    ],
    'one Event per step, none said again by the restarted agent',
  );
  await remove('crashy');
  assert.ok(!existsSync(join(first.dataDir, 'restart-backoff', `${uid}.json`)), 'the loop is forgotten with the VM');
});

test('a real microVM whose guest never boots (an init that never gets to the boot marker) is killed at the boot timeout and restarted, saying so', async () => {
  const node = 'node-boot-timeout';
  // At info, so that a failure below shows what the agent did (its starts, the kill, its lease).
  const agent = await cluster.startAgent(node, {
    args: ['--boot-timeout', '4', '--crash-loop-backoff-base', '1', '--crash-loop-backoff-max', '2', '--stop-grace', '1', '--log-level', 'info'],
  });
  // A shell as the initramfs's init: the kernel boots, Shoal's init never runs, no boot marker comes.
  const vm = await bound('hung', node, { network: { mode: 'none' }, cmdline: 'rdinit=/bin/sh' });
  const restarted = await waitForObject(client, 'VirtualMachine', 'hung', (v) => (v.status?.restarts ?? 0) >= 1, {
    timeoutMs: 90_000,
    message: 'killed at the boot timeout and restarted',
  }).catch((err: Error) => {
    throw new Error(`${err.message}\nthe agent's log, last 8 KiB:\n${agent.output().slice(-8192)}`);
  });
  assert.notEqual(restarted.status?.phase, 'Running');
  assert.equal(restarted.status?.bootedAt, undefined, 'never booted');
  const events = (await client.list<Event>('event', { namespace: 'default' })).items.filter(
    (e) => e.involvedObject?.uid === vm.metadata.uid && e.reason === 'BootTimedOut',
  );
  assert.ok(events.length >= 1, 'a BootTimedOut Event');
  assert.match(
    events[0]!.message ?? '',
    /^the guest did not boot within 4s of its start on node node-boot-timeout: killing it \(runStrategy Always decides what follows\)$/,
  );
  // The agent's kill was for the guest's failure, not a stop it was asked for: its restart backs off.
  await waitFor(async () => (await backOffEvents(vm.metadata.uid!)).length >= 1, { timeoutMs: 10_000, message: 'a BackOff Event before the restart' });
  await remove('hung');
});

test('a real microVM stopped and started by its user boots again at once, not counted as a restart; a crash after that still backs off', async () => {
  const node = 'stop-start';
  // A back-off longer than any wait below: a start that waited it could not pass.
  await cluster.startAgent(node, { args: ['--crash-loop-backoff-base', '300', '--crash-loop-backoff-max', '300', '--stop-grace', '5'] });
  const created = await bound('stopped', node, { network: { mode: 'none' }, command: ['sh', '-c', 'exec sleep 600'] });
  const until = (ok: (v: VirtualMachine) => boolean, message: string) =>
    waitForObject(client, 'VirtualMachine', 'stopped', ok, { timeoutMs: 60_000, intervalMs: 100, message });
  const first = await until((v) => v.status?.phase === 'Running', 'Running');
  const watch = record('stopped', first.metadata.resourceVersion!);
  const shoalctl = (verb: string) => execa('node', [`${REPO_ROOT}bin/shoalctl.js`, '--server', cluster.url, verb, 'vm', 'stopped'], { reject: false });

  const stop = await shoalctl('stop');
  assert.equal(stop.exitCode, 0, stop.stderr);
  const halted = await until((v) => v.status?.phase === 'Stopped' && !v.status.pid, 'Stopped');
  assert.equal(halted.spec.runStrategy, 'Halted');
  const start = await shoalctl('start');
  assert.equal(start.exitCode, 0, start.stderr);
  const again = await until((v) => v.status?.phase === 'Running' && v.status.pid !== first.status!.pid, 'Running again after the start, without a back-off');
  assert.equal(again.status!.restarts ?? 0, first.status!.restarts ?? 0, 'a start after a requested stop is not a restart after an exit');
  await watch.stop();
  assert.deepEqual(
    watch.seen.filter((s) => s.vm.status?.reason === 'CrashLoopBackOff').map((s) => s.vm.status!.message),
    [],
    'never in CrashLoopBackOff',
  );
  assert.deepEqual(
    (await backOffEvents(created.metadata.uid!)).map((e) => e.message),
    [],
    'no BackOff Event',
  );

  // The guest's own exit (its QEMU killed) is a crash: the restart after it waits the back-off.
  process.kill(again.status!.pid!, 'SIGKILL');
  const crashed = await until((v) => v.status?.reason === 'CrashLoopBackOff', 'CrashLoopBackOff after the crash');
  assert.match(crashed.status!.message!, /^back-off 5m0s restarting the VM after its guest exited/);
  await remove('stopped');
});

test('back-off flags that cannot work: the agent exits 2 saying which and why', async () => {
  const run = (args: string[]) =>
    execa(
      'node',
      [`${REPO_ROOT}bin/shoal-agent.js`, '--server', 'http://127.0.0.1:1', '--data-dir', '/tmp/shoal-flags-unused', '--runtime', 'simulated', ...args],
      { reject: false, timeout: 30_000 },
    );
  const [shorterMax, zeroBase] = await Promise.all([run(['--crash-loop-backoff-max', '5']), run(['--crash-loop-backoff-base', '0'])]);
  assert.equal(shorterMax.exitCode, 2);
  assert.match(shorterMax.stderr, /--crash-loop-backoff-max 5: must be a number of seconds no smaller than --crash-loop-backoff-base \(10\)/);
  assert.equal(zeroBase.exitCode, 2);
  assert.match(zeroBase.stderr, /--crash-loop-backoff-base 0: must be a number of seconds greater than 0/);
});
