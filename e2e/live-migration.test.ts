/**
 * Live migration end to end: a real etcd, apiserver and controller-manager, two QEMU agents as
 * separate hosts, each with its own migration certificate from one CA. A Migration moves a
 * running guest from one node to the other:
 *
 *   the guest counts on its console   → the target's console carries on from the number after
 *                                       the source's last: one guest, never two running copies
 *   its local disk                     → mirrored to the target: a restart there reads back what
 *                                       the guest wrote before the move
 *   the VM                             → the same uid and address, bound to the target, Running
 *   a Migration deleted mid-transfer   → aborted: the guest runs on at the source, nothing is
 *                                       left waiting at the target
 *   the target agent killed mid-transfer → Failed with the reason; the guest runs on at the source
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Migration, VirtualMachine, Volume } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { runningVmProcesses, startCluster, waitFor, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let client: ShoalClient;
const NODES = ['mig-a', 'mig-b'];
const agents = new Map<string, AgentProcess>();
const ns = { namespace: 'default' };
/** Short lease and fence timeouts: a killed agent's node is given up on, and its QEMUs fenced, within seconds. */
const AGENT_ARGS = ['--lease-duration', '4', '--fence-timeout', '6', '--stop-grace', '5'];

before(async () => {
  cluster = await startCluster({ controllerManager: true, migrationTls: true });
  client = cluster.client;
  // One node first: the VMs start there.
  agents.set(NODES[0]!, await cluster.startAgent(NODES[0]!, { args: AGENT_ARGS }));
});

after(async () => {
  await cluster?.stop();
});

/**
 * Writes a marker to its disk's first sector unless it is there already (then says FOUND), and
 * counts on its console five times a second.
 */
const counterCommand = (marker: string) => [
  'sh',
  '-c',
  `if dd if=/dev/vda bs=512 count=1 2>/dev/null | grep -q ${marker}; then echo FOUND-${marker}; else echo ${marker} | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sync; echo WROTE-${marker}; fi; ` +
    'i=0; while true; do i=$((i+1)); echo TICK-$i; sleep 0.2; done',
];

async function consoleOn(node: string, uid: string): Promise<string> {
  return readFile(join(agents.get(node)!.dataDir, 'vms', uid, 'serial.log'), 'utf8').catch(() => '');
}

/** Deletes a VM and waits until it is gone (its guests with it): each case leaves the nodes' room as it found it. */
async function deleteVm(name: string): Promise<void> {
  await client.delete('vm', name, ns);
  await waitFor(async () => !(await client.list<VirtualMachine>('vm', ns)).items.some((v) => v.metadata.name === name), {
    timeoutMs: 60_000,
    message: `${name} deleted`,
  });
}

const ticks = (log: string) => [...log.matchAll(/TICK-(\d+)/g)].map((m) => Number(m[1]));

async function startCounter(name: string, marker: string): Promise<VirtualMachine> {
  await client.create('vm', {
    metadata: { name, ...ns },
    spec: {
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: 'none' },
      volumes: [{ name: 'data', volumeTemplate: { sizeGiB: 1 } }],
      command: counterCommand(marker),
    },
  });
  const vm = await waitForObject(client, 'VirtualMachine', name, (v) => v.status?.phase === 'Running' && !!v.spec.nodeName, {
    ...ns,
    timeoutMs: 90_000,
    message: `${name} Running`,
  });
  await waitFor(async () => ticks(await consoleOn(vm.spec.nodeName!, vm.metadata.uid!)).length >= 3, {
    timeoutMs: 60_000,
    message: `${name} counting on its console`,
  });
  return vm;
}

test('a live migration moves a running guest: its count carries on at the target, its local disk with it, the same VM', async () => {
  const before = await startCounter('counter', 'marker-live');
  const source = before.spec.nodeName!;
  assert.equal(source, NODES[0]);
  agents.set(NODES[1]!, await cluster.startAgent(NODES[1]!, { args: AGENT_ARGS }));
  await waitForObject(client, 'Node', NODES[1]!, (n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, {
    timeoutMs: 30_000,
    message: `${NODES[1]} Ready`,
  });

  await client.create('migration', { metadata: { name: 'move-counter', ...ns }, spec: { vmName: 'counter' } });
  const done = await waitForObject(client, 'Migration', 'move-counter', (m) => ['Succeeded', 'Failed', 'Aborted'].includes(m.status?.phase ?? ''), {
    ...ns,
    timeoutMs: 120_000,
    message: 'the migration to end',
  });
  assert.equal(done.status?.phase, 'Succeeded', `${done.status?.reason}: ${done.status?.message}`);
  assert.equal(done.status?.sourceNode, source);
  assert.equal(done.status?.targetNode, NODES[1], 'the only other node');
  const phases = (done.status?.phaseTransitions ?? []).map((t) => t.phase);
  assert.deepEqual(
    phases.filter((p) => ['Scheduling', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded'].includes(p)),
    ['Scheduling', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded'],
  );
  assert.ok(typeof done.status?.downtimeMs === 'number', 'the downtime is reported');

  const after = await client.get<VirtualMachine>('vm', 'counter', ns);
  assert.equal(after.spec.nodeName, NODES[1], 'bound to the target');
  assert.equal(after.metadata.uid, before.metadata.uid, 'the same VM');
  assert.equal(after.status?.phase, 'Running');
  assert.equal(after.status?.bootedAt, before.status?.bootedAt, 'not booted again');

  // The count: the source stopped at N, the target goes on from N+1 — one guest, moved.
  const uid = before.metadata.uid!;
  await waitFor(async () => ticks(await consoleOn(NODES[1]!, uid)).length >= 5, { timeoutMs: 30_000, message: 'the guest counting at the target' });
  const atSource = ticks(await consoleOn(source, uid));
  const atTarget = ticks(await consoleOn(NODES[1]!, uid));
  assert.equal(
    atTarget[0],
    atSource.at(-1)! + 1,
    `the target carries on from the source's last (source ended ${atSource.at(-1)}, target began ${atTarget[0]})`,
  );
  assert.deepEqual(
    atTarget,
    atTarget.map((_, i) => atTarget[0]! + i),
    'and counts on without a gap or a repeat',
  );
  await waitFor(async () => ((await runningVmProcesses()).get(uid) ?? []).length === 1, {
    timeoutMs: 30_000,
    message: 'one QEMU left for the VM: the paused copy at the source gone',
  });

  // The disk came along: a restart at the target reads the marker written before the move.
  await client.patch('vm', 'counter', { spec: { runStrategy: 'Halted' } }, { ...ns, type: 'merge' });
  await waitForObject(client, 'VirtualMachine', 'counter', (v) => v.status?.phase === 'Stopped', {
    ...ns,
    timeoutMs: 60_000,
    message: 'counter stopped',
  });
  await client.patch('vm', 'counter', { spec: { runStrategy: 'Always' } }, { ...ns, type: 'merge' });
  await waitFor(async () => (await consoleOn(NODES[1]!, uid)).includes('FOUND-marker-live'), {
    timeoutMs: 90_000,
    message: 'the rebooted guest to find the marker on its disk at the target',
  });
  const volume = await client.get<Volume>('volume', 'counter-data', ns);
  assert.equal(volume.status?.node, NODES[1], 'the local volume is held by the target now');
  await deleteVm('counter');
});

test('deleting a Migration during its transfer aborts it: the guest runs on at the source, nothing waits at the target', async () => {
  // On whichever node the scheduler picks: both are up by now.
  const vm = await startCounter('slow', 'marker-slow');
  const uid = vm.metadata.uid!;
  const source = vm.spec.nodeName!;
  const target = NODES.find((n) => n !== source)!;
  // 1 MiB/s: the transfer of the guest's memory takes long enough to be caught in the middle.
  await client.create('migration', { metadata: { name: 'move-slow', ...ns }, spec: { vmName: 'slow', policy: { bandwidthMiBps: 1 } } });
  await waitForObject(client, 'Migration', 'move-slow', (m) => (m.status?.transferredBytes ?? 0) > 0, {
    ...ns,
    timeoutMs: 90_000,
    message: 'the transfer under way',
  });
  assert.equal((await runningVmProcesses()).get(uid)?.length, 2, 'a QEMU waiting at the target beside the source');
  await client.delete('migration', 'move-slow', ns);
  await waitFor(async () => !(await client.list<Migration>('migration', ns)).items.some((m) => m.metadata.name === 'move-slow'), {
    timeoutMs: 60_000,
    message: 'the Migration gone once aborted',
  });
  await waitFor(async () => ((await runningVmProcesses()).get(uid) ?? []).length === 1, { timeoutMs: 30_000, message: 'the waiting QEMU at the target gone' });
  const still = await client.get<VirtualMachine>('vm', 'slow', ns);
  assert.equal(still.spec.nodeName, source, 'still bound to the source');
  assert.equal(still.status?.phase, 'Running');
  // Counting on at the source: the guest was never stopped for good.
  const count = ticks(await consoleOn(source, uid)).at(-1)!;
  await waitFor(async () => ticks(await consoleOn(source, uid)).at(-1)! > count + 5, { timeoutMs: 30_000, message: 'the guest counting on at the source' });
  assert.equal(ticks(await consoleOn(target, uid)).length, 0, 'the guest never ran at the target');
  await deleteVm('slow');
});

test('the target agent killed during the transfer: the Migration fails saying why, the guest runs on at the source', async () => {
  const vm = await startCounter('steady', 'marker-steady');
  const uid = vm.metadata.uid!;
  const source = vm.spec.nodeName!;
  const target = NODES.find((n) => n !== source)!;
  await client.create('migration', { metadata: { name: 'move-steady', ...ns }, spec: { vmName: 'steady', targetNode: target, policy: { bandwidthMiBps: 1 } } });
  await waitForObject(client, 'Migration', 'move-steady', (m) => (m.status?.transferredBytes ?? 0) > 0, {
    ...ns,
    timeoutMs: 90_000,
    message: 'the transfer under way',
  });
  const dataDir = agents.get(target)!.dataDir;
  await agents.get(target)!.kill();
  const failed = await waitForObject(client, 'Migration', 'move-steady', (m) => ['Succeeded', 'Failed', 'Aborted'].includes(m.status?.phase ?? ''), {
    ...ns,
    timeoutMs: 90_000,
    message: 'the migration to end',
  });
  assert.equal(failed.status?.phase, 'Failed');
  assert.ok(failed.status?.reason, 'with a reason');
  assert.ok(failed.status?.message, `and a message (${failed.status?.reason})`);
  const still = await client.get<VirtualMachine>('vm', 'steady', ns);
  assert.equal(still.spec.nodeName, source, 'still bound to the source');
  const count = ticks(await consoleOn(source, uid)).at(-1)!;
  await waitFor(async () => ticks(await consoleOn(source, uid)).at(-1)! > count + 5, { timeoutMs: 30_000, message: 'the guest counting on at the source' });
  // The fenced QEMU at the target is gone; back, its agent leaves nothing of the migration running.
  await waitFor(async () => ((await runningVmProcesses()).get(uid) ?? []).length === 1, { timeoutMs: 30_000, message: 'one QEMU left for the VM' });
  agents.set(target, await cluster.startAgent(target, { args: AGENT_ARGS, dataDir }));
  await waitFor(async () => (await client.get<VirtualMachine>('vm', 'steady', ns)).status?.phase === 'Running', {
    timeoutMs: 10_000,
    message: 'steady Running',
  });
  assert.equal(((await runningVmProcesses()).get(uid) ?? []).length, 1, 'still one QEMU for the VM');
  assert.equal(ticks(await consoleOn(target, uid)).length, 0, 'the guest never ran at the target');
});
