/**
 * Volumes end to end: a real etcd, apiserver and controller-manager, and two QEMU agents as
 * separate hosts. A disk belongs to its VM, not to the host it ran on:
 *
 *   a file written to a local Volume     → a later VM attaching it reads it back, on the node
 *                                           that holds it; the Volume is kept while attached
 *                                           and its file goes with it
 *   a VM's local disk on a lost node      → Pending, naming the volume and its node — never
 *                                           booted elsewhere on an empty disk; back with its
 *                                           data once the node returns
 *   a VM on a shared pool, node lost      → back on the other node with its data
 *
 * The guests write and read a marker on /dev/vda with dd; their consoles are read from the
 * agents' run directories.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VirtualMachine, Volume } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { runningVmProcesses, startCluster, VmProcessWatcher, waitFor, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let client: ShoalClient;
let sharedDir: string;
const watcher = new VmProcessWatcher();
const NODES = ['vol-a', 'vol-b'];
/** Short lease and fence timeouts: a killed host's VMs are given up on within seconds. */
const AGENT_ARGS = ['--lease-duration', '4', '--fence-timeout', '6', '--stop-grace', '5'];
const agents = new Map<string, AgentProcess>();

before(async () => {
  cluster = await startCluster({ controllerManager: true });
  client = cluster.client;
  sharedDir = await mkdtemp(join(tmpdir(), 'shoal-shared-pool-'));
  // Side by side: each agent start is seconds of loading.
  for (const [i, a] of (await Promise.all(NODES.map((n) => cluster.startAgent(n, { args: AGENT_ARGS })))).entries()) agents.set(NODES[i]!, a);
  watcher.start();
});

after(async () => {
  const seen = await watcher.stop();
  await cluster?.stop();
  await rm(sharedDir, { recursive: true, force: true });
  assert.deepEqual(seen.duplicates, [], `no VM ran twice (${seen.scans} scans of /proc)`);
});

/**
 * Reads the disk's first sector: prints FOUND-<marker> when it holds the marker, else writes it
 * and prints WROTE-<marker>; then idles.
 */
const markerCommand = (marker: string) => [
  'sh',
  '-c',
  `if dd if=/dev/vda bs=512 count=1 2>/dev/null | grep -q ${marker}; then echo FOUND-${marker}; else echo ${marker} | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sync; echo WROTE-${marker}; fi; sleep 600`,
];

async function createVolume(name: string, pool?: string): Promise<void> {
  await client.create('volume', { metadata: { name, namespace: 'default' }, spec: { sizeGiB: 1, ...(pool ? { pool } : {}) } });
}

async function createVm(name: string, volume: string, marker: string): Promise<void> {
  await client.create('vm', {
    metadata: { name, namespace: 'default' },
    spec: {
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: 'none' },
      volumes: [{ name: 'data', volumeName: volume }],
      command: markerCommand(marker),
    },
  });
}

const running = (name: string, timeoutMs = 60_000) =>
  waitForObject(client, 'VirtualMachine', name, (vm) => vm.status?.phase === 'Running' && !!vm.spec.nodeName, {
    namespace: 'default',
    timeoutMs,
    message: `${name} Running`,
  });

/** The console of the VM's current boot on its node. */
async function consoleOf(vm: VirtualMachine): Promise<string> {
  const agent = agents.get(vm.spec.nodeName!)!;
  return readFile(join(agent.dataDir, 'vms', vm.metadata.uid!, 'serial.log'), 'utf8').catch(() => '');
}

async function consoleSays(name: string, text: string, timeoutMs = 30_000): Promise<VirtualMachine> {
  return waitFor(
    async () => {
      const vm = await client.get<VirtualMachine>('vm', name, { namespace: 'default' });
      return vm.spec.nodeName && (await consoleOf(vm)).includes(text) ? vm : undefined;
    },
    { timeoutMs, message: `${name}'s console to say ${text}` },
  );
}

async function deleteVm(name: string): Promise<void> {
  await client.delete('vm', name, { namespace: 'default' });
  await waitFor(async () => !(await client.list<VirtualMachine>('vm', { namespace: 'default' })).items.some((v) => v.metadata.name === name), {
    timeoutMs: 30_000,
    message: `${name} deleted`,
  });
}

const volumeNow = (name: string) => client.get<Volume>('volume', name, { namespace: 'default' });

/** Kills a host's agent; its supervisors fence its guests once its heartbeat is older than the fence timeout. */
async function loseNode(node: string): Promise<void> {
  await agents.get(node)!.kill();
}

async function bringBack(node: string): Promise<void> {
  agents.set(node, await cluster.startAgent(node, { args: AGENT_ARGS, dataDir: agents.get(node)!.dataDir }));
}

test('a file written to a local volume outlives its VM: a new VM attaching it reads it back on the node that holds it; the volume goes only once unused, and its file with it', async () => {
  await createVolume('keep');
  await createVm('writer', 'keep', 'marker-keep');
  const writer = await consoleSays('writer', 'WROTE-marker-keep');
  const made = await volumeNow('keep');
  assert.equal(made.status?.phase, 'Available');
  assert.equal(made.status?.node, writer.spec.nodeName, 'the node of its first VM holds it');
  assert.ok(made.status?.path && existsSync(made.status.path), `its file exists: ${made.status?.path}`);
  await deleteVm('writer');
  assert.ok(existsSync(made.status!.path!), 'deleting the VM keeps a volume it does not own');

  await createVm('reader', 'keep', 'marker-keep');
  const reader = await consoleSays('reader', 'FOUND-marker-keep');
  assert.equal(reader.spec.nodeName, made.status?.node, 'placed where its disk is');

  await client.delete('volume', 'keep', { namespace: 'default' });
  const terminating = await volumeNow('keep');
  assert.ok(terminating.metadata.deletionTimestamp, 'Terminating while attached');
  assert.ok((await runningVmProcesses()).has(reader.metadata.uid!), 'the guest keeps its disk');
  await deleteVm('reader');
  await waitFor(async () => !(await client.list<Volume>('volume', { namespace: 'default' })).items.some((v) => v.metadata.name === 'keep'), {
    timeoutMs: 30_000,
    message: 'the volume gone once no VM attaches it',
  });
  assert.ok(!existsSync(made.status!.path!), 'and its file removed from the node');
});

test('a VM whose local disk is on a lost node stays Pending, naming the volume and the node; it comes back there with its data', async () => {
  await createVolume('pinned-disk');
  await createVm('pinned', 'pinned-disk', 'marker-pinned');
  const first = await consoleSays('pinned', 'WROTE-marker-pinned');
  const home = first.spec.nodeName!;
  await loseNode(home);
  const pending = await waitForObject(
    client,
    'VirtualMachine',
    'pinned',
    (vm) => !vm.spec.nodeName && /volume pinned-disk lives on node/.test(vm.status?.conditions?.find((c) => c.type === 'Scheduled')?.message ?? ''),
    { namespace: 'default', timeoutMs: 60_000, message: 'Pending, the scheduler naming the volume and its node' },
  );
  const scheduled = pending.status!.conditions!.find((c) => c.type === 'Scheduled')!;
  assert.equal(scheduled.status, 'False');
  assert.match(scheduled.message ?? '', new RegExp(`volume pinned-disk lives on node ${home}`));
  await bringBack(home);
  const back = await consoleSays('pinned', 'FOUND-marker-pinned', 60_000);
  assert.equal(back.spec.nodeName, home, 'back on the node that holds its disk');
  await deleteVm('pinned');
});

test('a VM on a shared pool comes back on another node with its data when its node is lost', async () => {
  await client.create('storagepool', { metadata: { name: 'shared' }, spec: { type: 'shared', path: sharedDir } });
  await createVolume('roaming-disk', 'shared');
  await createVm('roamer', 'roaming-disk', 'marker-roam');
  const first = await consoleSays('roamer', 'WROTE-marker-roam');
  const volume = await volumeNow('roaming-disk');
  assert.ok(volume.status?.path?.startsWith(sharedDir), `made in the shared pool: ${volume.status?.path}`);
  const lost = first.spec.nodeName!;
  await loseNode(lost);
  const moved = await waitFor(
    async () => {
      const vm = await running('roamer', 5_000).catch(() => undefined);
      return vm && vm.spec.nodeName !== lost ? vm : undefined;
    },
    { timeoutMs: 90_000, message: 'roamer Running on the other node' },
  );
  await consoleSays('roamer', 'FOUND-marker-roam');
  assert.equal(moved.metadata.uid, first.metadata.uid, 'the same VM, moved');
  await bringBack(lost);
  await deleteVm('roamer');
});
