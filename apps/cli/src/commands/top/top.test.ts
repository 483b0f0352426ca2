/**
 * `shoalctl top` through the real binary, against a real etcd, apiserver and shoal-agent running
 * QEMU microVMs: the usage it shows is measured from their QEMU processes. Nodes whose agent
 * cannot be reached, or answers nonsense, stand beside the real one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeObject, Node, VirtualMachine } from '@shoal/api';
import { freePort, startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl } from '../../test-support/shoalctl.js';

let cluster: TestCluster;
/** An "agent" that answers /stats/vms with a summary missing its fields. */
let liar: Server;
const NS = 'top';
const NODE = 'qemu-1';

const run = (...args: string[]) => shoalctl(['--server', cluster.url, '-n', NS, ...args]);

const vm = (name: string, command: string): KubeObject => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: { nodeName: NODE, resources: { vcpus: 1, memoryMiB: 128 }, network: { mode: 'none' }, command: ['sh', '-c', command] },
});

async function createNode(name: string, agentAddress: string): Promise<void> {
  await cluster.client.create('Node', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name } });
  await cluster.client.patch('Node', name, { status: { agentAddress } }, { type: 'merge', status: true });
}

/** The rows of a `top` table as objects keyed by its header. */
function rows(stdout: string): Record<string, string>[] {
  const [header, ...lines] = stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  return lines.map((cells) => Object.fromEntries(header!.map((h, i) => [h, cells[i]!])));
}
const millis = (cell: string | undefined) => Number(/^(\d+)m$/.exec(cell ?? '')?.[1] ?? NaN);
const mebis = (cell: string | undefined) => Number(/^(\d+)Mi$/.exec(cell ?? '')?.[1] ?? NaN);

before(async () => {
  cluster = await startCluster();
  await createNamespace(cluster.client, NS);
  const agent = cluster.startAgent(NODE, { args: ['--usage-interval', '1', '--vcpus', '2', '--memory-mib', '1024', '--stop-grace', '2'], timeoutMs: 120_000 });
  liar = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[{"name":"x"}]}'));
  await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
  await createNode('liar', `http://127.0.0.1:${(liar.address() as AddressInfo).port}`);
  await createNode('gone', `http://127.0.0.1:${await freePort()}`);
  await agent;
  await waitForObject(cluster.client, 'Node', NODE, (n) => !!n.status?.agentAddress, { message: 'the agent to register its address' });
  await cluster.client.create('vm', vm('busy', 'while :; do :; done'));
  await cluster.client.create('vm', vm('idle', 'while :; do sleep 60; done'));
  for (const name of ['busy', 'idle'])
    await waitForObject(cluster.client, 'VirtualMachine', name, (v: VirtualMachine) => v.status?.phase === 'Running', {
      namespace: NS,
      timeoutMs: 120_000,
      message: `${name} Running`,
    });
});
after(async () => {
  await cluster?.stop();
  await new Promise((r) => liar?.close(r));
  await removeTestHome();
});

test('top vms shows what each running VM uses, the busy guest first by CPU, as a share of its own vCPU', async () => {
  let last = '';
  // The first samples average over the boot, when every guest is busy; a second of idling later they part.
  await waitFor(
    async () => {
      const r = await run('top', 'vms', '--sort-by', 'cpu');
      last = r.stdout + r.stderr;
      const table = rows(r.stdout);
      return r.exitCode === 0 && table[0]?.NAME === 'busy' && millis(table[0]['CPU(cores)']) >= 300 && millis(table[1]?.['CPU(cores)']) < 300;
    },
    { timeoutMs: 60_000, intervalMs: 500, message: 'busy first with at least 300m, idle below', lastSeen: () => last },
  );
  const table = rows((await run('top', 'vms', '--sort-by', 'cpu')).stdout);
  assert.deepEqual(Object.keys(table[0]!), ['NAME', 'CPU(cores)', 'CPU%', 'MEMORY(bytes)', 'MEMORY%']);
  const busy = table[0]!;
  // One vCPU spinning under TCG: its share of the VM's one vCPU tracks its millicores.
  assert.equal(Number(busy['CPU%']!.replace('%', '')), Math.round(millis(busy['CPU(cores)']) / 10));
  // The guest's RAM it touched plus QEMU's own: tens of MiB, not more than the 128 MiB given and QEMU.
  for (const row of table) assert.ok(mebis(row['MEMORY(bytes)']) > 10 && mebis(row['MEMORY(bytes)']) < 512, JSON.stringify(row));

  const one = await run('top', 'vms', 'idle');
  assert.equal(one.exitCode, 0, one.stderr);
  assert.deepEqual(
    rows(one.stdout).map((r) => r.NAME),
    ['idle'],
  );
  const selected = await run('top', 'vms', '-l', 'app=busy', '--no-headers');
  assert.match(selected.stdout, /^busy\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\n$/);
  const everywhere = await run('top', 'vms', '-A');
  assert.deepEqual(
    rows(everywhere.stdout).map((r) => `${r.NAMESPACE}/${r.NAME}`),
    ['top/busy', 'top/idle'],
  );
});

test('top nodes sums the VMs on each node; a node whose agent is unreachable or answers nonsense shows <unknown>', async () => {
  const r = await run('top', 'nodes');
  assert.equal(r.exitCode, 0, r.stderr);
  const byName = Object.fromEntries(rows(r.stdout).map((row) => [row.NAME, row]));
  const node = byName[NODE]!;
  assert.equal(node.VMS, '2');
  assert.ok(millis(node['CPU(cores)']) >= 300, JSON.stringify(node));
  // Of the node's 2 allocatable vCPUs.
  assert.equal(Number(node['CPU%']!.replace('%', '')), Math.round(millis(node['CPU(cores)']) / 20));
  for (const name of ['gone', 'liar']) assert.deepEqual(Object.values(byName[name]!).slice(1), Array(5).fill('<unknown>'), name);

  // Asked for alone, each says what is wrong with it.
  const liarNode = await cluster.client.request('GET', '/apis/metrics.shoal.dev/v1alpha1/nodes/liar').catch((e: Error) => e);
  assert.match(String(liarNode), /node liar .* malformed summary: items\[0\]|node liar .*malformed summary: .*items/);
  const goneNode = await cluster.client.request('GET', '/apis/metrics.shoal.dev/v1alpha1/nodes/gone').catch((e: Error) => e);
  assert.match(String(goneNode), /cannot reach the agent of node gone/);
});

test('the agent exports each VM’s CPU seconds and resident memory for Prometheus', async () => {
  const node = await cluster.client.get<Node>('node', NODE);
  const text = await (await fetch(`${node.status!.agentAddress}/metrics`)).text();
  const value = (metric: string) => Number(new RegExp(`^${metric}\\{namespace="top",vm="busy"\\} (\\S+)$`, 'm').exec(text)?.[1]);
  assert.ok(value('shoal_vm_cpu_seconds_total') > 1, text);
  assert.ok(value('shoal_vm_memory_rss_bytes') > 10 * 1024 ** 2);
});

test('a VM that is not running has no usage, and says so; one that does not exist is NotFound', async () => {
  const halted = vm('later', 'true') as VirtualMachine;
  await cluster.client.create('vm', { ...halted, spec: { ...halted.spec, runStrategy: 'Halted' } });
  const stopped = await run('top', 'vms', 'later');
  assert.equal(stopped.exitCode, 1);
  assert.match(stopped.stderr, /no usage of virtualmachine later: it is not running/);
  const missing = await run('top', 'vms', 'nothing');
  assert.equal(missing.exitCode, 1);
  assert.match(missing.stderr, /"nothing" not found/);
  const direct = await cluster.client.request('GET', `/apis/metrics.shoal.dev/v1alpha1/namespaces/${NS}/virtualmachines/later`).catch((e: Error) => e);
  assert.match(String(direct), /virtualmachinemetrics.metrics.shoal.dev "later" not found: the virtualmachine is not running/);
});
