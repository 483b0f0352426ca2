/**
 * Node faults with real microVMs: etcd, apiserver, controller-manager (scheduler + health) and
 * QEMU agents as separate "hosts", each with its own data dir. A watcher reads /proc the whole
 * time and records any VM uid running in two QEMU processes at once.
 *
 *   kill -9 an agent         its VMs keep running; NotReady only after the grace period; the
 *                            agent back before its fence timeout re-adopts them (same pid)
 *   SIGSTOP an agent         its supervisors fence the VMs; after lease + fence timeout they are
 *                            rescheduled and Running elsewhere; SIGCONT: the returning agent
 *                            cleans up and leaves the moved VM alone — never one VM twice
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { runningVmProcesses, startCluster, VmProcessWatcher, waitFor, waitForObject, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let client: ShoalClient;
const watcher = new VmProcessWatcher();

/** Lease 4 s and fence 6 s are the defaults; `patient` hosts get a long fence timeout so a restart beats it. */
const agentArgs = (fenceTimeout: number) => ['--lease-duration', '4', '--fence-timeout', String(fenceTimeout), '--stop-grace', '5'];

before(async () => {
  cluster = await startCluster({ controllerManager: true });
  client = cluster.client;
  watcher.start();
});
after(async () => {
  const seen = await watcher.stop();
  await cluster?.stop();
  assert.deepEqual(seen.duplicates, [], `no VM ran twice (${seen.scans} scans of /proc)`);
});

const get = (name: string) => client.get<VirtualMachine>('vm', name, { namespace: 'default' });
/** Waits until the node's Ready condition has this status. */
const readyIs = (node: string, status: Condition['status'], message: string) =>
  waitForObject(client, 'Node', node, (n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status === status, { timeoutMs: 20_000, message });

async function runningOn(name: string, node?: string, timeoutMs = 60_000): Promise<VirtualMachine> {
  return waitForObject(client, 'VirtualMachine', name, (vm) => vm.status?.phase === 'Running' && (!node || vm.spec.nodeName === node) && !!vm.status.pid, {
    namespace: 'default',
    timeoutMs,
    message: `Running${node ? ` on ${node}` : ''}`,
  });
}

async function createOn(name: string, node: string): Promise<VirtualMachine> {
  await client.create('vm', { metadata: { name }, spec: { resources: { vcpus: 1, memoryMiB: 128 }, nodeSelector: { 'shoal.dev/hostname': node } } });
  return runningOn(name, node);
}

/** Every declared VM exists, is bound to exactly one node, and is Running there with a live QEMU process. */
async function everyVmRunningOnce(names: string[]): Promise<void> {
  const processes = await runningVmProcesses();
  for (const name of names) {
    const vm = await runningOn(name);
    assert.equal(processes.get(vm.metadata.uid!)?.length ?? (await runningVmProcesses()).get(vm.metadata.uid!)?.length, 1, `${name}: one QEMU process`);
  }
}

test('kill -9 an agent: its VMs keep running, the node goes NotReady only after the grace period, and the agent back before fencing re-adopts them', async () => {
  const agent = await cluster.startAgent('patient', { args: agentArgs(30) });
  const vm = await createOn('steady', 'patient');
  const pid = vm.status!.pid as number;

  await agent.kill();
  const killedAt = Date.now();
  process.kill(pid, 0); // the guest runs on without its agent
  await readyIs('patient', 'Unknown', 'NotReady');
  const notReady = Date.now();
  assert.ok(notReady - killedAt >= 2_500, `NotReady after the grace period (4 s lease), not at once: ${notReady - killedAt} ms`);
  process.kill(pid, 0);
  assert.equal((await get('steady')).spec.nodeName, 'patient', 'not moved before the fence timeout');

  await cluster.startAgent('patient', { args: agentArgs(30), dataDir: agent.dataDir });
  await readyIs('patient', 'True', 'Ready again');
  const after = await runningOn('steady', 'patient');
  assert.equal(after.status?.pid, pid, 're-adopted: the same QEMU process');
  assert.equal(after.status?.restarts ?? 0, vm.status?.restarts ?? 0, 'never restarted');
  await everyVmRunningOnce(['steady']);
});

test('SIGSTOP an agent: its VM is fenced there, then rescheduled and Running elsewhere within the aim, and never runs twice', async () => {
  // The frozen host runs with the default timeouts; the VM may only go to it at first.
  const frozen = await cluster.startAgent('frozen', { args: agentArgs(6) });
  // The spare host starts while the VM boots: its selector holds it to frozen until dropped below.
  const [vm] = await Promise.all([createOn('mover', 'frozen'), cluster.startAgent('spare', { args: agentArgs(6) })]);
  // Let it move: drop the selector (a spec change the agent on frozen ignores: it only places).
  await client.patch('vm', 'mover', { spec: { nodeSelector: null } }, { type: 'merge', namespace: 'default' });

  process.kill(frozen.pid, 'SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await waitFor(async () => !(await runningVmProcesses()).has(vm.metadata.uid!), { timeoutMs: 15_000, message: 'the frozen host fences its VM' });
    const fencedAfter = Date.now() - stoppedAt;
    const moved = await waitForObject(
      client,
      'VirtualMachine',
      'mover',
      (v) => v.status?.phase === 'Running' && !!v.spec.nodeName && v.spec.nodeName !== 'frozen',
      {
        namespace: 'default',
        timeoutMs: 40_000,
        message: 'Running on another host',
      },
    );
    const movedAfter = Date.now() - stoppedAt;
    assert.equal(moved.metadata.uid, vm.metadata.uid, 'the same VM, moved');
    assert.notEqual(moved.status?.pid, vm.status?.pid);
    // The aim is 15 s with the defaults; under a loaded CI host we only require it to happen, and report the figure.
    process.stderr.write(`node-faults: fenced ${fencedAfter} ms and Running on ${moved.spec.nodeName} ${movedAfter} ms after SIGSTOP\n`);
    assert.ok(movedAfter >= (4 + 6) * 1000 - 1500, `not moved before lease + fence timeout (${movedAfter} ms)`);
  } finally {
    process.kill(frozen.pid, 'SIGCONT');
  }
  // The returning host is Ready again and leaves the moved VM alone.
  await readyIs('frozen', 'True', 'Ready again');
  const still = await runningOn('mover');
  assert.notEqual(still.spec.nodeName, 'frozen');
  await everyVmRunningOnce(['steady', 'mover']);
});
