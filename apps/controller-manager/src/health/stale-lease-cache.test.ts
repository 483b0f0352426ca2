/**
 * The health controller judges a node silent on its Lease cache, and a cache can fall behind:
 * an apiserver whose etcd watch lags stops bringing renewals. Its VMs must not be rescued then —
 * the node is alive, its fence never fires, and they would run twice. A real etcd and
 * apiserver; the controller's reconcile with real Node and VM informers, a Lease cache frozen at
 * one renewal, and a clock the test moves on.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { NODE_LEASE_NAMESPACE, type Lease, type Node, type VirtualMachine } from '@shoal/api';
import { Informer, type ShoalClient } from '@shoal/client';
import { EventRecorder } from '@shoal/controller-runtime';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { addNode, addVm, getVm } from '../test-support/scheduler-cluster.js';
import { reconcile, RenewalClock, type HealthContext } from './reconcile.js';

const LEASE_SECONDS = 2;
const FENCE_SECONDS = 2;

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster();
  client = cluster.client;
});
after(async () => {
  await cluster?.stop();
});

/** The node's agent renewing its lease, through the apiserver. */
async function renew(name: string): Promise<Lease> {
  const spec = { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime: new Date().toISOString() };
  try {
    return await client.patch<Lease>('lease', name, { spec }, { namespace: NODE_LEASE_NAMESPACE, type: 'merge' });
  } catch {
    return client.create<Lease>('lease', { metadata: { name }, spec }, { namespace: NODE_LEASE_NAMESPACE });
  }
}

test('a node renewing its lease is not rescued because the lease cache stalled; once it really stops renewing, its VMs move', async () => {
  await addNode(client, 'gamma');
  await client.patch(
    'node',
    'gamma',
    { status: { fencing: { leaseDurationSeconds: LEASE_SECONDS, fenceTimeoutSeconds: FENCE_SECONDS } } },
    { type: 'merge', status: true },
  );
  // What the controller's cache holds of the lease from now on: this one renewal, never another.
  const frozen = await renew('gamma');
  await addVm(client, 'resident', { spec: { nodeName: 'gamma' } });

  const log = pino({ level: 'silent' });
  const nodes = new Informer<Node>(client, 'node');
  const vms = new Informer<VirtualMachine>(client, 'vm');
  let now = Date.now();
  const ctx: HealthContext = {
    client,
    nodes,
    leases: { get: () => frozen },
    vms,
    clock: new RenewalClock(() => now),
    recorder: new EventRecorder({ client, component: 'shoal-node-health', log }),
    log,
    gracePeriodMs: 0,
    unhealthy: new Set(),
    now: () => now,
  };
  nodes.start();
  vms.start();
  try {
    await Promise.all([nodes.waitForSync(), vms.waitForSync()]);
    /** One pass, once the Node cache holds the apiserver's latest (its writes are pinned to that version). */
    const pass = async () => {
      const live = await client.get<Node>('node', 'gamma');
      await waitFor(() => nodes.get('gamma')?.metadata.resourceVersion === live.metadata.resourceVersion, { message: 'the Node cache current' });
      await reconcile(ctx, 'gamma');
    };
    const ready = async () => (await client.get<Node>('node', 'gamma')).status?.conditions?.find((c) => c.type === 'Ready')?.status;

    await pass();
    // Well past lease + fence timeout by the cache, while the agent went on renewing.
    now += 10 * (LEASE_SECONDS + FENCE_SECONDS) * 1000;
    await renew('gamma');
    await pass();
    await pass();
    assert.equal((await getVm(client, 'resident')).spec.nodeName, 'gamma', 'the VM stays on the live node');
    assert.equal(await ready(), 'True', 'the live node stays Ready');

    // Now it truly stops: the renewal the apiserver had is the last, and the stale cache is no excuse to wait forever.
    now += 10 * (LEASE_SECONDS + FENCE_SECONDS) * 1000;
    for (let i = 0; i < 4 && (await getVm(client, 'resident')).spec.nodeName; i++) await pass();
    assert.notEqual(await ready(), 'True', 'NotReady once it stopped renewing');
    assert.equal((await getVm(client, 'resident')).spec.nodeName, undefined, 'its VM rescued once lease + fence timeout passed without a renewal');
  } finally {
    nodes.stop();
    vms.stop();
    await ctx.recorder.flush();
  }
});
