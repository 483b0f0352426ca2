/**
 * A VM's life on a real cluster: etcd, apiserver, controller-manager (scheduler) and a node
 * agent running real QEMU microVMs. What a user does with shoalctl, and what they must see.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { EVICTION_REQUESTED_ANNOTATION, type EvictionRequest, type VirtualMachine, type Volume } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { processAlive, REPO_ROOT, startCluster, waitFor, waitForGone, waitForObject, type TestCluster } from '@shoal/testing';

let cluster: TestCluster;
let client: ShoalClient;
const NODE = 'node-a';
const BOOT_MS = 120_000;

const shoalctl = (args: string[], input?: string) =>
  execa('node', [join(REPO_ROOT, 'bin/shoalctl.js'), '--server', cluster.url, ...args], { input, reject: false });

const manifest = (name: string, spec: object) =>
  JSON.stringify({ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name }, spec: { resources: { vcpus: 1, memoryMiB: 128 }, ...spec } });

const until = (name: string, ok: (vm: VirtualMachine) => boolean, message: string, timeoutMs = BOOT_MS) =>
  waitForObject(client, 'VirtualMachine', name, ok, { timeoutMs, intervalMs: 50, message });

/** The VM's directory on the agent: its console, disk and state. */
const runDir = (vm: VirtualMachine) => join(cluster.agents.get(NODE)!.dataDir, 'vms', vm.metadata.uid!);
const serialLog = (vm: VirtualMachine) => readFile(join(runDir(vm), 'serial.log'), 'utf8');

async function removeVm(name: string): Promise<void> {
  await client.delete('vm', name).catch(() => undefined);
  await waitForGone(client, 'VirtualMachine', name, { timeoutMs: 60_000 });
}

before(async () => {
  // A crashed guest is restarted after 1 s, not the default 10 s back-off (crash-loop-backoff.test.ts
  // tests the waits themselves): the QEMU killed below and the failing RerunOnFailure command come back at once.
  cluster = await startCluster({
    controllerManager: true,
    agents: [NODE],
    agentArgs: ['--vcpus', '4', '--memory-mib', '2048', '--stop-grace', '10', '--crash-loop-backoff-base', '1'],
  });
  client = cluster.client;
});
after(async () => {
  await cluster?.stop();
});

test('apply → Running: the boot marker is on the console and `shoalctl logs` shows the guest', async () => {
  const applied = await shoalctl(['apply', '-f', '-'], manifest('hello', { command: ['sh', '-c', 'echo hello-from-the-guest; sleep 600'] }));
  assert.equal(applied.exitCode, 0, applied.stderr);
  assert.match(applied.stdout, /virtualmachine.shoal.dev\/hello created/);
  const vm = await until('hello', (v) => v.status?.phase === 'Running', 'Running');
  assert.equal(vm.spec.nodeName, NODE, 'the scheduler bound it to the only node');
  assert.equal(vm.status!.ip, '10.0.2.15');
  assert.ok(vm.status!.pid && processAlive(vm.status!.pid));
  assert.equal(vm.status!.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  assert.match(await serialLog(vm), new RegExp(`SHOAL-BOOTED uid=${vm.metadata.uid}`));
  const logs = await waitFor(
    async () => {
      const r = await shoalctl(['logs', 'hello']);
      return r.exitCode === 0 && r.stdout.includes('hello-from-the-guest') ? r : undefined;
    },
    { timeoutMs: 20_000, message: 'the guest output in shoalctl logs' },
  );
  assert.match(logs.stdout, /SHOAL-BOOTED/);
  const got = await shoalctl(['get', 'vm', 'hello']);
  assert.match(got.stdout, /hello\s+Running\s+node-a/);
  const metrics = await (await fetch(`${cluster.agents.get(NODE)!.address}/metrics`)).text();
  assert.match(metrics, /shoal_agent_vm_instances\{phase="running"\} 1/);
});

test('kill -9 the agent and start it again: the VM keeps its QEMU process and is never rebooted', async () => {
  const before = await until('hello', (v) => v.status?.phase === 'Running', 'Running');
  const agent = cluster.agents.get(NODE)!;
  await agent.kill();
  assert.ok(processAlive(before.status!.pid!), 'the VM outlives its agent');
  await cluster.startAgent(NODE, { dataDir: agent.dataDir });
  // Give the new agent the time to converge, then check nothing moved.
  await waitFor(async () => (await fetch(`${cluster.agents.get(NODE)!.address}/readyz`)).ok, { timeoutMs: 30_000, message: 'agent ready' });
  const afterRestart = await until('hello', (v) => v.status?.phase === 'Running', 'Running after the agent restart', 30_000);
  assert.equal(afterRestart.status!.pid, before.status!.pid);
  assert.equal(afterRestart.status!.bootedAt, before.status!.bootedAt);
  assert.equal(afterRestart.status!.restarts, before.status!.restarts);
  const boots = (await serialLog(before)).match(/SHOAL-BOOTED/g) ?? [];
  assert.equal(boots.length, 1, 'booted exactly once');
});

test('kill the QEMU process: Always restarts it and counts the restart; Halted stops it', async () => {
  const before = await until('hello', (v) => v.status?.phase === 'Running', 'Running');
  process.kill(before.status!.pid!, 'SIGKILL');
  const restarted = await until('hello', (v) => v.status?.phase === 'Running' && v.status.pid !== before.status!.pid, 'Running again with a new process');
  assert.equal(restarted.status!.restarts, (before.status!.restarts ?? 0) + 1);
  const stopped = await shoalctl(['stop', 'vm', 'hello']);
  assert.equal(stopped.exitCode, 0, stopped.stderr);
  const halted = await until('hello', (v) => v.status?.phase === 'Stopped', 'Stopped', 60_000);
  assert.equal(halted.spec.runStrategy, 'Halted');
  assert.equal(halted.status!.pid, undefined);
  assert.ok(!processAlive(restarted.status!.pid!), 'the QEMU process is gone');
});

test('start brings a stopped VM back; restart reboots it without counting a failure', async () => {
  const started = await shoalctl(['start', 'vm', 'hello']);
  assert.equal(started.exitCode, 0, started.stderr);
  const running = await until('hello', (v) => v.status?.phase === 'Running', 'Running again after start');
  assert.equal(running.spec.runStrategy, 'Always', 'start restores the strategy stop replaced');
  const restarted = await shoalctl(['restart', 'vm', 'hello']);
  assert.equal(restarted.exitCode, 0, restarted.stderr);
  const rebooted = await until('hello', (v) => v.status?.phase === 'Running' && v.status.bootedAt !== running.status!.bootedAt, 'rebooted');
  assert.notEqual(rebooted.status!.pid, running.status!.pid);
  assert.equal(rebooted.status!.restarts, running.status!.restarts, 'a requested restart is not a crash');
});

test('delete: the QEMU process is gone and the object removed', async () => {
  const running = await until('hello', (v) => v.status?.phase === 'Running', 'Running');
  const deleted = await shoalctl(['delete', 'vm', 'hello']);
  assert.equal(deleted.exitCode, 0, deleted.stderr);
  assert.equal(((await client.get('vm', 'hello').catch((e: { code: number }) => e)) as { code?: number }).code, 404);
  assert.ok(!processAlive(running.status!.pid!), 'deletion waited for the process to end');
  await assert.rejects(readFile(join(runDir(running), 'vm.json')), 'its directory is cleaned');
});

test('RerunOnFailure reruns a failing command and leaves a finished one Stopped', async () => {
  // Two VMs of their own: applied, booted and removed side by side.
  await Promise.all([
    shoalctl(['apply', '-f', '-'], manifest('flaky', { runStrategy: 'RerunOnFailure', command: ['sh', '-c', 'echo failing; exit 3'] })),
    shoalctl(['apply', '-f', '-'], manifest('oneshot', { runStrategy: 'RerunOnFailure', command: ['sh', '-c', 'echo done'] })),
  ]);
  const rerun = await until('flaky', (v) => (v.status?.restarts ?? 0) >= 1, 'rerun after failing');
  assert.ok(rerun.status!.restarts! >= 1);
  const done = await until('oneshot', (v) => v.status?.phase === 'Stopped', 'Stopped after success');
  assert.equal(done.status!.reason, 'Completed');
  assert.equal(done.status!.restarts, 0);
  await Promise.all([removeVm('flaky'), removeVm('oneshot')]);
});

test('a root disk is a copy-on-write overlay the guest sees as /dev/vda, kept as the Volume <vm>-root that the VM owns', async () => {
  const base = join(cluster.agents.get(NODE)!.dataDir, 'base.raw');
  await execa('qemu-img', ['create', '-f', 'raw', base, '64M']);
  await shoalctl(
    ['apply', '-f', '-'],
    manifest('disky', { rootDisk: { baseImage: base }, command: ['sh', '-c', 'test -b /dev/vda && echo disk-is-there; sleep 600'] }),
  );
  const vm = await until('disky', (v) => v.status?.phase === 'Running', 'Running');
  await waitFor(async () => (await serialLog(vm)).includes('disk-is-there'), { timeoutMs: 20_000, message: 'the guest to see its disk' });
  const volume = await cluster.client.get<Volume>('volume', 'disky-root', { namespace: 'default' });
  assert.equal(volume.status?.phase, 'Available');
  assert.equal(volume.metadata.ownerReferences?.[0]?.uid, vm.metadata.uid, 'owned by the VM');
  const overlay = await execa('qemu-img', ['info', '-U', '--output=json', volume.status!.path!]);
  assert.equal(JSON.parse(overlay.stdout)['backing-filename'], base);
  await removeVm('disky');
  await waitFor(async () => !(await cluster.client.list<Volume>('volume', { namespace: 'default' })).items.some((v) => v.metadata.name === 'disky-root'), {
    timeoutMs: 30_000,
    message: 'the owned root volume deleted with its VM',
  });
  assert.ok(!existsSync(volume.status!.path!), 'and its file removed');
});

test('a VM that cannot fit stays Pending with a reason that says why', async () => {
  await shoalctl(['apply', '-f', '-'], manifest('huge', { resources: { vcpus: 16, memoryMiB: 128 } }));
  const pending = await until('huge', (v) => v.status?.phase === 'Pending' && !!v.status.conditions?.length, 'Pending with a condition', 30_000);
  const scheduled = pending.status!.conditions!.find((c) => c.type === 'Scheduled')!;
  assert.equal(scheduled.status, 'False');
  assert.equal(scheduled.reason, 'Unschedulable');
  assert.match(scheduled.message!, /0\/1 nodes are available: 1 insufficient (cpu|vcpus)/i);
  assert.equal(pending.spec.nodeName, undefined);
  await removeVm('huge');
});

test('an eviction request with grace 0 kills the QEMU process at once, then unbinds the VM', async () => {
  // A nodeSelector no node matches: the scheduler never places it, so the test binds it by hand
  // (as the scheduler would) and it stays unbound after the eviction instead of coming back.
  await shoalctl(['apply', '-f', '-'], manifest('evictee', { nodeSelector: { 'shoal.dev/test': 'nowhere' }, command: ['sh', '-c', 'sleep 600'] }));
  await until('evictee', (v) => v.status?.phase === 'Pending', 'Pending: no node matches', 30_000);
  await client.patch('vm', 'evictee', { spec: { nodeName: NODE } }, { type: 'merge' });
  const running = await until('evictee', (v) => v.status?.phase === 'Running', 'Running on the node it was bound to');
  const pid = running.status!.pid!;
  assert.ok(processAlive(pid));

  const request: EvictionRequest = {
    reason: 'Preempted',
    message: 'preempted by default/important (priority 900)',
    gracePeriodSeconds: 0,
    requestedAt: new Date().toISOString(),
  };
  const asked = Date.now();
  await client.patch('vm', 'evictee', { metadata: { annotations: { [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request) } } }, { type: 'merge' });
  const evicted = await until('evictee', (v) => !v.spec.nodeName, 'unbound', 30_000);
  // The guest ignores the ACPI power button, so a graceful stop would last the agent's whole
  // --stop-grace (10 s): done well within it means it was killed, as grace 0 asks.
  assert.ok(Date.now() - asked < 10_000, `evicted in ${Date.now() - asked} ms`);
  assert.ok(!processAlive(pid), 'the QEMU process was gone before the VM was unbound');
  await assert.rejects(readFile(join(runDir(running), 'vm.json')), 'its run directory is removed');
  assert.equal(evicted.status!.phase, 'Pending');
  assert.equal(evicted.status!.reason, 'Preempted');
  assert.equal(evicted.status!.pid, undefined);
  assert.equal(evicted.metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION], undefined);
  assert.ok(!evicted.metadata.finalizers?.includes('shoal.dev/agent'));
  await removeVm('evictee');
});
