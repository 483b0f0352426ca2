/**
 * `shoalctl logs` through the real binary, a real etcd and apiserver. Most cases need a console
 * the test writes to line by line, and an agent that breaks off on cue: there the agent's end of
 * the log contract is the stand-in HTTP server from @shoal/testing. The last tests use the real
 * shoal-agent with a real QEMU microVM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { KubeObject, VirtualMachine } from '@shoal/api';
import { freePort, REPO_ROOT, startAgentLogStandIn, startCluster, waitFor, waitForObject, type AgentLogStandIn, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl } from '../../test-support/shoalctl.js';

let cluster: TestCluster;
let agent: AgentLogStandIn;
/** HOME of the followed runs: no config file of the machine's user leaks in. */
let home: string;
const NS = 'logs';
/** The real agent of the last tests: it loads while the stand-in tests run. */
const QEMU_NODE = 'qemu-1';
let qemuAgent: Promise<unknown> | undefined;

const vm = (name: string, nodeName?: string): KubeObject => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name, namespace: NS },
  spec: nodeName ? { nodeName } : {},
});

async function createNode(name: string, agentAddress: string): Promise<void> {
  await cluster.client.create('Node', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name } });
  await cluster.client.patch('Node', name, { status: { agentAddress } }, { type: 'merge', status: true });
}

const run = (...args: string[]) => shoalctl(['--server', cluster.url, '-n', NS, ...args]);

/** `shoalctl logs -f`, left running: its output so far, and a way to stop it. */
function follow(...args: string[]) {
  const child = execa('node', [`${REPO_ROOT}bin/shoalctl.js`, '--server', cluster.url, '-n', NS, 'logs', '-f', ...args], {
    reject: false,
    buffer: false,
    cwd: REPO_ROOT,
    env: { HOME: home, SHOAL_SERVER: '', SHOAL_CONFIG: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

before(async () => {
  cluster = await startCluster();
  home = await mkdtemp(join(tmpdir(), 'shoalctl-logs-home-'));
  agent = await startAgentLogStandIn();
  await createNamespace(cluster.client, NS);
  await createNode('host-1', agent.address);
  // Stopped with the cluster, its VMs with it (--stop-vms-on-exit, then any QEMU left is killed).
  // A stopped guest started again waits the first crash back-off (10 s by default): 1 s here.
  qemuAgent = cluster.startAgent(QEMU_NODE, {
    args: ['--stop-grace', '5', '--vcpus', '2', '--memory-mib', '1024', '--crash-loop-backoff-base', '1'],
    timeoutMs: 120_000,
  });
  qemuAgent.catch(() => undefined); // awaited by the tests that use it
});
after(async () => {
  await qemuAgent?.catch(() => undefined); // started, so the cluster stops it
  await cluster?.stop();
  await agent?.stop();
  await removeTestHome();
  if (home) await rm(home, { recursive: true, force: true });
});

test('logs prints the console as the agent has it; vm/NAME and --tail work too', async () => {
  await cluster.client.create('vm', vm('web', 'host-1'));
  const serial = '[    0.000000] Linux version 6.1\nSHOAL-BOOTED uid=123\nhello from the guest\n';
  agent.write(NS, 'web', serial);
  const r = await run('logs', 'web');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, serial);
  assert.equal(r.stderr, '');

  const slash = await run('logs', 'vm/web', '--tail', '2');
  assert.equal(slash.exitCode, 0, slash.stderr);
  assert.equal(slash.stdout, 'SHOAL-BOOTED uid=123\nhello from the guest\n');
  assert.deepEqual({ ...agent.requests.at(-1) }, { namespace: NS, name: 'web', follow: false, tailLines: 2, closed: true });
});

test('logs of a VM not yet scheduled fails with the reason and exit 1', async () => {
  await cluster.client.create('vm', vm('pending'));
  const r = await run('logs', 'pending');
  assert.equal(r.exitCode, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'Error from server (BadRequest): virtualmachine pending is not scheduled to a node yet\n');
});

test('logs errors: a missing VM, an agent that does not answer, a kind that has no log', async () => {
  await createNode('host-down', `http://127.0.0.1:${await freePort()}`);
  await cluster.client.create('vm', vm('stranded', 'host-down'));
  // Independent runs, side by side.
  const [missing, down, node] = await Promise.all([run('logs', 'ghost'), run('logs', 'stranded'), run('logs', 'node/host-1')]);
  assert.equal(missing.exitCode, 1);
  assert.equal(missing.stderr, 'Error from server (NotFound): virtualmachines.shoal.dev "ghost" not found\n');

  assert.equal(down.exitCode, 1);
  assert.match(down.stderr, /^Error from server \(ServiceUnavailable\): cannot reach the agent of node host-down at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);

  assert.equal(node.exitCode, 2);
  assert.match(node.stderr, /logs works on virtual machines only/);
});

test('logs -f streams new output until Ctrl-C, which closes the stream at the agent', async () => {
  await cluster.client.create('vm', vm('live', 'host-1'));
  agent.write(NS, 'live', 'booting\n');
  const f = follow('live');
  await waitFor(() => f.stdout() === 'booting\n', { message: 'the existing console', timeoutMs: 20_000 });
  await waitFor(() => agent.openFollowers(NS, 'live') === 1);
  agent.write(NS, 'live', 'SHOAL-BOOTED\n');
  agent.write(NS, 'live', 'tick 1\n');
  await waitFor(() => f.stdout() === 'booting\nSHOAL-BOOTED\ntick 1\n', { message: `new lines, got ${JSON.stringify(f.stdout())}` });

  f.child.kill('SIGINT');
  const done = await f.child;
  assert.equal(done.exitCode, 130, f.stderr());
  assert.equal(f.stderr(), '');
  await waitFor(() => agent.openFollowers(NS, 'live') === 0, { message: 'the agent stream to close after Ctrl-C' });
});

test('logs -f ends by itself, exit 0, when the console stream ends', async () => {
  await cluster.client.create('vm', vm('short', 'host-1'));
  agent.write(NS, 'short', 'one\n');
  const f = follow('vm/short');
  await waitFor(() => agent.openFollowers(NS, 'short') === 1, { timeoutMs: 20_000 });
  agent.write(NS, 'short', 'two\n');
  agent.endStreams(NS, 'short');
  const done = await f.child;
  assert.equal(done.exitCode, 0, f.stderr());
  assert.equal(f.stdout(), 'one\ntwo\n');
});

test('logs -f reports a stream the agent cuts off', async () => {
  const cut = await startAgentLogStandIn();
  try {
    await createNode('host-flaky', cut.address);
    await cluster.client.create('vm', vm('flaky', 'host-flaky'));
    cut.write(NS, 'flaky', 'before\n');
    const f = follow('flaky');
    await waitFor(() => f.stdout() === 'before\n', { timeoutMs: 20_000 });
    await cut.stop(); // the agent dies mid-stream
    const done = await f.child;
    assert.equal(done.exitCode, 1);
    assert.match(f.stderr(), /^error: the log stream broke off: /);
  } finally {
    await cut.stop().catch(() => {});
  }
});

describe('with the real agent and a QEMU microVM', () => {
  const NODE = QEMU_NODE;
  const until = (name: string, ok: (vm: VirtualMachine) => boolean, message: string) =>
    waitForObject(cluster.client, 'VirtualMachine', name, ok, { namespace: NS, timeoutMs: 120_000, intervalMs: 50, message });

  before(async () => {
    await qemuAgent;
    await waitForObject(cluster.client, 'Node', NODE, (n) => !!n.status?.agentAddress, { message: 'the agent to register its address' });
  });

  test('logs shows the guest console and -f streams what the guest writes next', async () => {
    await cluster.client.create('vm', {
      ...vm('ticker', NODE),
      spec: {
        nodeName: NODE,
        resources: { vcpus: 1, memoryMiB: 128 },
        network: { mode: 'none' },
        command: ['sh', '-c', 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done'],
      },
    });
    const running = await until('ticker', (v) => v.status?.phase === 'Running', 'Running');
    const printed = await run('logs', 'vm/ticker');
    assert.equal(printed.exitCode, 0, printed.stderr);
    assert.match(printed.stdout, new RegExp(`^SHOAL-BOOTED uid=${running.metadata.uid} `, 'm'));

    const f = follow('--tail', '1', 'ticker');
    const ticks = () => [...f.stdout().matchAll(/^tick-(\d+)$/gm)].map((m) => Number(m[1]));
    // Two ticks written a second apart: the second was written after the request was made.
    await waitFor(() => ticks().length >= 3, { timeoutMs: 30_000, message: `ticks streamed through, got ${JSON.stringify(f.stdout())}` });
    const seen = ticks();
    assert.deepEqual(
      seen,
      seen.map((_, i) => seen[0]! + i),
      'consecutive ticks, none lost or repeated',
    );
    f.child.kill('SIGINT');
    assert.equal((await f.child).exitCode, 130, f.stderr());
  });

  test('restart, stop and start as the agent carries them out', async () => {
    const before = await until('ticker', (v) => v.status?.phase === 'Running', 'Running');
    const restarted = await run('restart', 'vm', 'ticker');
    assert.equal(restarted.exitCode, 0, restarted.stderr);
    await until(
      'ticker',
      (v) => v.status?.phase === 'Running' && Date.parse(v.status.bootedAt ?? '') > Date.parse(before.status!.bootedAt!),
      'booted again after restart',
    );

    const stopped = await run('stop', 'vm', 'ticker');
    assert.equal(stopped.stdout, 'virtualmachine.shoal.dev/ticker stopped\n');
    await until('ticker', (v) => v.status?.phase === 'Stopped', 'Stopped');
    const started = await run('start', 'vm', 'ticker');
    assert.equal(started.stdout, 'virtualmachine.shoal.dev/ticker started\n');
    const again = await until('ticker', (v) => v.status?.phase === 'Running', 'Running after start');
    assert.equal(again.spec.runStrategy, 'Always');
  });
});
