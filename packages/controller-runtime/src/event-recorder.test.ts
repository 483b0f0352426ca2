/** Events and shared informers against a real etcd and apiserver. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { EventRecorder, type EventObject } from './event-recorder.js';
import { InformerFactory } from './informer-factory.js';

let cp: TestCluster;
let client: ShoalClient;

before(async () => {
  cp = await startCluster();
  client = cp.client;
});
after(async () => {
  await cp?.stop();
});

const events = async (name: string) => (await client.list<EventObject>('event', { namespace: 'default' })).items.filter((e) => e.involvedObject.name === name);

test('an Event per distinct happening; repeats bump count and lastTimestamp instead of piling up', async () => {
  const vm = await client.create<KubeObject>('vm', { metadata: { name: 'ev-vm' }, spec: {} });
  let now = new Date('2026-03-01T10:00:00Z');
  const recorder = new EventRecorder({ client, component: 'test-controller', now: () => now });
  recorder.event(vm, 'Warning', 'FailedScheduling', 'no room');
  recorder.event(vm, 'Warning', 'FailedScheduling', 'no room');
  now = new Date('2026-03-01T10:05:00Z');
  recorder.event(vm, 'Warning', 'FailedScheduling', 'no room');
  recorder.event(vm, 'Normal', 'Scheduled', 'placed');
  await recorder.flush();
  const evs = await events('ev-vm');
  assert.equal(evs.length, 2);
  const failed = evs.find((e) => e.reason === 'FailedScheduling')!;
  assert.equal(failed.count, 3);
  assert.equal(failed.firstTimestamp, '2026-03-01T10:00:00Z');
  assert.equal(failed.lastTimestamp, '2026-03-01T10:05:00Z');
  assert.equal(failed.type, 'Warning');
  assert.deepEqual(failed.source, { component: 'test-controller' });
  assert.deepEqual(failed.involvedObject, {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    name: 'ev-vm',
    namespace: 'default',
    uid: vm.metadata.uid,
    resourceVersion: vm.metadata.resourceVersion,
  });
  assert.match(failed.metadata.name!, /^ev-vm\.[0-9a-f]+$/);
  const scheduled = evs.find((e) => e.reason === 'Scheduled')!;
  assert.equal(scheduled.count, 1);

  // Someone deleted the aggregated Event: the next repeat starts a new one.
  await client.delete('event', failed.metadata.name!, { namespace: 'default' });
  recorder.event(vm, 'Warning', 'FailedScheduling', 'no room');
  await recorder.flush();
  const again = (await events('ev-vm')).filter((e) => e.reason === 'FailedScheduling');
  assert.equal(again.length, 1);
  assert.equal(again[0]!.count, 1);
});

test('events about cluster-scoped objects go to the default namespace', async () => {
  const node = await client.create<KubeObject>('node', { metadata: { name: 'ev-node' }, spec: {} });
  const recorder = new EventRecorder({ client, component: 'test-controller' });
  recorder.event(node, 'Normal', 'Registered', 'hello');
  await recorder.flush();
  const [ev] = await events('ev-node');
  assert.equal(ev?.metadata.namespace, 'default');
  assert.equal(ev?.involvedObject.kind, 'Node');
  assert.equal(ev?.involvedObject.namespace, undefined);
});

test('a recording failure is logged, never thrown', async () => {
  const ghost: KubeObject = { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'ghost', namespace: 'no-such-namespace', uid: 'u' } };
  const warnings: unknown[] = [];
  const log = { warn: (o: unknown) => warnings.push(o) } as unknown as import('pino').Logger;
  const recorder = new EventRecorder({ client, component: 'test-controller', log });
  recorder.event(ghost, 'Normal', 'Anything', 'x');
  await recorder.flush();
  assert.equal(warnings.length, 1);
});

test('the informer factory shares one informer per kind and selectors, and waits for all to sync', async () => {
  const factory = new InformerFactory(client);
  const a = factory.informer('vm');
  assert.equal(factory.informer('virtualmachines'), a, 'any name of the kind');
  assert.equal(factory.informer('VirtualMachine'), a);
  assert.notEqual(factory.informer('vm', { labelSelector: 'app=web' }), a);
  const nodes = factory.informer('node');
  assert.equal(factory.hasSynced(), false);
  factory.start();
  await factory.waitForSync({ timeoutMs: 10_000 });
  assert.equal(factory.hasSynced(), true);
  assert.ok(a.get('default/ev-vm'));
  assert.ok(nodes.get('ev-node'));
  const late = factory.informer('event');
  await waitFor(() => late.hasSynced(), { message: 'an informer asked for after start() to start on its own' });
  await factory.stop();
});

test('at most maxInFlight event writes run at once; every event is still written', async () => {
  const vms = await Promise.all(Array.from({ length: 40 }, (_, i) => client.create<KubeObject>('vm', { metadata: { name: `burst-${i}` }, spec: {} })));
  let running = 0;
  let most = 0;
  // The real client, counted: how many creates are under way at each moment.
  const counted = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'create') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<ShoalClient['create']>) => {
        most = Math.max(most, ++running);
        try {
          return await target.create(...args);
        } finally {
          running--;
        }
      };
    },
  });
  const recorder = new EventRecorder({ client: counted, component: 'burst', maxInFlight: 3 });
  for (const vm of vms) recorder.event(vm, 'Normal', 'Scheduled', `assigned ${vm.metadata.name}`);
  await recorder.flush();
  assert.equal(most, 3, 'three at once, no more');
  const written = (await client.list<EventObject>('event', { namespace: 'default' })).items.filter((e) => e.source.component === 'burst');
  assert.equal(written.length, 40);
});
