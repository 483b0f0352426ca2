/**
 * Eviction requests on a real etcd + apiserver with a real agent process (simulated runtime).
 * No scheduler runs, so VMs are bound by hand and stay unbound once evicted: what the test
 * sees after an eviction is the agent's doing alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_FINALIZER, EVICTION_REQUESTED_ANNOTATION, type EvictionRequest, type VirtualMachine, type WatchEvent } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, waitForGone, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

const NODE = 'evict-node';

let cluster: TestCluster;
let agent: AgentProcess;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster();
  agent = await cluster.startAgent(NODE, { args: ['--runtime', 'simulated'] });
  client = cluster.client;
});
after(async () => {
  await cluster?.stop();
});

/** Instances the agent's runtime holds, in any phase, from its own metrics endpoint. */
async function instances(): Promise<number> {
  const text = await (await fetch(`${agent.address}/metrics`)).text();
  return [...text.matchAll(/^shoal_agent_vm_instances\{phase="\w+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

const until = (name: string, ok: (vm: VirtualMachine) => boolean, message: string) =>
  waitForObject(client, 'VirtualMachine', name, ok, { timeoutMs: 20_000, message });

/** Creates a VM, binds it here by hand (as the scheduler would) and waits until it runs. */
async function runningHere(name: string): Promise<VirtualMachine> {
  await client.create('vm', { metadata: { name }, spec: { resources: { vcpus: 1, memoryMiB: 128 } } });
  await client.patch('vm', name, { spec: { nodeName: NODE } }, { type: 'merge' });
  const vm = await until(
    name,
    (v) => v.status?.phase === 'Running' && !!v.metadata.finalizers?.includes(AGENT_FINALIZER),
    'Running here with the agent finalizer',
  );
  assert.equal(await instances(), 1);
  return vm;
}

/** Every version of one VM from `resourceVersion` on, collected until stop() is called. */
function record(name: string, resourceVersion: string) {
  const seen: WatchEvent<VirtualMachine>[] = [];
  const abort = new AbortController();
  const done = (async () => {
    try {
      for await (const e of client.watch<VirtualMachine>('vm', { fieldSelector: `metadata.name=${name}`, resourceVersion }, abort.signal)) seen.push(e);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return {
    seen,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

async function cleanUp(name: string): Promise<void> {
  await client.delete('vm', name);
  await waitForGone(client, 'VirtualMachine', name);
}

for (const gracePeriodSeconds of [0, 30]) {
  test(`an eviction request with grace ${gracePeriodSeconds}: the guest stops, then the VM is unbound, which makes it Pending`, async () => {
    const name = `evict-grace-${gracePeriodSeconds}`;
    const running = await runningHere(name);
    const watch = record(name, running.metadata.resourceVersion!);
    const request: EvictionRequest = {
      reason: 'Preempted',
      message: 'preempted by default/db (priority 900)',
      gracePeriodSeconds,
      requestedAt: new Date().toISOString(),
    };
    await client.patch('vm', name, { metadata: { annotations: { [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request) } } }, { type: 'merge' });

    const evicted = await until(name, (v) => !v.spec.nodeName, 'unbound');
    assert.equal(evicted.metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION], undefined, 'the request is consumed');
    assert.ok(!evicted.metadata.finalizers?.includes(AGENT_FINALIZER), 'the agent finalizer is gone: the next node adds its own');
    assert.equal(evicted.status!.phase, 'Pending');
    assert.equal(evicted.status!.nodeName, undefined);
    assert.equal(evicted.status!.reason, 'Preempted');
    assert.equal(evicted.status!.message, request.message);
    assert.equal(evicted.status!.pid, undefined);
    assert.equal(evicted.status!.ip, undefined);
    assert.equal(
      evicted.status!.conditions?.find((c) => c.type === 'Ready'),
      undefined,
      'what the node reported about the guest went with the unbind',
    );
    assert.equal(await instances(), 0, 'the simulated instance is gone');

    // The order, as the watch saw it: Stopping (still bound, with the request's reason), and only
    // then the unbind, which makes it Pending in the same write — never unbound while a guest
    // could still run, and never Pending while still bound here.
    await waitFor(() => watch.seen.some((e) => !e.object.spec.nodeName), { message: 'the watch to show the unbind' });
    await watch.stop();
    const versions = watch.seen.filter((e) => e.type === 'MODIFIED').map((e) => e.object);
    const stopping = versions.findIndex((v) => v.status?.phase === 'Stopping');
    const pending = versions.findIndex((v) => v.status?.phase === 'Pending');
    const unbound = versions.findIndex((v) => !v.spec.nodeName);
    assert.ok(
      stopping >= 0 && unbound > stopping && pending === unbound,
      `Stopping → unbound and Pending, saw ${JSON.stringify(versions.map((v) => [v.status?.phase, v.spec.nodeName ?? null]))}`,
    );
    assert.equal(versions[stopping]!.status!.reason, 'Preempted');
    assert.equal(versions[stopping]!.spec.nodeName, NODE);
    assert.equal(unbound, versions.length - 1, 'the unbind is the agent’s last write');
    await cleanUp(name);
  });
}

test('an eviction of a VM with no guest (Halted) just unbinds it', async () => {
  const name = 'evict-halted';
  await client.create('vm', { metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 128 } } });
  await client.patch('vm', name, { spec: { nodeName: NODE } }, { type: 'merge' });
  await until(name, (v) => v.status?.phase === 'Stopped', 'Stopped (Halted) here');
  const request: EvictionRequest = { reason: 'Drained', message: 'node evict-node is drained', gracePeriodSeconds: 10, requestedAt: new Date().toISOString() };
  await client.patch('vm', name, { metadata: { annotations: { [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request) } } }, { type: 'merge' });
  const evicted = await until(name, (v) => !v.spec.nodeName, 'unbound');
  assert.deepEqual([evicted.status!.phase, evicted.status!.reason, evicted.metadata.finalizers ?? []], ['Pending', 'Drained', []]);
  await cleanUp(name);
});

test('an invalid eviction request is ignored, with one warning', async () => {
  const name = 'evict-invalid';
  await runningHere(name);
  const warnings = () =>
    agent
      .output()
      .split('\n')
      .filter((l) => l.includes('ignoring an eviction request') && l.includes(name)).length;
  await client.patch('vm', name, { metadata: { annotations: { [EVICTION_REQUESTED_ANNOTATION]: '{"reason":"Preempted"}' } } }, { type: 'merge' });
  await waitFor(() => warnings() > 0, { message: 'the warning about the invalid request' });
  // A spec change makes the agent reconcile (and report the new observedGeneration) with the
  // invalid request still there: it neither acts on it nor warns again.
  const changed = await client.patch<VirtualMachine>('vm', name, { spec: { cmdline: 'quiet' } }, { type: 'merge' });
  const later = await until(name, (v) => v.status?.observedGeneration === changed.metadata.generation, 'status for the new generation');
  assert.equal(later.status!.phase, 'Running');
  assert.equal(later.spec.nodeName, NODE);
  assert.equal(warnings(), 1);
  assert.equal(await instances(), 1);
  await cleanUp(name);
});

test('a VM unbound by someone else leaves the field-selected watch as DELETED, and its instance is stopped', async () => {
  const name = 'unbound-elsewhere';
  const running = await runningHere(name);
  // The agent's own view: a watch with its field selector, as its informer has.
  const seen: WatchEvent<VirtualMachine>[] = [];
  const abort = new AbortController();
  const watching = (async () => {
    try {
      for await (const e of client.watch<VirtualMachine>(
        'vm',
        { fieldSelector: `spec.nodeName=${NODE}`, resourceVersion: running.metadata.resourceVersion },
        abort.signal,
      ))
        seen.push(e);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  await client.patch('vm', name, { spec: { nodeName: null } }, { type: 'merge' });
  const deleted = await waitFor(() => seen.find((e) => e.type === 'DELETED' && e.object.metadata.name === name), {
    message: 'a DELETED event for the VM that stopped matching',
  });
  assert.equal(deleted.object.spec.nodeName, undefined, 'the event carries the object as it is now');
  abort.abort();
  await watching;
  await waitFor(async () => (await instances()) === 0, { message: 'the instance no longer bound here stopped and removed' });
  // The agent cannot see the VM any more, so its finalizer stays until a node's agent takes the
  // VM again; without a scheduler here, the test takes it off itself to delete the VM.
  const vm = await client.get<VirtualMachine>('vm', name);
  assert.ok(vm.metadata.finalizers?.includes(AGENT_FINALIZER));
  await client.patch('vm', name, { metadata: { resourceVersion: vm.metadata.resourceVersion, finalizers: null } }, { type: 'merge' });
  await cleanUp(name);
});
