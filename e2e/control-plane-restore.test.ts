/**
 * Disaster recovery of the control plane on a real cluster: etcd, an apiserver, the
 * controller-manager and a node agent running real QEMU microVMs.
 *
 *   snapshot (shoalctl admin snapshot save) → a VM created after it → the apiserver stopped, etcd
 *   stopped and its data dir wiped → shoalctl admin snapshot restore into it → etcd and the
 *   apiserver started again
 *
 * and then: every object of the snapshot is back with its uid; the VM that ran throughout is
 * re-adopted by its agent, never rebooted (the same QEMU process, the same boot time); the VM
 * created after the snapshot no longer exists, so its agent, having relisted (its watch from a
 * version of the lost history got 410), stops its QEMU; the agent renews its lease again and the
 * controllers schedule a new VM — without any of them being restarted.
 *
 * The agent runs with a fence timeout longer than this outage: a VM outlives a control plane that
 * is away for less than its node's fence timeout, and only then (README, "Disaster recovery").
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { kinds, NODE_LEASE_NAMESPACE, type Lease, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { processAlive, REPO_ROOT, startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';

const NODE = 'node-a';
const BOOT_MS = 60_000;
let cluster: TestCluster;
let client: ShoalClient;
let dir: string;

const shoalctl = (args: string[]) => execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), '--server', cluster.url, ...args], { reject: false });

const vm = (name: string, runStrategy = 'Always') => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: 'default' },
  spec: { runStrategy, resources: { vcpus: 1, memoryMiB: 128 }, command: ['sh', '-c', 'sleep 600'] },
});

const running = (name: string, timeoutMs = BOOT_MS) =>
  waitForObject(client, 'VirtualMachine', name, (v) => v.status?.phase === 'Running' && Boolean(v.status.pid), {
    timeoutMs,
    intervalMs: 50,
    message: `${name} Running`,
  });

/** When a process started, in clock ticks since boot (/proc/PID/stat, field 22): a pid reused by another process would differ. */
async function startedAt(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

async function everyObject(): Promise<Map<string, string>> {
  const all = new Map<string, string>();
  for (const kind of kinds().all)
    for (const o of (await client.listAll(kind)).items) all.set(`${kind.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.uid!);
  return all;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shoal-restore-e2e-'));
  cluster = await startCluster({
    controllerManager: true,
    agents: [NODE],
    agentArgs: ['--vcpus', '4', '--memory-mib', '2048', '--fence-timeout', '45'],
  });
  client = cluster.client;
  await client.create('vm', vm('keeper'));
  await running('keeper');
});

after(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('snapshot, etcd lost, restore: every object back with its uid, the running VM re-adopted and not rebooted, clients relisted', async () => {
  const keeper = await running('keeper');
  const keeperPid = keeper.status!.pid!;
  const keeperStarted = await startedAt(keeperPid);
  const objects = await everyObject();
  const file = join(dir, 'etcd.db');
  const saved = await shoalctl(['admin', 'snapshot', 'save', file]);
  assert.equal(saved.exitCode, 0, saved.stderr);

  // Made after the snapshot: the restored cluster never heard of it.
  await client.create('vm', vm('ghost'));
  const ghostPid = (await running('ghost')).status!.pid!;

  // The disaster: the control plane stops and etcd's data is lost.
  const outageStarted = Date.now();
  await cluster.apiserver.stop();
  await cluster.etcd.halt();
  await rm(cluster.etcd.dataDir, { recursive: true, force: true });

  const restored = await shoalctl([
    'admin',
    'snapshot',
    'restore',
    file,
    '--data-dir',
    cluster.etcd.dataDir,
    '--name',
    cluster.etcd.name,
    '--initial-advertise-peer-urls',
    cluster.etcd.peerUrl,
    '--initial-cluster',
    `${cluster.etcd.name}=${cluster.etcd.peerUrl}`,
    '--initial-cluster-token',
    cluster.etcd.clusterToken,
    '--advertise-client-urls',
    cluster.etcd.endpoint,
    '--bump-revision',
    '5000',
  ]);
  assert.equal(restored.exitCode, 0, restored.stderr);
  assert.match(restored.stdout, new RegExp(`etcd --name ${cluster.etcd.name} --data-dir ${cluster.etcd.dataDir}`));
  await cluster.etcd.start();
  await cluster.restartApiserver(0);
  const outageMs = Date.now() - outageStarted;

  const now = await everyObject();
  for (const [key, uid] of objects) assert.equal(now.get(key), uid, `${key} is back with its uid`);
  await assert.rejects(client.get('vm', 'ghost'), { code: 404 });

  // The agent relisted (its watch from the lost history expired) and stopped what is not bound to it any more.
  await waitFor(() => !processAlive(ghostPid), { timeoutMs: 30_000, message: 'the QEMU of the VM made after the snapshot to be stopped by its agent' });

  // The VM that ran throughout was re-adopted: same process, same boot, one boot on its console.
  const after = await running('keeper', 30_000);
  assert.equal(after.metadata.uid, keeper.metadata.uid);
  assert.equal(after.status!.pid, keeperPid);
  assert.ok(processAlive(keeperPid), 'its QEMU still runs');
  assert.equal(await startedAt(keeperPid), keeperStarted, 'the very same process');
  assert.equal(after.status!.bootedAt, keeper.status!.bootedAt);
  assert.equal(after.status!.restarts, keeper.status!.restarts);
  const serial = await readFile(join(cluster.agents.get(NODE)!.dataDir, 'vms', keeper.metadata.uid!, 'serial.log'), 'utf8');
  assert.equal((serial.match(/SHOAL-BOOTED/g) ?? []).length, 1, 'booted once');

  // The agent renews its lease again, and the controllers act on new objects.
  const restoredAt = new Date(outageStarted + outageMs).toISOString();
  await waitFor(
    async () => {
      const lease = await client.get<Lease>('lease', NODE, { namespace: NODE_LEASE_NAMESPACE });
      return lease.spec.renewTime && lease.spec.renewTime > restoredAt;
    },
    { timeoutMs: 20_000, message: "the agent's lease renewed after the restore" },
  );
  await client.create('vm', vm('after-restore', 'Halted'));
  const placed = await waitForObject(client, 'VirtualMachine', 'after-restore', (v: VirtualMachine) => v.status?.phase === 'Stopped', {
    timeoutMs: 30_000,
    message: 'a VM made after the restore to be scheduled (the scheduler) and reported Stopped (the agent)',
  });
  assert.equal(placed.spec.nodeName, NODE);
  for (const [name, p] of [
    ['controller-manager', cluster.controllerManager!],
    ['agent', cluster.agents.get(NODE)!],
  ] as const) {
    const exited = await Promise.race([p.exited.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
    assert.equal(exited, false, `the ${name} carried on by itself:\n${p.output()}`);
  }
});
