/** One agent process standing in for several nodes with the simulated runtime: the scale-test setup. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster({ controllerManager: true });
  await cluster.startAgent('sim', { args: ['--runtime', 'simulated', '--simulate-nodes', '3', '--vcpus', '2', '--memory-mib', '1024'] });
  client = cluster.client;
});
after(async () => {
  await cluster?.stop();
});

test('every simulated node registers as a Ready node with the capacity it was given', async () => {
  const nodes = await waitFor(
    async () => {
      const list = await client.list<Node>('node');
      return list.items.length === 3 ? list.items : undefined;
    },
    { message: '3 nodes' },
  );
  assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), ['sim-0', 'sim-1', 'sim-2']);
  assert.ok(nodes.every((n) => n.status?.allocatable?.vcpus === 2));
});

test('VMs scheduled onto simulated nodes run, within capacity, and delete cleanly', async () => {
  for (let i = 0; i < 6; i++) await client.create('vm', { metadata: { name: `sim-vm-${i}` }, spec: { resources: { vcpus: 1, memoryMiB: 256 } } });
  const running = await waitFor(
    async () => {
      const list = await client.list<VirtualMachine>('vm');
      return list.items.filter((v) => v.status?.phase === 'Running').length === 6 ? list.items : undefined;
    },
    { timeoutMs: 30_000, message: '6 VMs Running' },
  );
  const perNode = new Map<string, number>();
  for (const vm of running) perNode.set(vm.spec.nodeName!, (perNode.get(vm.spec.nodeName!) ?? 0) + 1);
  assert.ok(
    [...perNode.values()].every((n) => n <= 2),
    `no node holds more than its 2 vCPUs: ${JSON.stringify([...perNode])}`,
  );
  for (let i = 0; i < 6; i++) await client.delete('vm', `sim-vm-${i}`);
  await waitFor(async () => (await client.list('vm')).items.length === 0, { timeoutMs: 30_000, message: 'all VMs gone' });
});
