/**
 * Two apiservers over one etcd; a controller-manager and a simulated node agent given both
 * (`--server A,B`). kill -9 of the apiserver they use: they carry on through the other — VMs
 * made afterwards are bound and Running, the processes never exit — and once it is back and
 * the other one dies, they carry on through it again. Throughout, a watch on every VM checks
 * that no VM is ever bound twice, and after every fault every declared VM exists, is bound
 * once and is Running.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { VirtualMachine } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, type AgentProcess, type ShoalProcess, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let controllerManager: ShoalProcess;
let agent: AgentProcess;
let client: ShoalClient;
const declared: string[] = [];
const watching = new AbortController();
let watchDone: Promise<void>;
/** Each VM's node as first seen bound, and every event that disagreed with it. */
const boundTo = new Map<string, string>();
const rebinds: string[] = [];

before(async () => {
  // The controller-manager and the agent are given both apiservers (`--server A,B`), as is the client.
  cluster = await startCluster({ apiservers: 2, controllerManager: true });
  controllerManager = cluster.controllerManager!;
  client = cluster.client;
  const list = await client.list<VirtualMachine>('vm');
  watchDone = (async () => {
    try {
      for await (const e of client.watch<VirtualMachine>('vm', { resourceVersion: list.metadata.resourceVersion }, watching.signal)) {
        if (e.type !== 'ADDED' && e.type !== 'MODIFIED') continue;
        const name = e.object.metadata.name!;
        const node = e.object.spec.nodeName;
        const first = boundTo.get(name);
        if (first === undefined && node) boundTo.set(name, node);
        else if (first !== undefined && node !== first) rebinds.push(`${name}: ${first} → ${node ?? '(unbound)'}`);
      }
    } catch (err) {
      if (!watching.signal.aborted) rebinds.push(`the VM watch failed: ${(err as Error).message}`);
    }
  })();
  agent = await cluster.startAgent('sim', { args: ['--runtime', 'simulated', '--simulate-nodes', '3', '--vcpus', '8', '--memory-mib', '8192'] });
  await waitFor(async () => (await client.list('node')).items.length === 3, { timeoutMs: 20_000, message: '3 simulated nodes' });
});

after(async () => {
  watching.abort();
  await watchDone;
  await cluster?.stop();
});

async function createVms(prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${i}`;
    await client.create('vm', { metadata: { name, namespace: 'default' }, spec: { resources: { vcpus: 1, memoryMiB: 256 } } });
    declared.push(name);
  }
}

/** Every declared VM exists, is bound (once: see the watch) and Running. */
async function converged(when: string): Promise<void> {
  const vms = await waitFor(
    async () => {
      const items = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items;
      const byName = new Map(items.map((v) => [v.metadata.name!, v]));
      return declared.every((n) => byName.get(n)?.status?.phase === 'Running' && byName.get(n)?.spec.nodeName) ? byName : undefined;
    },
    { timeoutMs: 30_000, message: `all ${declared.length} declared VMs to be Running ${when}` },
  );
  await waitFor(() => declared.every((n) => boundTo.has(n)), { message: 'the watch to have seen every VM bound' });
  for (const name of declared) assert.equal(vms.get(name)!.spec.nodeName, boundTo.get(name), `${name} is still on the node it was first bound to`);
  assert.deepEqual(rebinds, [], 'no VM was ever bound twice');
}

async function alive(p: ShoalProcess): Promise<boolean> {
  return (await Promise.race([p.exited.then(() => false), new Promise<boolean>((r) => setImmediate(() => r(true)))])) === true;
}

async function kill(i: number): Promise<void> {
  await cluster.apiservers[i]!.kill();
}

test('VMs are bound once and Running with both apiservers up', async () => {
  await createVms('first', 6);
  await converged('with both apiservers up');
});

test('kill -9 of the first apiserver: the controller-manager and the agent carry on through the second', async () => {
  await kill(0);
  await createVms('after-first-died', 6);
  await converged('after the first apiserver died');
  assert.ok(await alive(controllerManager), `the controller-manager is still running:\n${controllerManager.output()}`);
  assert.ok(await alive(agent), `the agent is still running:\n${agent.output()}`);
});

test('the first apiserver back, the second killed: they carry on through the first again', async () => {
  const first = await cluster.restartApiserver(0);
  assert.equal((await fetch(`${first.url}/readyz`)).status, 200);
  await kill(1);
  await createVms('after-second-died', 6);
  await converged('after the second apiserver died');
  assert.ok(await alive(controllerManager), `the controller-manager is still running:\n${controllerManager.output()}`);
  assert.ok(await alive(agent), `the agent is still running:\n${agent.output()}`);
  // Bring the second back too, as an operator would, and check it serves the same state.
  const second = await cluster.restartApiserver(1);
  const viaSecond = new ShoalClient({ server: second.url });
  try {
    const names = (await viaSecond.list<VirtualMachine>('vm', { namespace: 'default' })).items.map((v) => v.metadata.name).sort();
    assert.deepEqual(names, [...declared].sort());
  } finally {
    await viaSecond.close();
  }
});
