/** The scheduler end to end, through the real controller-manager process (test-support/scheduler-cluster.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VirtualMachine } from '@shoal/api';
import { waitFor, waitForObject } from '@shoal/testing';
import { CONTROLLER_NAMES } from '../controllers.js';
import { addNode, addVm, boundTo, eventsFor, getVm, metric, pendingWith, scheduledCondition, withCluster } from '../test-support/scheduler-cluster.js';

test('a VM is bound to a Ready node with room: spec.nodeName, the Scheduled condition, a Scheduled event; the phase stays Pending until an agent reports', async () => {
  await withCluster(async ({ client, cm }) => {
    // Every controller by default, in the order the process lists them.
    assert.match(cm.readyLine, /^shoal-controller-manager ready on http:\/\/127\.0\.0\.1:\d+ \(controllers: ([a-z-]+,?)+\)$/);
    assert.equal(/\(controllers: (.*)\)$/.exec(cm.readyLine)![1], CONTROLLER_NAMES.join(','));
    await addNode(client, 'node-1');
    const created = await addVm(client, 'web');
    assert.equal(await boundTo(client, 'web'), 'node-1');
    const vm = await waitFor(async () => {
      const v = await getVm(client, 'web');
      return scheduledCondition(v)?.status === 'True' ? v : undefined;
    });
    assert.equal(vm.status?.phase, 'Pending', 'no agent runs here: nobody reports the phase of the bound VM');
    const c = scheduledCondition(vm)!;
    assert.deepEqual([c.status, c.reason, c.message], ['True', 'Scheduled', 'assigned to node-1']);
    assert.ok(c.lastTransitionTime);
    const [ev] = await waitFor(async () => {
      const evs = await eventsFor(client, 'web', 'Scheduled');
      return evs.length ? evs : undefined;
    });
    assert.equal(ev!.type, 'Normal');
    assert.equal(ev!.message, 'Successfully assigned default/web to node-1');
    assert.equal(ev!.count, 1);
    assert.equal(ev!.source?.component, 'shoal-scheduler');
    assert.equal(ev!.involvedObject.kind, 'VirtualMachine');
    assert.equal(ev!.involvedObject.uid, created.metadata.uid);
  });
});

test('a VM that fits nowhere stays Pending with the reasons per node and one FailedScheduling event, and is bound when a big enough node appears', async () => {
  await withCluster(async ({ client, metricsUrl }) => {
    await addVm(client, 'early');
    await pendingWith(client, 'early', '0/0 nodes are available: no nodes are registered.');

    await addNode(client, 'small-1', { memoryMiB: 512 });
    await addNode(client, 'small-2', { memoryMiB: 512 });
    await addNode(client, 'sick', { ready: false, memoryMiB: 65536 });
    const big = await addVm(client, 'big', { memoryMiB: 2048 });
    const message = '0/3 nodes are available: 2 insufficient memory, 1 node(s) not ready.';
    await pendingWith(client, 'big', message);
    // The scheduler watches nodes and VMs on separate streams, so its very first look at 'big'
    // may predate the last node's status (another reason, another event). Count this reason's.
    const withMessage = async () => (await eventsFor(client, 'big', 'FailedScheduling')).filter((e) => e.message === message);
    const events = await waitFor(async () => {
      const evs = await withMessage();
      return evs.length ? evs : undefined;
    });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'Warning');
    assert.equal(events[0]!.message, message);
    assert.equal(events[0]!.involvedObject.uid, big.metadata.uid);
    assert.equal((await getVm(client, 'big')).spec.nodeName, undefined);

    // A node change that cannot help (a label) makes the scheduler look again; same reason, so no new Event.
    const attempts = /shoal_scheduler_schedule_attempts_total\{result="unschedulable"\} (\d+)/;
    const before = await metric(metricsUrl, attempts);
    await client.patch('node', 'small-1', { metadata: { labels: { rack: 'r1' } } }, { type: 'merge' });
    await waitFor(async () => (await metric(metricsUrl, attempts)) > before, { message: 'the scheduler to retry after the node change' });
    const [again] = await withMessage();
    assert.equal(again?.count ?? 1, 1, 'an unchanged reason writes no new event');
    assert.equal((await withMessage()).length, 1);

    await addNode(client, 'roomy', { memoryMiB: 8192 });
    assert.equal(await boundTo(client, 'big'), 'roomy');
    const vm = await waitFor(async () => {
      const v = await getVm(client, 'big');
      return scheduledCondition(v)?.status === 'True' ? v : undefined;
    });
    const c = scheduledCondition(vm)!;
    assert.deepEqual([c.status, c.reason, c.message], ['True', 'Scheduled', 'assigned to roomy']);
    assert.equal(vm.status?.conditions?.filter((x) => x.type === 'Scheduled').length, 1, 'the condition is replaced, not added');
    assert.ok(await boundTo(client, 'early'), 'the early VM found a node too');
  });
});

test('deleting a VM frees its room for a pending one', async () => {
  await withCluster(async ({ client }) => {
    await addNode(client, 'only', { vcpus: 2 });
    await addVm(client, 'first', { vcpus: 2 });
    assert.equal(await boundTo(client, 'first'), 'only');
    await addVm(client, 'second', { vcpus: 2 });
    await pendingWith(client, 'second', '0/1 nodes are available: 1 insufficient vcpus.');
    await client.delete('vm', 'first', { namespace: 'default' });
    // Bound, it carries the node agent's finalizer: while its guest may still run, its room stays taken.
    const deleting = await getVm(client, 'first');
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.deepEqual(deleting.metadata.finalizers, ['shoal.dev/agent']);
    assert.equal((await getVm(client, 'second')).spec.nodeName, undefined);
    // The test plays the agent: the guest is gone, the finalizer comes off, the VM and its room go.
    await client.patch('vm', 'first', { metadata: { finalizers: null } }, { type: 'merge', namespace: 'default' });
    assert.equal(await boundTo(client, 'second'), 'only');
  });
});

test('10 VMs created at once onto nodes with room for exactly 6: exactly 6 bound, never overcommitted', async () => {
  await withCluster(async ({ client }) => {
    await addNode(client, 'n-a', { vcpus: 2, memoryMiB: 4096 });
    await addNode(client, 'n-b', { vcpus: 2, memoryMiB: 4096 });
    await addNode(client, 'n-c', { vcpus: 4, memoryMiB: 512 }); // memory-bound: 2 × 256 MiB
    const names = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((n) => addVm(client, n, { vcpus: 1, memoryMiB: 256 })));

    const settled = await waitFor(
      async () => {
        const vms = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items;
        const bound = vms.filter((v) => v.spec.nodeName);
        const pending = vms.filter((v) => !v.spec.nodeName && scheduledCondition(v)?.reason === 'Unschedulable');
        return bound.length + pending.length === 10 ? { bound, pending } : undefined;
      },
      { timeoutMs: 20_000, message: 'every VM bound or marked unschedulable' },
    );
    assert.equal(settled.bound.length, 6);
    const perNode: Record<string, number> = {};
    for (const v of settled.bound) perNode[v.spec.nodeName!] = (perNode[v.spec.nodeName!] ?? 0) + 1;
    assert.deepEqual(perNode, { 'n-a': 2, 'n-b': 2, 'n-c': 2 });
    for (const v of settled.pending) assert.equal(scheduledCondition(v)?.message, '0/3 nodes are available: 2 insufficient vcpus, 1 insufficient memory.');
    const again = (await client.list<VirtualMachine>('vm', { namespace: 'default' })).items.filter((v) => v.spec.nodeName);
    assert.equal(again.length, 6, 'still exactly 6');
  });
});

test('cordoned and NotReady nodes are skipped; uncordoning or readiness makes them usable', async () => {
  await withCluster(async ({ client }) => {
    // Named so that first fit would pick them first if it did not skip them.
    await addNode(client, 'a-cordoned', { unschedulable: true });
    await addNode(client, 'b-notready', { ready: false });
    await addNode(client, 'c-good', { vcpus: 1 });
    await addVm(client, 'one');
    assert.equal(await boundTo(client, 'one'), 'c-good');

    await addVm(client, 'two');
    await pendingWith(client, 'two', '0/3 nodes are available: 1 insufficient vcpus, 1 node(s) not ready, 1 node(s) were unschedulable.');

    await client.patch(
      'node',
      'b-notready',
      { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'AgentReady', lastTransitionTime: new Date().toISOString() }] } },
      { type: 'merge', status: true },
    );
    assert.equal(await boundTo(client, 'two'), 'b-notready');

    await addVm(client, 'three', { vcpus: 4 });
    await pendingWith(client, 'three', /^0\/3 nodes are available: 2 insufficient vcpus, 1 node\(s\) were unschedulable\.$/);
    await client.patch('node', 'a-cordoned', { spec: { unschedulable: false } }, { type: 'merge' });
    assert.equal(await boundTo(client, 'three'), 'a-cordoned');
  });
});

test('nodeSelector: a VM goes only to a node with the selected labels', async () => {
  await withCluster(async ({ client }) => {
    await addNode(client, 'plain');
    await addNode(client, 'zoned', { labels: { 'topology.shoal.dev/zone': 'z2' } });
    await addVm(client, 'picky', { nodeSelector: { 'topology.shoal.dev/zone': 'z2' } });
    assert.equal(await boundTo(client, 'picky'), 'zoned');
    await addVm(client, 'nowhere', { nodeSelector: { 'topology.shoal.dev/zone': 'z9' } });
    await pendingWith(client, 'nowhere', "0/2 nodes are available: 2 node(s) didn't match the VM's node selector.");
  });
});
