/**
 * Priority and preemption end to end: real etcd, apiserver, controller-manager (scheduler and
 * preemptor) and a simulated-runtime agent for one node with room for 4 one-vCPU VMs.
 * PriorityClasses are created through the API; priority admission copies them onto the VMs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EVICTION_REQUESTED_ANNOTATION, PREEMPTED_VICTIMS_ANNOTATION, type Event, type PriorityClass, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';
import { shoalctl, vmYaml } from '../apps/cli/src/test-support/shoalctl.js';

let cluster: TestCluster;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster({ controllerManager: true });
  await cluster.startAgent('host', { args: ['--runtime', 'simulated', '--vcpus', '4', '--memory-mib', '8192'] });
  client = cluster.client;
  const pc = (name: string, value: number, spec: Partial<PriorityClass['spec']> = {}) =>
    client.create('priorityclass', { metadata: { name }, spec: { value, ...spec } });
  await pc('batch', 100, { evictionGracePeriodSeconds: 0 });
  await pc('batch-peer', 105);
  await pc('critical', 900);
  await pc('polite', 900, { preemptionPolicy: 'Never' });
});
after(async () => {
  await cluster?.stop();
});

const get = (name: string) => client.get<VirtualMachine>('vm', name, { namespace: 'default' });
const create = (name: string, priorityClassName: string, vcpus = 1) =>
  client.create('vm', { metadata: { name, namespace: 'default' }, spec: { priorityClassName, resources: { vcpus, memoryMiB: 256 } } });

const running = (name: string) =>
  waitForObject(client, 'VirtualMachine', name, (vm) => vm.status?.phase === 'Running', { namespace: 'default', timeoutMs: 30_000, message: 'Running' });

const unschedulable = (name: string) =>
  waitForObject(
    client,
    'VirtualMachine',
    name,
    (vm) => !vm.spec.nodeName && vm.status?.conditions?.find((x) => x.type === 'Scheduled')?.reason === 'Unschedulable',
    {
      namespace: 'default',
      timeoutMs: 30_000,
      message: 'Unschedulable',
    },
  );

const events = async (reason: string) => (await client.list<Event>('event', { namespace: 'default' })).items.filter((e) => e.reason === reason);

/** A sample of the controller-manager's /metrics, summed over the series that match. */
async function metric(pattern: RegExp): Promise<number> {
  const text = await (await fetch(cluster.controllerManager!.metricsUrl)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(pattern.source, 'gm'))) sum += Number(m[1]);
  return sum;
}
const preemptorReconciles = () => metric(/^shoal_controller_reconcile_total\{controller="preemptor"[^}]*\} (\S+)$/);
const preemptorBusy = async () =>
  (await metric(/^shoal_workqueue_depth\{name="preemptor"\} (\S+)$/)) + (await metric(/^shoal_controller_active_workers\{controller="preemptor"\} (\S+)$/));

const batch = ['batch-0', 'batch-1', 'batch-2', 'batch-3'];

test('a critical VM evicts just enough lower-priority VMs, ends Running, and both sides record who preempted whom', async () => {
  for (const n of batch) await create(n, 'batch');
  const before = new Map<string, VirtualMachine>();
  for (const n of batch) before.set(n, await running(n));
  assert.equal((await get('batch-0')).spec.priority, 100, 'priority admission copied the class value');

  // A dry run first: `shoalctl place -f` shows the victims and evicts nothing.
  const dry = await shoalctl(['place', '-f', '-', '-o', 'json', '--server', cluster.url], {
    input: vmYaml('boss', { vcpus: 2, extraSpec: '  priorityClassName: critical' }),
  });
  assert.equal(dry.exitCode, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { node?: string; priority: number; preemption?: { node: string; victims: { vm: string; priority: number }[] } };
  assert.equal(plan.node, undefined);
  assert.equal(plan.priority, 900);
  assert.equal(plan.preemption?.node, 'host');
  assert.equal(plan.preemption?.victims.length, 2);
  assert.ok(plan.preemption!.victims.every((v) => v.priority === 100));
  const text = await shoalctl(['place', '-f', '-', '--server', cluster.url], {
    input: vmYaml('boss', { vcpus: 2, extraSpec: '  priorityClassName: critical' }),
  });
  assert.match(text.stdout, /cannot be placed now: 0\/1 nodes are available: 1 insufficient vcpus\./);
  assert.match(
    text.stdout,
    /Preemption \(priority 900\) would evict on node host:\n {2}default\/batch-\d \(priority 100\)\n {2}default\/batch-\d \(priority 100\)\n/,
  );
  await assert.rejects(get('boss'), /not found/, 'the dry run created nothing');
  for (const n of batch) assert.equal((await get(n)).metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION], undefined, `${n} not evicted by the dry run`);

  await create('boss', 'critical', 2);
  const boss = await running('boss');
  assert.equal(boss.spec.nodeName, 'host');
  assert.equal(boss.status?.nominatedNodeName, undefined, 'the bind clears the nomination');
  const recorded = (boss.metadata.annotations?.[PREEMPTED_VICTIMS_ANNOTATION] ?? '').split(',').sort();

  const after = await Promise.all(batch.map(get));
  const evicted = after.filter((v) => !v.spec.nodeName);
  const kept = after.filter((v) => v.spec.nodeName);
  assert.equal(evicted.length, 2, 'exactly the room needed: 2 of the 4 one-vCPU VMs');
  assert.deepEqual(recorded, evicted.map((v) => `default/${v.metadata.name}`).sort(), 'the preemptor records its victims');
  for (const v of evicted) {
    assert.equal(v.status?.preemptedBy, 'default/boss');
    assert.equal(v.status?.reason, 'Preempted');
    assert.equal(v.metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION], undefined, 'the request is done');
  }
  for (const v of kept) {
    assert.equal(v.status?.phase, 'Running');
    assert.equal(v.status?.bootedAt, before.get(v.metadata.name!)!.status?.bootedAt, `${v.metadata.name} was never restarted`);
  }
  // Victims wait Pending (runStrategy Always): they re-queue, and there is no room for them.
  for (const v of evicted) await unschedulable(v.metadata.name!);

  const preempted = await waitFor(
    async () => {
      const e = await events('Preempted');
      return e.length === 2 ? e : undefined;
    },
    { message: 'two Preempted events' },
  );
  assert.deepEqual(preempted.map((e) => e.involvedObject.name).sort(), evicted.map((v) => v.metadata.name).sort());
  assert.ok(preempted.every((e) => e.type === 'Warning' && /preempted by default\/boss \(priority 900\)/.test(e.message ?? '')));
  const preempting = await waitFor(async () => {
    const e = (await events('Preempting')).filter((x) => x.involvedObject.name === 'boss');
    return e.length ? e : undefined;
  });
  assert.match(preempting[0]!.message ?? '', /^evicting default\/batch-\d \(priority 100\), default\/batch-\d \(priority 100\) on node host to make room$/);
});

test('preemption never touches equal or higher priority, nor within the minimum gap, nor for a VM whose policy is Never', async () => {
  // The node is full: boss (900, 2 vCPUs) and two batch VMs (100).
  const reconcilesBefore = await preemptorReconciles();
  await create('peer', 'batch-peer'); // 105: only 5 above batch, below the default gap of 10
  await create('polite-one', 'polite'); // 900, but preemptionPolicy Never
  await create('rival', 'critical', 4); // 900 vs boss 900: equal, and the batch VMs alone do not make room
  for (const n of ['peer', 'polite-one', 'rival']) await unschedulable(n);
  for (const n of ['peer', 'polite-one', 'rival']) {
    const r = await shoalctl(['place', n, '-o', 'json', '--server', cluster.url]);
    const report = JSON.parse(r.stdout) as { preemption?: { impossible?: string } };
    assert.ok(report.preemption && 'impossible' in report.preemption, `${n}: preemption impossible, got ${r.stdout}`);
  }
  // Each of them has been judged by the preemptor — it reconciled them and has nothing left to do — and nothing was evicted.
  await waitFor(async () => (await preemptorReconciles()) >= reconcilesBefore + 3 && (await preemptorBusy()) === 0, {
    message: 'the preemptor to judge the three VMs',
  });
  const vms = await Promise.all(['boss', ...batch].map(get));
  assert.equal(vms.filter((v) => v.metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION]).length, 0);
  assert.equal((await get('boss')).status?.phase, 'Running');
  assert.equal((await events('Preempted')).length, 2, 'still only the first test’s two');
});
