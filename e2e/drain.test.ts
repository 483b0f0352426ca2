/**
 * cordon, uncordon and drain through shoalctl against real processes: etcd, apiserver,
 * controller-manager and one agent running two simulated nodes (sim-0, sim-1).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event, Node, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster({ controllerManager: true });
  await cluster.startAgent('sim', { args: ['--runtime', 'simulated', '--simulate-nodes', '2', '--vcpus', '8', '--memory-mib', '8192'] });
  client = cluster.client;
  await waitFor(async () => (await client.list('node')).items.length === 2, { message: 'two simulated nodes' });
});
after(async () => {
  await cluster?.stop();
});

const ctl = (...args: string[]) => shoalctl([...args, '--server', cluster.url]);
const vms = async () => (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items;

test('cordon stops placement on a node and uncordon allows it again; unknown nodes are a clear error', async () => {
  const c = await ctl('cordon', 'sim-0');
  assert.equal(c.exitCode, 0, c.stderr);
  assert.equal(c.stdout, 'node/sim-0 cordoned\n');
  assert.equal((await client.get<Node>('node', 'sim-0')).spec?.unschedulable, true);
  // Two runs side by side: sim-0 again, and a node that does not exist.
  const [again, missing] = await Promise.all([ctl('cordon', 'sim-0'), ctl('cordon', 'nope')]);
  assert.equal(again.stdout, 'node/sim-0 already cordoned\n');
  await client.create('vm', { metadata: { name: 'placed-while-cordoned' }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } });
  const vm = await waitForObject(client, 'VirtualMachine', 'placed-while-cordoned', (v) => !!v.spec.nodeName, { message: 'bound' });
  assert.equal(vm.spec.nodeName, 'sim-1');
  assert.equal((await ctl('uncordon', 'sim-0')).stdout, 'node/sim-0 uncordoned\n');
  assert.equal((await client.get<Node>('node', 'sim-0')).spec?.unschedulable, false);
  assert.equal(missing.exitCode, 2);
  assert.match(missing.stderr, /node "nope" not found/);
  await client.delete('vm', 'placed-while-cordoned');
  await waitFor(async () => (await vms()).length === 0, { message: 'cleaned up' });
});

test('drain cordons the node, shuts its VMs down (a LiveMigrate one too, when its migration fails) and they run on the other node; VMs elsewhere are untouched', async () => {
  await ctl('cordon', 'sim-1');
  for (let i = 0; i < 3; i++)
    await client.create('vm', {
      metadata: { name: `d-${i}` },
      spec: { resources: { vcpus: 1, memoryMiB: 128 }, evictionStrategy: i === 0 ? 'LiveMigrate' : 'Shutdown' },
    });
  await waitFor(async () => ((await vms()).filter((v) => v.status?.phase === 'Running' && v.spec.nodeName === 'sim-0').length === 3 ? true : undefined), {
    message: '3 Running on sim-0',
  });
  await ctl('uncordon', 'sim-1');
  await client.create('vm', {
    metadata: { name: 'bystander' },
    spec: { resources: { vcpus: 1, memoryMiB: 128 }, nodeSelector: { 'shoal.dev/hostname': 'sim-1' } },
  });
  const bystander = await waitForObject(client, 'VirtualMachine', 'bystander', (v) => v.status?.phase === 'Running', { message: 'Running' });

  const r = await ctl('drain', 'sim-0', '--grace-period', '0', '--timeout', '60s');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^node\/sim-0 cordoned\n/);
  for (let i = 0; i < 3; i++) {
    assert.match(r.stdout, new RegExp(`${i === 0 ? 'migrating' : 'evicting'} virtualmachine/default/d-${i}\\n`));
    assert.match(r.stdout, new RegExp(`virtualmachine/default/d-${i} evicted\\n`));
  }
  assert.match(r.stdout, /node\/sim-0 drained\n$/);
  // Simulated nodes cannot receive a live migration: d-0's Migration fails, and its node shuts it down instead, saying so.
  const fallback = await waitFor(
    async () =>
      (await client.list<Event>('event', { namespace: 'default' })).items.find((e) => e.involvedObject?.name === 'd-0' && e.reason === 'LiveMigrationFailed'),
    { timeoutMs: 15_000, message: "d-0's LiveMigrationFailed Event" },
  );
  assert.match(
    fallback?.message ?? '',
    /evictionStrategy LiveMigrate: live migration \S+ ended Failed \(MigrationUnsupported\); shutting the guest down instead/,
  );
  assert.equal((await client.get<Node>('node', 'sim-0')).spec?.unschedulable, true);

  const moved = await waitFor(
    async () => {
      const all = (await vms()).filter((v) => v.metadata.name!.startsWith('d-'));
      return all.every((v) => v.spec.nodeName === 'sim-1' && v.status?.phase === 'Running') ? all : undefined;
    },
    { timeoutMs: 30_000, message: 'drained VMs Running on sim-1' },
  );
  assert.ok(moved.every((v) => v.status?.restarts !== undefined));
  const after = (await vms()).find((v) => v.metadata.name === 'bystander')!;
  assert.equal(after.status?.bootedAt, bystander.status?.bootedAt, 'the VM on the other node was not restarted');

  const again = await ctl('drain', 'sim-0', '--timeout', '10s');
  assert.equal(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /already cordoned[\s\S]*node\/sim-0 drained/);
  assert.equal((await ctl('drain', 'sim-0', '--timeout', 'soon')).exitCode, 2);
});
