/**
 * Self-fencing with real processes: etcd, an apiserver, one agent running real QEMU microVMs.
 * No controller-manager runs: VMs are bound by hand, and unbound by hand the way the health
 * controller does it, so everything seen here is the agent's (and its supervisors') doing.
 *
 *   (a) agent SIGSTOPped → its VMs' QEMUs gone within fence timeout + ~2 s; SIGCONT → a VM
 *       still bound there is restarted per runStrategy (Always) or reported Fenced (Manual)
 *   (b) agent SIGSTOPped, one VM moved to another node meanwhile, SIGCONT → that VM is not
 *       restarted and its copy is cleaned up; the VM still bound there is restarted
 *   (c) apiserver down for longer than the fence timeout → VMs fenced; back → restarted
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REQUESTED_STATE_ANNOTATION, type Event, type Node, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { processAlive, startCluster, waitFor, waitForGone, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

const NODE = 'node-a';
/** Another node, with no agent: where a moved VM is bound. */
const ELSEWHERE = 'node-b';
const LEASE_S = 2;
const FENCE_S = 4;
const BOOT_MS = 90_000;

let cluster: TestCluster;
let agent: AgentProcess;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster();
  client = cluster.client;
  agent = await cluster.startAgent(NODE, {
    args: [
      '--lease-duration',
      String(LEASE_S),
      '--fence-timeout',
      String(FENCE_S),
      '--stop-grace',
      '5',
      '--vcpus',
      '4',
      '--memory-mib',
      '2048',
      '--log-level',
      'info',
    ],
  });
  await client.create('node', { metadata: { name: ELSEWHERE }, spec: {} });
});
after(async () => {
  if (agent) process.kill(agent.pid, 'SIGCONT');
  await cluster?.stop();
});

const runDir = (vm: VirtualMachine) => join(agent.dataDir, 'vms', vm.metadata.uid!);

const until = (name: string, ok: (vm: VirtualMachine) => boolean, message: string, timeoutMs = BOOT_MS) =>
  waitForObject(client, 'VirtualMachine', name, ok, { timeoutMs, intervalMs: 100, message });

/** Creates a VM whose guest sleeps, binds it here by hand (as the scheduler would) and waits until it runs. */
async function runningHere(name: string, runStrategy: 'Always' | 'Manual' = 'Always'): Promise<VirtualMachine> {
  const annotations: Record<string, string> = runStrategy === 'Manual' ? { [REQUESTED_STATE_ANNOTATION]: 'Running' } : {};
  await client.create('vm', {
    metadata: { name, annotations },
    spec: { runStrategy, resources: { vcpus: 1, memoryMiB: 128 }, command: ['sh', '-c', 'sleep 600'] },
  });
  await client.patch('vm', name, { spec: { nodeName: NODE } }, { type: 'merge' });
  return until(name, (v) => v.status?.phase === 'Running' && !!v.status.pid, 'Running here');
}

async function remove(name: string): Promise<void> {
  await client.delete('vm', name).catch(() => undefined);
  await waitForGone(client, 'VirtualMachine', name, { timeoutMs: 30_000 });
}

/** Waits until every pid is gone; answers how long after `since` that was. */
async function allGone(pids: number[], since: number, message: string): Promise<number> {
  await waitFor(() => pids.every((p) => !processAlive(p)), { timeoutMs: 30_000, intervalMs: 20, message });
  return Date.now() - since;
}

/** The supervisor's exit record, which it writes a moment after QEMU is gone. */
const exitOf = (vm: VirtualMachine) =>
  waitFor(() => readFile(join(runDir(vm), 'exit.json'), 'utf8').then((t) => JSON.parse(t) as { fenced: boolean }), {
    timeoutMs: 5_000,
    message: `${vm.metadata.name}: exit.json`,
  });

/** The agent's JSON log lines printed since `from` (an output() length). */
const logSince = (from: number) =>
  agent
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; vm?: string });

test('the node publishes its fencing timing', async () => {
  const node = await client.get<Node>('node', NODE);
  assert.deepEqual(node.status!.fencing, { leaseDurationSeconds: LEASE_S, fenceTimeoutSeconds: FENCE_S });
});

test('(a) SIGSTOP the agent: its QEMUs are gone within the fence timeout + 2 s; after SIGCONT, Always restarts, Manual says Fenced', async (t) => {
  // Booted side by side.
  const [always, manual] = await Promise.all([runningHere('always'), runningHere('manual', 'Manual')]);
  const stoppedAt = Date.now();
  process.kill(agent.pid, 'SIGSTOP');
  try {
    const took = await allGone([always.status!.pid!, manual.status!.pid!], stoppedAt, 'the QEMUs of a frozen agent to be fenced');
    t.diagnostic(`QEMUs gone ${took} ms after SIGSTOP (fence timeout ${FENCE_S} s)`);
    // The last renewal was at most a renew interval before the SIGSTOP: the supervisors stop
    // QEMU by that renewal + the fence timeout + one check (1 s).
    assert.ok(took <= FENCE_S * 1000 + 2_000, `fenced ${took} ms after SIGSTOP (fence timeout ${FENCE_S} s)`);
    // The renewal it counts from may have been sent up to a renew interval (and a request) before.
    assert.ok(took >= FENCE_S * 1000 - 1_000, `not fenced early (${took} ms)`);
    assert.equal((await exitOf(always)).fenced, true);
  } finally {
    process.kill(agent.pid, 'SIGCONT');
  }
  const restarted = await until('always', (v) => v.status?.phase === 'Running' && v.status.pid !== always.status!.pid, 'Running again with a new QEMU');
  assert.equal(restarted.status!.restarts, (always.status!.restarts ?? 0) + 1);
  assert.ok(processAlive(restarted.status!.pid!));
  const fenced = await until('manual', (v) => v.status?.phase === 'Failed', 'Failed after fencing', 20_000);
  assert.equal(fenced.status!.reason, 'Fenced');
  assert.match(fenced.status!.message!, /fenced: node-a went longer than its fence timeout/);
  const events = await waitFor(
    async () => {
      const list = await client.list<Event>('event', { namespace: 'default' });
      const fencedEvents = list.items.filter((e) => e.reason === 'Fenced');
      return fencedEvents.length >= 2 ? fencedEvents : undefined;
    },
    { timeoutMs: 10_000, message: 'a Fenced event for each VM' },
  );
  assert.match(events.find((e) => e.involvedObject.name === 'always')!.message ?? '', /restarting it here \(runStrategy Always\)/);
  assert.match(events.find((e) => e.involvedObject.name === 'manual')!.message ?? '', /runStrategy Manual keeps it stopped/);
  await Promise.all([remove('always'), remove('manual')]);
});

test('(b) a VM moved elsewhere while the agent was frozen is not restarted and its copy is cleaned up; the one still bound is restarted', async () => {
  const [moved, stays] = await Promise.all([runningHere('moved'), runningHere('stays')]);
  process.kill(agent.pid, 'SIGSTOP');
  let rebound: VirtualMachine;
  const mark = agent.output().length;
  try {
    await allGone([moved.status!.pid!, stays.status!.pid!], Date.now(), 'the QEMUs of a frozen agent to be fenced');
    // What the health controller does once the lease has been expired for the fence timeout:
    // unbind and drop the agent's finalizer, in one write pinned to the version it judged...
    const current = await client.get<VirtualMachine>('vm', 'moved');
    const finalizers = (current.metadata.finalizers ?? []).filter((f) => f !== 'shoal.dev/agent');
    await client.patch(
      'vm',
      'moved',
      { metadata: { resourceVersion: current.metadata.resourceVersion, finalizers: finalizers.length ? finalizers : null }, spec: { nodeName: null } },
      { type: 'merge' },
    );
    // ...and what the scheduler does next: bind it to another node.
    rebound = await client.patch<VirtualMachine>('vm', 'moved', { spec: { nodeName: ELSEWHERE } }, { type: 'merge' });
  } finally {
    process.kill(agent.pid, 'SIGCONT');
  }
  await waitFor(() => !existsSync(runDir(moved)), { timeoutMs: 20_000, message: "the moved VM's run directory to be removed here" });
  const restarted = await until('stays', (v) => v.status?.phase === 'Running' && v.status.pid !== stays.status!.pid, 'Running again with a new QEMU');
  assert.equal(restarted.status!.restarts, (stays.status!.restarts ?? 0) + 1);

  const log = logSince(mark);
  assert.ok(
    log.some((l) => l.msg === 'relisted VMs after a stale period'),
    'the agent relisted before acting',
  );
  assert.ok(!log.some((l) => l.vm === 'default/moved' && l.msg === 'starting VM'), 'the moved VM was never started here again');
  const after = await client.get<VirtualMachine>('vm', 'moved');
  assert.equal(after.spec.nodeName, ELSEWHERE);
  assert.equal(after.metadata.resourceVersion, rebound!.metadata.resourceVersion, 'the agent wrote nothing to a VM bound elsewhere');
  await Promise.all([remove('stays'), remove('moved')]);
});

test('(c) the apiserver down for longer than the fence timeout: VMs fenced; back again: the VM still bound here is restarted', async (t) => {
  const survivor = await runningHere('survivor');
  const killedAt = Date.now();
  await cluster.apiserver.kill();
  const took = await allGone([survivor.status!.pid!], killedAt, 'the QEMU of a node cut off from its apiserver to be fenced');
  t.diagnostic(`QEMU gone ${took} ms after the apiserver died (fence timeout ${FENCE_S} s)`);
  assert.ok(took <= FENCE_S * 1000 + 2_000, `fenced ${took} ms after the apiserver died`);
  assert.equal((await exitOf(survivor)).fenced, true);
  await cluster.restartApiserver();
  const backAt = Date.now();
  const restarted = await until(
    'survivor',
    (v) => v.status?.phase === 'Running' && v.status.pid !== survivor.status!.pid,
    'Running again after the apiserver came back',
  );
  assert.equal(restarted.status!.restarts, (survivor.status!.restarts ?? 0) + 1);
  t.diagnostic(`Running again ${Date.now() - backAt} ms after the apiserver was back`);
  await remove('survivor');
});
