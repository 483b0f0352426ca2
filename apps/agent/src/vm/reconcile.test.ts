/**
 * The agent's VM controller never waits out a guest's shutdown: a real etcd and apiserver, the
 * agent's own wiring (vmController: informer, queue, reconcile) with ONE worker, and the
 * simulated runtime with guests that ignore the power button (they never shut down on their
 * own, as a guest whose init does not listen). VMs are bound by hand; no scheduler runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { AGENT_FINALIZER, EVICTION_REQUESTED_ANNOTATION, type Event, type EvictionRequest, type VirtualMachine } from '@shoal/api';
import { Informer, type ShoalClient } from '@shoal/client';
import { EventRecorder, type Controller } from '@shoal/controller-runtime';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { SimulatedDriver } from '../runtime/simulated/simulated-driver.js';
import { vmController } from './controller.js';
import { launchSpec } from './reconcile.js';

let cp: TestCluster;
let client: ShoalClient;

before(async () => {
  cp = await startCluster();
  client = cp.client;
});
after(async () => {
  await cp?.stop();
});

interface Harness {
  node: string;
  driver: SimulatedDriver;
  controller: Controller;
}

/** One node's VM controller, as agent.ts wires it, with one worker and guests that ignore the power button. */
async function withAgent(
  node: string,
  stopGraceMs: number,
  fn: (h: Harness) => Promise<void>,
  opts: { waitingForMigration?: (uid: string) => boolean } = {},
): Promise<void> {
  const log = pino({ level: 'silent' });
  const driver = new SimulatedDriver({ bootMs: 100, stopMs: Infinity });
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
    stopGraceMs,
    log,
    workers: 1,
    registry: new Registry(),
    waitingForMigration: opts.waitingForMigration,
  });
  informer.start();
  await informer.waitForSync();
  controller.start();
  try {
    await fn({ node, driver, controller });
  } finally {
    await controller.stop();
    await informer.stop();
    await driver.close();
    await recorder.flush();
  }
}

const vm = (name: string) => client.get<VirtualMachine>('vm', name, { namespace: 'default' });

async function until(name: string, ok: (v: VirtualMachine) => boolean, message: string, timeoutMs = 15_000): Promise<VirtualMachine> {
  return waitFor(
    async () => {
      const v = await vm(name);
      return ok(v) ? v : undefined;
    },
    { timeoutMs, message: `${name}: ${message}` },
  );
}

/** Creates a VM, binds it to `node` by hand (as the scheduler would). */
async function bound(name: string, node: string): Promise<void> {
  await client.create('vm', { metadata: { name, namespace: 'default' }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } });
  await client.patch('vm', name, { spec: { nodeName: node } }, { type: 'merge', namespace: 'default' });
}

const instanceOf = (h: Harness, name: string) => h.driver.list().find((i) => i.name === name);

test('one guest shutting down for its whole 60 s grace does not delay another VM’s start on the same single worker', async () => {
  await withAgent('free-worker', 60_000, async (h) => {
    await bound('stubborn', h.node);
    await until('stubborn', (v) => v.status?.phase === 'Running', 'Running');
    await client.patch('vm', 'stubborn', { spec: { runStrategy: 'Halted' } }, { type: 'merge', namespace: 'default' });
    await until('stubborn', (v) => v.status?.phase === 'Stopping', 'Stopping (asked, ignoring it)');

    const asked = Date.now();
    await bound('quick', h.node);
    await until('quick', (v) => v.status?.phase === 'Running', 'Running while the other one is still shutting down');
    const tookMs = Date.now() - asked;

    const stubborn = instanceOf(h, 'stubborn')!;
    assert.equal(stubborn.phase, 'stopping', 'the stubborn guest is still within its grace');
    assert.ok(Date.parse(stubborn.stopDeadline!) > Date.now(), 'and its deadline is still ahead');
    assert.ok(tookMs < 30_000, `quick started in ${tookMs} ms, not after the other's grace`);
    assert.equal((await vm('stubborn')).status?.phase, 'Stopping');
  });
});

test('a guest ignoring an eviction’s request is killed at the deadline by the reconcile coming back, then removed and unbound', async () => {
  await withAgent('deadline', 60_000, async (h) => {
    await bound('evictee', h.node);
    await until('evictee', (v) => v.status?.phase === 'Running', 'Running');
    const request: EvictionRequest = { reason: 'Drained', message: 'node deadline is drained', gracePeriodSeconds: 2, requestedAt: new Date().toISOString() };
    const asked = Date.now();
    await client.patch(
      'vm',
      'evictee',
      { metadata: { annotations: { [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request) } } },
      { type: 'merge', namespace: 'default' },
    );
    await until('evictee', (v) => v.status?.phase === 'Stopping' && v.status.reason === 'Drained', 'Stopping for the eviction');
    // The status is written first, then the guest asked (eviction.ts): the two are moments apart.
    await waitFor(() => instanceOf(h, 'evictee')?.phase === 'stopping', { timeoutMs: 5_000, message: 'the guest asked to stop' });

    const evicted = await until('evictee', (v) => !v.spec.nodeName, 'unbound');
    const tookMs = Date.now() - asked;
    // Its grace, not the node's 60 s; and not at once either: it was asked first.
    assert.ok(tookMs >= 2_000, `unbound after ${tookMs} ms: before the grace ran out`);
    assert.ok(tookMs < 15_000, `unbound after ${tookMs} ms`);
    assert.equal(instanceOf(h, 'evictee'), undefined, 'the killed instance was removed before the unbind');
    assert.deepEqual([evicted.status?.phase, evicted.status?.reason, evicted.metadata.finalizers ?? []], ['Pending', 'Drained', []]);
    const killed = await waitFor(
      async () =>
        (await client.list<Event>('event', { namespace: 'default' })).items.find((e) => e.reason === 'StopTimedOut' && e.involvedObject?.name === 'evictee'),
      { timeoutMs: 10_000, message: 'an Event saying the guest was killed, and why' },
    );
    assert.equal(killed.type, 'Warning');
    assert.match(killed.message ?? '', /did not power off after the ACPI power button within its grace period .*: killed on node deadline/);
    await client.delete('vm', 'evictee', { namespace: 'default' });
  });
});

test('a deleted VM keeps the agent finalizer while its guest stops, and loses it only once the guest is gone', async () => {
  await withAgent('deleting', 2_000, async (h) => {
    await bound('doomed', h.node);
    await until('doomed', (v) => v.status?.phase === 'Running' && !!v.metadata.finalizers?.includes(AGENT_FINALIZER), 'Running with the finalizer');
    await client.delete('vm', 'doomed', { namespace: 'default' });
    const deleting = await until('doomed', (v) => !!v.metadata.deletionTimestamp && v.status?.phase === 'Stopping', 'Stopping while deleted');
    assert.ok(deleting.metadata.finalizers?.includes(AGENT_FINALIZER));
    // The status is written a moment before the guest is asked to stop.
    await waitFor(() => instanceOf(h, 'doomed')?.phase === 'stopping', { timeoutMs: 5_000, message: 'the guest asked to stop' });
    assert.ok((await vm('doomed')).metadata.finalizers?.includes(AGENT_FINALIZER), 'its guest is still there: so is the finalizer');
    await waitFor(
      () =>
        vm('doomed').then(
          () => false,
          () => true,
        ),
      { timeoutMs: 15_000, message: 'the delete to complete once the guest was killed' },
    );
    assert.equal(instanceOf(h, 'doomed'), undefined);
  });
});

test('a VM on Networks is not booted by an agent that does not attach them: its status and an Event say so', async () => {
  await withAgent('no-networks', 2_000, async (h) => {
    await client.create('vm', {
      metadata: { name: 'networked', namespace: 'default' },
      spec: { resources: { vcpus: 1, memoryMiB: 128 }, networks: [{ name: 'tenant-a' }] },
    });
    await client.patch('vm', 'networked', { spec: { nodeName: h.node } }, { type: 'merge', namespace: 'default' });
    const waiting = await until('networked', (v) => v.status?.reason === 'NetworksUnsupported', 'told why it does not boot');
    assert.match(waiting.status!.message!, /attaches no VM to Networks \(it runs without --vm-networks; spec\.networks: tenant-a\)/);
    assert.equal(instanceOf(h, 'networked'), undefined, 'no guest started');
    const events = (await client.list<Event>('event', { namespace: 'default' })).items;
    assert.ok(events.some((e) => e.reason === 'NetworksUnsupported' && e.involvedObject?.name === 'networked'));
    await client.delete('vm', 'networked', { namespace: 'default' });
  });
});

test('a migration target’s waiting QEMU, its Migration over, is discarded when the VM lands on its node: the VM boots afresh, an Event says why', async () => {
  // No Migration is waiting for it any more (it failed: the VM came here rescued from its source).
  await withAgent(
    'landing',
    2_000,
    async (h) => {
      await client.create('vm', { metadata: { name: 'rescued', namespace: 'default' }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } });
      const created = await vm('rescued');
      // What the Migration's target started here before it failed: a QEMU waiting for the guest.
      await h.driver.start({ ...launchSpec(created), incoming: {} });
      await client.patch('vm', 'rescued', { spec: { nodeName: h.node } }, { type: 'merge', namespace: 'default' });
      await until('rescued', (v) => v.status?.phase === 'Running', 'Running, booted afresh');
      const instance = instanceOf(h, 'rescued');
      assert.equal(instance?.phase, 'running');
      assert.ok(!instance?.incoming, 'a booted guest, not the QEMU that waited');
      const events = (await client.list<Event>('event', { namespace: 'default' })).items;
      const said = events.find((e) => e.reason === 'MigrationTargetDiscarded' && e.involvedObject?.name === 'rescued');
      assert.match(said?.message ?? '', /was never resumed and its Migration is over/);
      await client.delete('vm', 'rescued', { namespace: 'default' });
    },
    { waitingForMigration: () => false },
  );
});
