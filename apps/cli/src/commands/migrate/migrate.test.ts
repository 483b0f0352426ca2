/**
 * `shoalctl migrate`, `get migrations` and `describe migration` through the real binary, a real
 * etcd and apiserver. No migration controller runs here: the test plays it, writing the
 * Migration's status through the phases (the status subresource, merge patches) while the
 * command follows, and checks what the command makes of each step.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Manifest, Migration, MigrationPhase, MigrationPhaseTransition, VirtualMachine } from '@shoal/api';
import { startCluster, waitFor, waitForGone, type TestCluster } from '@shoal/testing';
import { createNamespace, removeTestHome, shoalctl, startShoalctl, type RunningShoalctl } from '../../test-support/shoalctl.js';

const NS = 'mig';
const MiB = 1024 * 1024;
let cluster: TestCluster;

const run = (...args: string[]) => shoalctl(['--server', cluster.url, '-n', NS, ...args]);
const start = (...args: string[]) => startShoalctl(['--server', cluster.url, '-n', NS, ...args]);

async function createVm(name: string, nodeName: string): Promise<void> {
  const vm: Manifest<VirtualMachine> = { apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', metadata: { name, namespace: NS }, spec: { nodeName } };
  await cluster.client.create('vm', vm);
  await cluster.client.patch('vm', name, { status: { phase: 'Running' } }, { namespace: NS, type: 'merge', status: true });
}

/** The Migration the command created for `vmName`, once it exists. */
async function migrationFor(vmName: string): Promise<Migration> {
  return waitFor(
    async () => {
      const list = await cluster.client.list<Migration>('Migration', { namespace: NS });
      return list.items.find((m) => m.spec.vmName === vmName);
    },
    { message: `a Migration for ${vmName}` },
  );
}

/** Plays the migration controller and agents: each step is one status merge patch, with the phase's transition appended. */
function controller(name: string) {
  const transitions: MigrationPhaseTransition[] = [{ phase: 'Pending', time: new Date().toISOString() }];
  return async (phase: MigrationPhase, status: NonNullable<Migration['status']> = {}) => {
    transitions.push({ phase, time: new Date().toISOString() });
    await cluster.client.patch(
      'Migration',
      name,
      { status: { ...status, phase, phaseTransitions: transitions } },
      { namespace: NS, type: 'merge', status: true },
    );
  };
}

async function sawLine(cmd: RunningShoalctl, line: string): Promise<void> {
  await waitFor(() => cmd.stderr().split('\n').includes(line), {
    timeoutMs: 30_000,
    message: `the line ${JSON.stringify(line)}`,
    lastSeen: () => JSON.stringify(cmd.stderr()),
  });
}

let succeeded: Migration;

before(async () => {
  cluster = await startCluster();
  await createNamespace(cluster.client, NS);
  for (const node of ['node-a', 'node-b']) await cluster.client.create('Node', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name: node } });
  for (const vm of ['web', 'db', 'cache', 'idle', 'doomed', 'slow']) await createVm(vm, 'node-a');
});
after(async () => {
  await cluster?.stop();
  await removeTestHome();
});

test('migrate follows the Migration through its phases (a line per phase change off a terminal) and prints the result', async () => {
  const cmd = await start('migrate', 'vm', 'web', '--to', 'node-b', '--bandwidth', '200', '--max-downtime', '50');
  const mig = await migrationFor('web');
  const name = mig.metadata.name!;
  assert.match(name, /^web-[a-z0-9]{5}$/, 'named by the server from generateName');
  assert.deepEqual(
    { ...mig.spec, policy: { bandwidthMiBps: mig.spec.policy.bandwidthMiBps, maxDowntimeMs: mig.spec.policy.maxDowntimeMs } },
    { vmName: 'web', targetNode: 'node-b', mode: 'Live', allowColdFallback: false, policy: { bandwidthMiBps: 200, maxDowntimeMs: 50 } },
  );
  await sawLine(cmd, `migration ${name}: Pending`);

  const step = controller(name);
  await step('Scheduling');
  await step('PreparingTarget', { mode: 'Live', sourceNode: 'node-a', targetNode: 'node-b' });
  await step('TargetReady', { target: { readyAt: new Date().toISOString() } });
  await step('Running', { totalBytes: 256 * MiB, transferredBytes: 48 * MiB, remainingBytes: 208 * MiB, source: { startedAt: new Date().toISOString() } });
  await sawLine(cmd, `migration ${name}: Running 48.0 MiB/256.0 MiB`);
  await cluster.client.patch(
    'Migration',
    name,
    { status: { transferredBytes: 128 * MiB, remainingBytes: 128 * MiB } },
    { namespace: NS, type: 'merge', status: true },
  );
  await step('Succeeded', {
    transferredBytes: 256 * MiB,
    remainingBytes: 0,
    downtimeMs: 42,
    source: { qemuDowntimeMs: 30 },
    target: { resumedAt: new Date().toISOString() },
  });

  const done = await cmd.child;
  assert.equal(done.exitCode, 0, cmd.stderr());
  assert.equal(cmd.stdout(), 'virtualmachine/web migrated from node-a to node-b (downtime 42 ms)\n');
  const lines = cmd.stderr().trimEnd().split('\n');
  const phases = lines.map((l) => {
    const m = new RegExp(`^migration ${name}: (\\w+)(?: [\\d.]+ \\w?i?B/[\\d.]+ \\w?i?B)?$`).exec(l);
    assert.ok(m, `a progress line: ${JSON.stringify(l)}`);
    return m[1];
  });
  // Within Running only the byte counts change: at most one more line, after 5 s at the soonest.
  assert.deepEqual(
    phases.filter((p, i) => p !== phases[i - 1]),
    ['Pending', 'Scheduling', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded'],
  );
  assert.ok(phases.length <= 7, `one line per phase change: ${lines.join(' | ')}`);
  assert.equal(lines.at(-1), `migration ${name}: Succeeded 256.0 MiB/256.0 MiB`);
  succeeded = await cluster.client.get<Migration>('Migration', name, { namespace: NS });
});

test('get migrations lists them with their columns; -o wide adds Downtime and Reason', async () => {
  const name = succeeded.metadata.name!;
  const r = await run('get', 'mig');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^NAME\s+VM\s+MODE\s+PHASE\s+SOURCE\s+TARGET\s+AGE$/m);
  assert.match(r.stdout, new RegExp(`^${name}\\s+web\\s+Live\\s+Succeeded\\s+node-a\\s+node-b\\s+\\d+s$`, 'm'));
  const wide = await run('get', 'migrations', name, '-o', 'wide');
  assert.equal(wide.exitCode, 0, wide.stderr);
  assert.match(wide.stdout, /^NAME\s+VM\s+MODE\s+PHASE\s+SOURCE\s+TARGET\s+DOWNTIME\s+REASON\s+AGE$/m);
  assert.match(wide.stdout, new RegExp(`^${name}\\s+web\\s+Live\\s+Succeeded\\s+node-a\\s+node-b\\s+42ms\\s+<none>\\s+\\d+s$`, 'm'));
});

test('describe migration shows the move, its phases with their durations, bytes, downtime and its events', async () => {
  const name = succeeded.metadata.name!;
  const now = new Date().toISOString();
  await cluster.client.create('Event', {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Event',
    metadata: { name: `${name}.1`, namespace: NS },
    involvedObject: { kind: 'Migration', name, namespace: NS, uid: succeeded.metadata.uid },
    reason: 'Migrated',
    message: 'web moved from node-a to node-b',
    type: 'Normal',
    firstTimestamp: now,
    lastTimestamp: now,
    source: { component: 'migration-controller' },
  });
  const r = await run('describe', 'migration', name);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^Name:\\s+${name}$`, 'm'));
  assert.match(r.stdout, /^VM:\s+web$/m);
  assert.match(r.stdout, /^Mode:\s+Live$/m);
  assert.match(r.stdout, /^Nodes:\s+node-a → node-b$/m);
  assert.match(r.stdout, /^Phase:\s+Succeeded$/m);
  assert.match(r.stdout, /^Transferred:\s+256\.0 MiB\/256\.0 MiB \(100%\)$/m);
  assert.match(r.stdout, /^Downtime:\s+42 ms \(QEMU paused the source 30 ms\)$/m);
  assert.match(r.stdout, /^Policy:\s+bandwidth 200 MiB\/s, max downtime 50 ms/m);
  assert.match(r.stdout, /^Phases:\n  Phase\s+Began\s+Lasted\n  -----/m);
  const phaseRows = [...r.stdout.matchAll(/^ {2}(Pending|Scheduling|PreparingTarget|TargetReady|Running|Succeeded) +(\S+)(?: +(\S+))?$/gm)];
  assert.deepEqual(
    phaseRows.map((m) => m[1]),
    ['Pending', 'Scheduling', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded'],
  );
  assert.ok(
    phaseRows.slice(0, -1).every((m) => /^\d+(\.\d)?(ms|s)$/.test(m[3] ?? '')),
    'each finished phase says how long it lasted',
  );
  assert.equal(phaseRows.at(-1)![3], undefined, 'the final phase has no end');
  assert.match(r.stdout, /^ {2}Normal\s+Migrated\s+\S+\s+migration-controller\s+web moved from node-a to node-b$/m);
});

test('a Migration that fails (a --to node that does not exist) exits 1 with its reason and message', async () => {
  const cmd = await start('migrate', 'vm/db', '--to', 'node-z');
  const mig = await migrationFor('db');
  const name = mig.metadata.name!;
  assert.equal(mig.spec.targetNode, 'node-z', 'the node is left for the controller to check');
  const step = controller(name);
  await step('Scheduling');
  await step('Failed', { mode: 'Live', sourceNode: 'node-a', reason: 'TargetNotEligible', message: 'node "node-z" does not exist' });
  const done = await cmd.child;
  assert.equal(done.exitCode, 1, cmd.stderr());
  assert.equal(cmd.stdout(), '');
  assert.match(cmd.stderr(), new RegExp(`^error: migration ${name} failed \\(TargetNotEligible\\): node "node-z" does not exist$`, 'm'));
  assert.match(cmd.stderr(), new RegExp(`^migration ${name}: Failed$`, 'm'));
});

test('--no-wait creates the Migration, prints its name and exits', async () => {
  const r = await run('migrate', 'vm', 'cache', '--cold', '--bandwidth', '100', '--no-wait');
  assert.equal(r.exitCode, 0, r.stderr);
  const m = /^migration\.shoal\.dev\/(cache-[a-z0-9]{5}) created\n$/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal(r.stderr, '');
  const mig = await cluster.client.get<Migration>('Migration', m[1]!, { namespace: NS });
  assert.equal(mig.spec.mode, 'Cold');
  assert.equal(mig.spec.targetNode, undefined, 'no --to: the scheduler chooses');
  assert.equal(mig.spec.policy.bandwidthMiBps, 100);
  assert.equal(mig.status?.phase, 'Pending');
});

test('Ctrl-C stops following, not the Migration: exit 130 with how to follow or abort it', async () => {
  const cmd = await start('migrate', 'vm', 'idle');
  const name = (await migrationFor('idle')).metadata.name!;
  await sawLine(cmd, `migration ${name}: Pending`);
  cmd.child.kill('SIGINT');
  const done = await cmd.child;
  assert.equal(done.exitCode, 130, cmd.stderr());
  assert.match(cmd.stderr(), new RegExp(`^stopped following migration ${name} \\(Pending\\); the migration goes on\\.$`, 'm'));
  assert.match(cmd.stderr(), new RegExp(`shoalctl -n ${NS} get migration ${name} -w`));
  assert.match(cmd.stderr(), new RegExp(`shoalctl -n ${NS} delete migration ${name}$`, 'm'));
  const still = await cluster.client.get<Migration>('Migration', name, { namespace: NS });
  assert.equal(still.metadata.deletionTimestamp, undefined, 'not deleted');
});

test('--timeout stops following a Migration that takes too long: exit 1 saying where it stood, and it goes on', async () => {
  const r = await run('migrate', 'vm', 'slow', '--timeout', '1500ms');
  assert.equal(r.exitCode, 1, r.stderr);
  const name = (await migrationFor('slow')).metadata.name!;
  assert.match(
    r.stderr,
    new RegExp(`^migration ${name}: Pending\\nerror: timed out after 1\\.5s waiting for migration ${name} \\(Pending\\); the migration goes on\\.\\n`),
  );
  assert.match(r.stderr, new RegExp(`shoalctl -n ${NS} delete migration ${name}$`, 'm'));
  const bad = await run('migrate', 'vm', 'slow', '--timeout', 'soon');
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /--timeout: invalid duration "soon"/);
});

test('a Migration deleted while followed ends the command with exit 1', async () => {
  const cmd = await start('migrate', 'vm', 'doomed');
  const name = (await migrationFor('doomed')).metadata.name!;
  await sawLine(cmd, `migration ${name}: Pending`);
  await cluster.client.delete('Migration', name, { namespace: NS });
  await waitForGone(cluster.client, 'Migration', name, { namespace: NS });
  const done = await cmd.child;
  assert.equal(done.exitCode, 1, cmd.stderr());
  assert.match(cmd.stderr(), new RegExp(`^error: migration ${name} was deleted before it ended \\(last seen: Pending\\)$`, 'm'));
});

test('usage and server errors: a missing VM (no Migration made), another kind, contradicting flags', async () => {
  const before = (await cluster.client.list('Migration', { namespace: NS })).items.length;
  // Independent runs, side by side; none of them makes a Migration.
  const [missing, node, cold, tooFast] = await Promise.all([
    run('migrate', 'vm', 'ghost', '--to', 'node-b'),
    run('migrate', 'node/node-a'),
    run('migrate', 'vm', 'web', '--cold', '--max-downtime', '100'),
    run('migrate', 'vm', 'web', '--bandwidth', '1000000', '--no-wait'),
  ]);
  assert.equal(missing.exitCode, 1);
  assert.equal(missing.stderr, 'Error from server (NotFound): virtualmachines.shoal.dev "ghost" not found\n');
  assert.equal((await cluster.client.list('Migration', { namespace: NS })).items.length, before);

  assert.equal(node.exitCode, 2);
  assert.match(node.stderr, /migrate works on virtual machines only/);
  assert.equal(cold.exitCode, 2);
  assert.match(cold.stderr, /--max-downtime applies to live migration only/);
  assert.equal(tooFast.exitCode, 1);
  assert.match(tooFast.stderr, /^Error from server \(Invalid\): .*bandwidthMiBps/m, 'the schema is the one judge of ranges');
});
