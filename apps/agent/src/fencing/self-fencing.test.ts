/**
 * Self-fencing of the simulated runtime (the agent's in-process FenceMonitor: no supervisors)
 * and the fencing flags, through real processes: etcd, an apiserver that the test kills and
 * brings back, and a real agent binary. VMs are bound by hand; no scheduler runs.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { REQUESTED_STATE_ANNOTATION, type Node, type VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { REPO_ROOT, startCluster, waitFor, waitForGone, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';

const NODE = 'fence-sim';
const LEASE_S = 2;
const FENCE_S = 3;

let cluster: TestCluster;
let agent: AgentProcess;
let client: ShoalClient;

before(async () => {
  cluster = await startCluster();
  client = cluster.client;
  agent = await cluster.startAgent(NODE, {
    args: ['--runtime', 'simulated', '--lease-duration', String(LEASE_S), '--fence-timeout', String(FENCE_S), '--log-level', 'info'],
  });
});
after(async () => {
  if (agent) process.kill(agent.pid, 'SIGCONT');
  await cluster?.stop();
});

/** The agent's instances by phase, from its own endpoint (which answers while the apiserver is down). */
async function phases(): Promise<Record<string, number>> {
  const text = await (await fetch(`${agent.address}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^shoal_agent_vm_instances\{phase="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** shoal_agent_fencings_total of the node, from the agent's endpoint. */
async function fencings(): Promise<number | undefined> {
  const text = await (await fetch(`${agent.address}/metrics`)).text();
  const m = new RegExp(`^shoal_agent_fencings_total\\{node="${NODE}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

const until = (name: string, ok: (vm: VirtualMachine) => boolean, message: string) =>
  waitForObject(client, 'VirtualMachine', name, ok, { timeoutMs: 20_000, message });

async function runningHere(name: string, manual = false): Promise<VirtualMachine> {
  await client.create('vm', {
    metadata: { name, annotations: manual ? { [REQUESTED_STATE_ANNOTATION]: 'Running' } : {} },
    spec: { runStrategy: manual ? 'Manual' : 'Always', resources: { vcpus: 1, memoryMiB: 128 } },
  });
  await client.patch('vm', name, { spec: { nodeName: NODE } }, { type: 'merge' });
  return until(name, (v) => v.status?.phase === 'Running', 'Running here');
}

async function remove(name: string): Promise<void> {
  await client.delete('vm', name).catch(() => undefined);
  await waitForGone(client, 'VirtualMachine', name, { timeoutMs: 20_000 });
}

test('fencing flags: bad combinations exit 2 saying why; a raised --lease-duration alone raises the default fence timeout', async () => {
  const run = (args: string[]) =>
    execa(
      'node',
      [
        `${REPO_ROOT}bin/shoal-agent.js`,
        '--server',
        'http://127.0.0.1:1',
        '--node-name',
        'x',
        '--data-dir',
        '/tmp/shoal-flags-unused',
        '--runtime',
        'simulated',
        ...args,
      ],
      { reject: false, timeout: 30_000 },
    );
  const cases: [string[], RegExp][] = [
    [['--fence-timeout', '0'], /--fence-timeout 0: must be a whole number of seconds greater than 0 \(fencing cannot be turned off/],
    [['--fence-timeout', '3'], /--fence-timeout 3 is shorter than --lease-duration 4: the VMs would be stopped while the node's lease is still valid/],
    [['--lease-duration', '1'], /--lease-duration 1: must be a whole number of seconds, at least 2/],
    [['--lease-duration', '2.5'], /--lease-duration 2.5: must be a whole number/],
  ];
  // --lease-duration 40 alone passes the fencing checks (the default fence timeout is 60): the
  // error is the next check's, made to fail so the agent exits at once. All run side by side.
  const [raised, ...results] = await Promise.all([run(['--lease-duration', '40', '--simulate-nodes', '1.5']), ...cases.map(([args]) => run(args))]);
  for (const [i, [args, message]] of cases.entries()) {
    assert.equal(results[i]!.exitCode, 2, `${args.join(' ')}: ${results[i]!.stderr}`);
    assert.match(results[i]!.stderr, message);
  }
  assert.match(raised.stderr, /--simulate-nodes must be a whole number/);
  assert.doesNotMatch(raised.stderr, /fence-timeout|lease-duration/);
});

test('the node publishes its fencing timing', async () => {
  const node = await client.get<Node>('node', NODE);
  assert.deepEqual(node.status!.fencing, { leaseDurationSeconds: LEASE_S, fenceTimeoutSeconds: FENCE_S });
});

test('apiserver gone for longer than the fence timeout: the simulated guests are fenced in-process; back: Always restarts, Manual says Fenced', async () => {
  const always = await runningHere('always');
  await runningHere('manual', true);
  const fencedBefore = await fencings();
  assert.equal(typeof fencedBefore, 'number', 'the counter is exported from the start');
  const killedAt = Date.now();
  await cluster.apiserver.kill();
  await waitFor(async () => (await phases()).exited === 2, { timeoutMs: 15_000, intervalMs: 50, message: 'both guests fenced' });
  assert.equal(await fencings(), fencedBefore! + 1, 'one fencing counted');
  const took = Date.now() - killedAt;
  // The fence timeout from the last renewal, plus at most one FenceMonitor check (0.5 s).
  assert.ok(took <= FENCE_S * 1000 + 1_500, `fenced ${took} ms after the apiserver died`);
  await cluster.restartApiserver();
  const restarted = await until('always', (v) => v.status?.phase === 'Running' && v.status.bootedAt !== always.status!.bootedAt, 'Running again');
  assert.equal(restarted.status!.restarts, 1);
  const manual = await until('manual', (v) => v.status?.phase === 'Failed', 'Failed');
  assert.equal(manual.status!.reason, 'Fenced');
  await remove('always');
  await remove('manual');
});

test('a VM moved elsewhere while the agent was frozen: its instance is removed, never restarted; a VM still bound runs again', async () => {
  await runningHere('moved');
  await runningHere('other');
  process.kill(agent.pid, 'SIGSTOP');
  const mark = agent.output().length;
  try {
    // Wait until the lease has lapsed for the fence timeout, as the health controller does.
    await waitForObject(client, 'Lease', NODE, (lease) => Date.now() - Date.parse(lease.spec.renewTime!) > (LEASE_S + FENCE_S) * 1000, {
      namespace: 'shoal-node-lease',
      timeoutMs: 20_000,
      message: 'expired for the fence timeout',
    });
    const current = await client.get<VirtualMachine>('vm', 'moved');
    await client.patch(
      'vm',
      'moved',
      { metadata: { resourceVersion: current.metadata.resourceVersion, finalizers: null }, spec: { nodeName: null } },
      { type: 'merge' },
    );
    await client.patch('vm', 'moved', { spec: { nodeName: 'somewhere-else' } }, { type: 'merge' });
  } finally {
    process.kill(agent.pid, 'SIGCONT');
  }
  // One instance left: the other VM's (restarted if the in-process fence got to it first after the SIGCONT).
  await waitFor(
    async () => {
      const p = await phases();
      return Object.values(p).reduce((a, b) => a + b, 0) === 1 && p.running === 1;
    },
    { timeoutMs: 20_000, message: 'only the VM still bound here running' },
  );
  await until('other', (v) => v.status?.phase === 'Running', 'Running');
  const log = agent
    .output()
    .slice(mark)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; vm?: string });
  assert.ok(log.some((l) => l.msg === 'relisted VMs after a stale period'));
  assert.ok(!log.some((l) => l.vm === 'default/moved' && l.msg === 'starting VM'), 'never started again here');
  assert.equal((await client.get<VirtualMachine>('vm', 'moved')).spec.nodeName, 'somewhere-else');
  await remove('other');
  await client.delete('vm', 'moved');
});
