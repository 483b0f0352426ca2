/**
 * The ControllerManager under an elector the test scripts (win, lose, win again), with the real
 * scheduler on a real etcd and apiserver: a controller runs only while leading, stops on a loss,
 * is built afresh and runs again when leadership comes back; stop() releases every elector.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import type { LeaderElector } from '@shoal/controller-runtime';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import pino from 'pino';
import { Registry } from 'prom-client';
import { selectControllers } from './controllers.js';
import { ControllerManager } from './manager.js';

/** Leads when the test says so, loses when the test says so. */
class ScriptedElector implements LeaderElector {
  acquireCalls = 0;
  releases = 0;
  private grant?: () => void;
  private term?: AbortController;

  acquire(signal: AbortSignal): Promise<AbortSignal> {
    this.acquireCalls++;
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      this.grant = () => {
        this.term = new AbortController();
        resolve(this.term.signal);
      };
    });
  }

  win(): void {
    assert.ok(this.grant, 'someone is campaigning');
    this.grant();
    this.grant = undefined;
  }

  lose(): void {
    this.term?.abort(new Error('scripted loss'));
  }

  async release(): Promise<void> {
    this.releases++;
  }
}

let cp: TestCluster;
let client: ShoalClient;

before(async () => {
  cp = await startCluster();
  client = cp.client;
  await client.create('node', { metadata: { name: 'm-node' }, spec: {} });
  const room = { vcpus: 16, memoryMiB: 16_384 };
  const ready: Condition = { type: 'Ready', status: 'True', reason: 'AgentReady', lastTransitionTime: new Date().toISOString() };
  await client.patch('node', 'm-node', { status: { capacity: room, allocatable: room, conditions: [ready] } }, { type: 'merge', status: true });
});

after(async () => {
  await cp?.stop();
});

const nodeOf = async (name: string) => (await client.get<VirtualMachine>('vm', name)).spec.nodeName;
const addVm = (name: string) => client.create('vm', { metadata: { name, namespace: 'default' }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } });

test('a controller runs only while its elector leads, stops on a loss, and runs again, rebuilt, when leadership returns', async () => {
  const elector = new ScriptedElector();
  const registry = new Registry();
  const manager = new ControllerManager({
    client,
    controllers: selectControllers('scheduler'),
    registry,
    log: pino({ level: 'silent' }),
    electorFor: () => elector,
  });
  const gauge = async () => /^shoal_leader_is_leader\{controller="scheduler"\} (\d)$/m.exec(await registry.metrics())?.[1];
  const reconciles = async () =>
    Number(/^shoal_controller_reconcile_total\{controller="scheduler",result="success"\} (\d+)$/m.exec(await registry.metrics())?.[1] ?? 0);
  const seen = (name: string) =>
    waitFor(() => manager.informers.informer<VirtualMachine>('vm').get(`default/${name}`), { message: `the informer to hold ${name}` });
  try {
    await manager.start();
    assert.equal(manager.ready, true, 'ready while standing by');
    assert.equal(await gauge(), '0');
    await addVm('while-standby');
    await seen('while-standby');
    assert.equal(await nodeOf('while-standby'), undefined);
    assert.equal(await reconciles(), 0);

    elector.win();
    await waitFor(() => nodeOf('while-standby'), { message: 'the VM to be bound once leading' });
    assert.deepEqual(manager.leading, { scheduler: true });
    assert.equal(await gauge(), '1');

    elector.lose();
    await waitFor(() => elector.acquireCalls === 2, { message: 'the manager to campaign again' });
    assert.deepEqual(manager.leading, { scheduler: false });
    assert.equal(await gauge(), '0');
    assert.equal(manager.ready, true, 'still ready after a loss');
    const before = await reconciles();
    await addVm('after-loss');
    await seen('after-loss');
    assert.equal(await nodeOf('after-loss'), undefined, 'no scheduling after the loss');
    assert.equal(await reconciles(), before);

    elector.win();
    await waitFor(() => nodeOf('after-loss'), { message: 'the rebuilt scheduler to bind the VM' });
    assert.equal(await gauge(), '1');
  } finally {
    await manager.stop();
  }
  assert.equal(elector.releases, 1);
  assert.equal(await gauge(), '0');
  assert.equal(manager.ready, false);
});
