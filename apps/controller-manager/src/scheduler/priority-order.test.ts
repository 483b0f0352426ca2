/**
 * The scheduler places higher spec.priority first (the VirtualMachine schema's promise), through
 * the real controller-manager process on a real etcd + apiserver. The VMs are a backlog the
 * scheduler finds when it starts — as after a restart or a failover — so every one of them is
 * in its queue before the first decision, and the queue's order alone decides who gets the room.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PriorityClass, VirtualMachine } from '@shoal/api';
import { waitFor } from '@shoal/testing';
import { addNode, addVm, scheduledCondition, withCluster } from '../test-support/scheduler-cluster.js';

/** Created in this order, which is also the order the informer lists them in (by name). */
const LOW = ['batch-0', 'batch-1', 'batch-2'];
const HIGH = ['batch-3', 'batch-4', 'batch-5'];

test('with room for three of six waiting VMs, the three of higher priority, created last, are the ones placed', async () => {
  await withCluster(
    async ({ client }) => {
      const settled = await waitFor(
        async () => {
          const vms = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items;
          const bound = vms.filter((v) => v.spec.nodeName).map((v) => v.metadata.name!);
          const pending = vms.filter((v) => !v.spec.nodeName && scheduledCondition(v)?.reason === 'Unschedulable').map((v) => v.metadata.name!);
          return bound.length + pending.length === 6 ? { bound: bound.sort(), pending: pending.sort() } : undefined;
        },
        { timeoutMs: 20_000, message: 'every VM bound or marked unschedulable' },
      );
      assert.deepEqual(settled.bound, HIGH, 'the higher priority went first, though created last');
      assert.deepEqual(settled.pending, LOW);
    },
    [],
    {
      before: async (client) => {
        await client.create<PriorityClass>('priorityclass', { metadata: { name: 'important' }, spec: { value: 500, preemptionPolicy: 'Never' } });
        await addNode(client, 'room-for-three', { vcpus: 3, memoryMiB: 4096 });
        for (const name of LOW) await addVm(client, name, { vcpus: 1 });
        for (const name of HIGH) await addVm(client, name, { vcpus: 1, spec: { priorityClassName: 'important' } });
        const high = await client.get<VirtualMachine>('vm', HIGH[0]!, { namespace: 'default' });
        assert.equal(high.spec.priority, 500, 'the apiserver copied the class value into spec.priority');
      },
    },
  );
});
