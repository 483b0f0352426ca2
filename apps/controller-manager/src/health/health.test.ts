/**
 * The health controller end to end through the real controller-manager: Nodes and their Leases
 * are written through the API by the test, which plays two agents — one keeps renewing, one
 * stops. No VM runs anywhere: this is about what the control plane decides and when.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NODE_LEASE_NAMESPACE, UNREACHABLE_TAINT_KEY, type Event, type Node, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor, waitForGone, waitForObject } from '@shoal/testing';
import { addNode, addVm, boundTo, getVm, metric, withCluster } from '../test-support/scheduler-cluster.js';

const LEASE_SECONDS = 2;
const FENCE_SECONDS = 2;

/** Registers a node the way an agent does (fencing published) and keeps its lease renewed until stopped. */
async function agentNode(client: ShoalClient, name: string): Promise<{ stop(): void; resume(): void }> {
  await addNode(client, name);
  await client.patch(
    'node',
    name,
    { status: { fencing: { leaseDurationSeconds: LEASE_SECONDS, fenceTimeoutSeconds: FENCE_SECONDS } } },
    { type: 'merge', status: true },
  );
  const renew = async () => {
    const spec = { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime: new Date().toISOString() };
    try {
      await client.patch('lease', name, { spec }, { namespace: NODE_LEASE_NAMESPACE, type: 'merge' });
    } catch {
      await client.create('lease', { metadata: { name }, spec }, { namespace: NODE_LEASE_NAMESPACE }).catch(() => undefined);
    }
  };
  await renew();
  // The agent's heartbeat, played by the test: renewals every half second while "alive".
  let timer: NodeJS.Timeout | undefined;
  const resume = () => {
    // unref: a failed assertion must not leave the test process waiting on this timer forever.
    timer ??= setInterval(() => void renew().catch(() => undefined), 500).unref();
  };
  resume();
  return {
    stop: () => {
      clearInterval(timer);
      timer = undefined;
    },
    resume,
  };
}

const readyOf = (n: Node) => n.status?.conditions?.find((c) => c.type === 'Ready');

/** shoal_node_ready{node} as the controller-manager's /metrics says it now (-1: no such series). */
const nodeReady = async (metricsUrl: string, node: string) => {
  const text = await (await fetch(metricsUrl)).text();
  const m = new RegExp(`^shoal_node_ready\\{node="${node}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : -1;
};

test('a node whose lease lapses goes NotReady and tainted, its VMs move only after lease + fence timeout, and it recovers when renewals resume', async () => {
  await withCluster(
    async ({ client, metricsUrl }) => {
      const alpha = await agentNode(client, 'alpha');
      // Only alpha exists while the VMs are placed.
      for (const n of ['web', 'batch', 'doomed']) await addVm(client, n);
      await addVm(client, 'manual', { spec: { runStrategy: 'Manual' } });
      for (const n of ['web', 'batch', 'manual', 'doomed']) assert.equal(await boundTo(client, n), 'alpha');
      const beta = await agentNode(client, 'beta');

      alpha.stop();
      const stoppedAt = Date.now();
      const notReady = await waitForObject(
        client,
        'Node',
        'alpha',
        (n) => readyOf(n)?.status === 'Unknown' && !!n.spec.taints?.some((t) => t.key === UNREACHABLE_TAINT_KEY),
        {
          timeoutMs: 15_000,
          message: 'NotReady and tainted',
        },
      );
      assert.equal(readyOf(notReady)?.reason, 'NodeStatusUnknown');
      // shoal_node_ready follows the condition (the cache may be a moment behind the write).
      await waitFor(async () => (await nodeReady(metricsUrl, 'alpha')) === 0, { message: 'shoal_node_ready{node="alpha"} 0' });
      assert.equal(await nodeReady(metricsUrl, 'beta'), 1);
      const notReadyAfter = Date.now() - stoppedAt;
      // Its VMs have not moved yet: they may still be running there until the fence timeout.
      assert.equal((await getVm(client, 'web')).spec.nodeName, 'alpha');
      // A delete waits for the node's agent (its finalizer came with the bind), which is gone.
      await client.delete('vm', 'doomed', { namespace: 'default' });
      assert.ok((await getVm(client, 'doomed')).metadata.deletionTimestamp);
      assert.equal((await client.get<Node>('node', 'beta')).status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');

      const moved = await waitForObject(client, 'VirtualMachine', 'web', (web) => web.spec.nodeName === 'beta', {
        namespace: 'default',
        timeoutMs: 20_000,
        message: 'rescheduled to beta',
      });
      const movedAfter = Date.now() - stoppedAt;
      assert.ok(
        movedAfter >= (LEASE_SECONDS + FENCE_SECONDS) * 1000 - 600,
        `moved only after lease + fence timeout (${movedAfter} ms; NotReady after ${notReadyAfter} ms)`,
      );
      assert.deepEqual(moved.metadata.finalizers, ['shoal.dev/agent'], "the dead agent's finalizer went with the unbind; the new bind brought the new node's");
      assert.deepEqual(
        [moved.status?.phase, moved.status?.reason, moved.status?.message],
        ['Pending', 'NodeLost', 'node alpha was lost (fenced); rescheduling'],
        'the unbind says why',
      );
      assert.equal(moved.metadata.annotations?.['shoal.dev/eviction-requested'], undefined, 'the unbind completed the request: the new node must not evict it');
      // Once fenced, the dead agent's finalizer is lifted from the VM being deleted: the delete completes.
      await waitForGone(client, 'VirtualMachine', 'doomed', { namespace: 'default' });
      assert.equal(await boundTo(client, 'batch'), 'beta');
      // Manual: unbound and stopped, requested state Stopped, until someone starts it.
      const manual = await waitForObject(client, 'VirtualMachine', 'manual', (v) => v.metadata.annotations?.['shoal.dev/requested-state'] === 'Stopped', {
        namespace: 'default',
        message: 'requested state Stopped',
      });
      assert.notEqual(manual.spec.nodeName, 'alpha');
      const lostEvents = await waitFor(
        async () => {
          const evs = (await client.list<Event>('event', { namespace: 'default' })).items.filter((e) => e.reason === 'NodeLost');
          return evs.length >= 3 ? evs : undefined;
        },
        { message: 'NodeLost events for the 3 VMs' },
      );
      assert.deepEqual([...new Set(lostEvents.map((e) => e.involvedObject.name))].sort(), ['batch', 'manual', 'web']);

      alpha.resume();
      await waitForObject(client, 'Node', 'alpha', (n) => readyOf(n)?.status === 'True' && !n.spec.taints?.some((t) => t.key === UNREACHABLE_TAINT_KEY), {
        timeoutMs: 15_000,
        message: 'Ready again, untainted',
      });
      await waitFor(async () => (await nodeReady(metricsUrl, 'alpha')) === 1, { message: 'shoal_node_ready{node="alpha"} 1 again' });
      alpha.stop();
      beta.stop();
    },
    ['--controllers', 'scheduler,health'],
  );
});

test('a hand-made Node without a lease or fencing is left alone', async () => {
  await withCluster(
    async ({ client, metricsUrl }) => {
      await addNode(client, 'static');
      // Wait until the health controller has looked at it (twice: the add and the status write).
      await waitFor(async () => (await metric(metricsUrl, /^shoal_controller_reconcile_total\{controller="health",result="success"\} (\d+)$/m)) >= 2, {
        message: 'health reconciles',
      });
      const node = await client.get<Node>('node', 'static');
      assert.equal(readyOf(node)?.status, 'True');
      assert.equal(node.spec?.taints, undefined);
    },
    ['--controllers', 'health'],
  );
});
