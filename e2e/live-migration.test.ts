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
 *   a cold migration                   → the guest shut down, its local disk copied, booted at the
 *                                       target: what it wrote is there
 *   a live one that cannot finish, with allowColdFallback
 *                                      → goes on as a cold one, and the guest arrives
 *   drain, preemption (LiveMigrate)    → the VMs move running instead of stopping
 *
 * Throughout, a watcher scans /proc every 100 ms and asks each QEMU of a VM with two (a source
 * and its target) whether it runs the guest: never more than one at any sample.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { join } from 'node:path';
import type { Event, Migration, Node, VirtualMachine, Volume } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { runningVmProcesses, startCluster, VmProcessWatcher, waitFor, waitForObject, type AgentProcess, type TestCluster } from '@shoal/testing';
import { shoalctl } from '../apps/cli/src/test-support/shoalctl.js';
import { locateGuestImage } from '../apps/agent/src/runtime/qemu/guest-image.js';

let cluster: TestCluster;
let client: ShoalClient;
const NODES = ['mig-a', 'mig-b'];
const agents = new Map<string, AgentProcess>();
const ns = { namespace: 'default' };
/**
 * Short lease and fence timeouts: a killed agent's node is given up on, and its QEMUs fenced,
 * within seconds. A halted guest started again waits the first crash back-off: 1 s, not 10.
 */
const AGENT_ARGS = ['--lease-duration', '4', '--fence-timeout', '6', '--stop-grace', '5', '--crash-loop-backoff-base', '1'];
const watcher = new VmProcessWatcher('unpaused');

before(async () => {
  // Transfers may time out after 10 s (not 60): the fallback case needs one to.
  cluster = await startCluster({ controllerManager: { args: ['--migration-min-completion-timeout', '10'] }, migrationTls: true });
  client = cluster.client;
  // One node first: the VMs start there.
  agents.set(NODES[0]!, await cluster.startAgent(NODES[0]!, { args: AGENT_ARGS }));
  watcher.start();
});

after(async () => {
  const seen = await watcher.stop();
  await cluster?.stop();
  assert.deepEqual(seen.duplicates, [], `never two QEMUs running one guest (${seen.scans} scans of /proc)`);
});

/**
 * The /proc watcher's verdict so far: it sampled the moments a VM had two QEMUs (`since`: its
 * count before the case began), and at none of them did both run the guest.
 */
function assertOneGuestRunning(since: number): void {
  assert.deepEqual(watcher.duplicates, [], 'never two QEMUs running one guest');
  assert.ok(watcher.overlapsChecked > since, 'the watcher saw the source running beside its paused target');
}

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

/**
 * Reads a VM's console on a node every 25 ms and keeps the last count seen: the source's run
 * directory goes with its copy of the guest once the move is done, so it is read while it lasts.
 */
function followCount(node: string, uid: string): { last(): number | undefined; stop(): void } {
  let last: number | undefined;
  const timer = setInterval(() => {
    void consoleOn(node, uid).then((log) => {
      const seen = ticks(log).at(-1);
      if (seen !== undefined) last = Math.max(last ?? 0, seen);
    });
  }, 25);
  return { last: () => last, stop: () => clearInterval(timer) };
}

/** The files of a local Volume in a node's data dir: its data where the Volume is held, a copy elsewhere. */
async function volumeFilesOn(node: string, volume: string): Promise<string[]> {
  const root = join(agents.get(node)!.dataDir, 'volumes');
  const files = await readdir(root, { recursive: true }).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith(`/${volume}.qcow2`));
}

const ticks = (log: string) => [...log.matchAll(/TICK-(\d+)/g)].map((m) => Number(m[1]));

async function startCounter(name: string, marker: string, network: 'none' | 'user' = 'none'): Promise<VirtualMachine> {
  await client.create('vm', {
    metadata: { name, ...ns },
    spec: {
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: network },
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

test('a live migration moves a running guest: its count carries on at the target, its local disk with it, the same VM', async (t) => {
  // With a network: its address (the guest's own DHCP lease) must come along.
  const counting = startCounter('counter', 'marker-live', 'user');
  counting.catch(() => undefined); // awaited below
  // Bound to the only node there is, it boots while the second node's agent starts.
  await waitForObject(client, 'VirtualMachine', 'counter', (v) => !!v.spec.nodeName, { ...ns, message: 'bound' });
  const [before, second] = await Promise.all([counting, cluster.startAgent(NODES[1]!, { args: AGENT_ARGS })]);
  agents.set(NODES[1]!, second);
  assert.ok(before.status?.ip, 'the guest has an address');
  const source = before.spec.nodeName!;
  assert.equal(source, NODES[0]);
  await waitForObject(client, 'Node', NODES[1]!, (n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false, {
    timeoutMs: 30_000,
    message: `${NODES[1]} Ready`,
  });

  // As a user would: shoalctl makes the Migration and follows it to the end.
  const uid = before.metadata.uid!;
  const overlaps = watcher.overlapsChecked;
  const atSource = followCount(source, uid);
  const run = await shoalctl(['migrate', 'vm', 'counter', '--server', cluster.url]);
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^virtualmachine/counter migrated from ${source} to ${NODES[1]} \\(downtime \\d+ ms\\)\\n$`));
  const done = (await client.list<Migration>('migration', ns)).items.find((m) => m.spec.vmName === 'counter')!;
  assert.equal(done.status?.phase, 'Succeeded', `${done.status?.reason}: ${done.status?.message}`);
  t.diagnostic(`downtime ${done.status?.downtimeMs} ms (QEMU's pause ${done.status?.source?.qemuDowntimeMs} ms); ${run.stdout.trim()}`);
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
  assert.equal(after.status?.ip, before.status?.ip, 'the same address');

  // The count: the source stopped at N, the target goes on from N+1 — one guest, moved.
  await waitFor(async () => ticks(await consoleOn(NODES[1]!, uid)).length >= 5, { timeoutMs: 30_000, message: 'the guest counting at the target' });
  atSource.stop();
  const atTarget = ticks(await consoleOn(NODES[1]!, uid));
  assert.equal(
    atTarget[0],
    atSource.last()! + 1,
    `the target carries on from the source's last (source ended ${atSource.last()}, target began ${atTarget[0]})`,
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
  assertOneGuestRunning(overlaps);

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
  const overlaps = watcher.overlapsChecked;
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
  await waitFor(async () => (await volumeFilesOn(target, 'slow-data')).length === 0, {
    timeoutMs: 10_000,
    message: 'the blank copy of the disk made at the target removed',
  });
  assert.equal((await volumeFilesOn(source, 'slow-data')).length, 1, 'the disk itself still at the source');
  const still = await client.get<VirtualMachine>('vm', 'slow', ns);
  assert.equal(still.spec.nodeName, source, 'still bound to the source');
  assert.equal(still.status?.phase, 'Running');
  // Counting on at the source: the guest was never stopped for good.
  const count = ticks(await consoleOn(source, uid)).at(-1)!;
  await waitFor(async () => ticks(await consoleOn(source, uid)).at(-1)! > count + 5, { timeoutMs: 30_000, message: 'the guest counting on at the source' });
  assert.equal(ticks(await consoleOn(target, uid)).length, 0, 'the guest never ran at the target');
  assertOneGuestRunning(overlaps);
  await deleteVm('slow');
});

test('the target agent killed during the transfer: the Migration fails saying why, the guest runs on at the source', async () => {
  const vm = await startCounter('steady', 'marker-steady');
  const uid = vm.metadata.uid!;
  const source = vm.spec.nodeName!;
  const target = NODES.find((n) => n !== source)!;
  const overlaps = watcher.overlapsChecked;
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
  assertOneGuestRunning(overlaps);
  await deleteVm('steady');
});

test('drain moves the VMs that ask for live migration: every one runs on at the other node, none booted again', async () => {
  const names = ['evac-1', 'evac-2'];
  // Both on one node: the other cordoned while they start.
  const [from, to] = NODES as [string, string];
  await shoalctl(['cordon', to, '--server', cluster.url]);
  for (const name of names)
    await client.create('vm', {
      metadata: { name, ...ns },
      spec: { resources: { vcpus: 1, memoryMiB: 128 }, network: { mode: 'none' }, evictionStrategy: 'LiveMigrate', command: counterCommand(name) },
    });
  const before = new Map<string, VirtualMachine>();
  for (const name of names)
    before.set(
      name,
      await waitForObject(client, 'VirtualMachine', name, (v) => v.status?.phase === 'Running' && v.spec.nodeName === from, {
        ...ns,
        timeoutMs: 90_000,
        message: `${name} Running on ${from}`,
      }),
    );
  await shoalctl(['uncordon', to, '--server', cluster.url]);
  const counts = new Map(names.map((n) => [n, followCount(from, before.get(n)!.metadata.uid!)]));

  const drained = await shoalctl(['drain', from, '--timeout', '180s', '--server', cluster.url]);
  assert.equal(drained.exitCode, 0, drained.stderr);
  for (const name of names) assert.match(drained.stdout, new RegExp(`migrating virtualmachine/default/${name}\\n`));
  for (const name of names) {
    const vm = await client.get<VirtualMachine>('vm', name, ns);
    const was = before.get(name)!;
    assert.equal(vm.spec.nodeName, to, `${name} moved`);
    assert.equal(vm.status?.phase, 'Running');
    assert.equal(vm.status?.bootedAt, was.status?.bootedAt, `${name} not booted again`);
    assert.equal(vm.status?.restarts ?? 0, was.status?.restarts ?? 0, `${name} not restarted`);
    const uid = vm.metadata.uid!;
    await waitFor(async () => ticks(await consoleOn(to, uid)).length >= 2, { timeoutMs: 30_000, message: `${name} counting at ${to}` });
    counts.get(name)!.stop();
    assert.equal(ticks(await consoleOn(to, uid))[0], counts.get(name)!.last()! + 1, `${name}'s count carries on`);
  }
  const migrations = (await client.list<Migration>('migration', ns)).items.filter((m) => names.includes(m.spec.vmName));
  assert.deepEqual(migrations.map((m) => m.status?.phase).sort(), ['Succeeded', 'Succeeded']);
  assert.ok(
    migrations.every((m) => m.metadata.labels?.['shoal.dev/evacuation'] === 'true'),
    'started by the evacuation controller',
  );
  await shoalctl(['uncordon', from, '--server', cluster.url]);
  for (const name of names) await deleteVm(name);
});

test('a VM of an Image, its root disk an overlay on the Image’s disk, moves live: the target fetches the image first, the guest counts on there', async () => {
  // An Image of the default guest's kernel and initramfs, with a blank root disk, all by file:// URL.
  const built = await locateGuestImage();
  const dir = await mkdtemp(join(tmpdir(), 'shoal-mig-image-'));
  const disk = join(dir, 'root.qcow2');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  const file = async (path: string) => ({
    url: pathToFileURL(path).href,
    sha256: createHash('sha256')
      .update(await readFile(path))
      .digest('hex'),
  });
  const diskFile = await file(disk);
  await client.create('image', {
    metadata: { name: 'busybox-rooted' },
    spec: { kernel: await file(built.kernel), initrd: await file(built.initrd), disk: { ...diskFile, format: 'qcow2' } },
  });
  await client.create('vm', {
    metadata: { name: 'imaged', ...ns },
    spec: {
      image: 'busybox-rooted',
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: 'none' },
      rootDisk: { baseImage: 'busybox-rooted' },
      command: counterCommand('marker-imaged'),
    },
  });
  const vm = await waitForObject(client, 'VirtualMachine', 'imaged', (v) => v.status?.phase === 'Running', {
    ...ns,
    timeoutMs: 90_000,
    message: 'imaged Running',
  });
  const uid = vm.metadata.uid!;
  const source = vm.spec.nodeName!;
  const target = NODES.find((n) => n !== source)!;
  await waitFor(async () => ticks(await consoleOn(source, uid)).length >= 3, { timeoutMs: 60_000, message: 'imaged counting' });
  const run = await shoalctl(['migrate', 'vm', 'imaged', '--server', cluster.url]);
  assert.equal(run.exitCode, 0, `${run.stdout}${run.stderr}`);
  const moved = await client.get<VirtualMachine>('vm', 'imaged', ns);
  assert.equal(moved.spec.nodeName, target);
  assert.equal(moved.status?.bootedAt, vm.status?.bootedAt, 'not booted again');
  const count = ticks(await consoleOn(target, uid)).at(-1) ?? 0;
  await waitFor(async () => (ticks(await consoleOn(target, uid)).at(-1) ?? 0) > count + 3, { timeoutMs: 30_000, message: 'counting on at the target' });
  assert.equal((await client.get<Volume>('volume', 'imaged-root', ns)).status?.node, target, 'its root Volume held by the target');
  const targetNode = await client.get<Node>('node', target);
  assert.ok(
    targetNode.status?.images?.some((i) => i.sha256 === diskFile.sha256),
    'the target holds the image’s disk, verified',
  );
  await deleteVm('imaged');
  await client.delete('image', 'busybox-rooted');
  await rm(dir, { recursive: true, force: true });
});

test('a cold migration shuts the guest down, copies its local disk and boots it on the target: the data is there, the same VM', async () => {
  const vm = await startCounter('coldy', 'marker-cold');
  const uid = vm.metadata.uid!;
  const source = vm.spec.nodeName!;
  const target = NODES.find((n) => n !== source)!;
  const run = await shoalctl(['migrate', 'vm', 'coldy', '--cold', '--server', cluster.url]);
  assert.equal(run.exitCode, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^virtualmachine/coldy migrated from ${source} to ${target} \\(downtime \\d+ ms\\)\\n$`));
  const moved = await client.get<VirtualMachine>('vm', 'coldy', ns);
  assert.equal(moved.spec.nodeName, target);
  assert.equal(moved.metadata.uid, uid, 'the same VM');
  assert.notEqual(moved.status?.bootedAt, vm.status?.bootedAt, 'booted again at the target');
  await waitFor(async () => (await consoleOn(target, uid)).includes('FOUND-marker-cold'), {
    timeoutMs: 60_000,
    message: 'the guest at the target to find what it wrote at the source',
  });
  assert.equal((await client.get<Volume>('volume', 'coldy-data', ns)).status?.node, target, 'the volume is held by the target now');
  await waitFor(async () => (await volumeFilesOn(source, 'coldy-data')).length === 0, { timeoutMs: 10_000, message: 'the source’s copy of the disk removed' });
  assert.equal(((await runningVmProcesses()).get(uid) ?? []).length, 1, 'one QEMU for the VM');
  await deleteVm('coldy');
});

test('a live migration that cannot finish in time falls back, when allowed, to a cold one: the guest arrives with its disk', async () => {
  const vm = await startCounter('stubborn', 'marker-fallback');
  const uid = vm.metadata.uid!;
  const source = vm.spec.nodeName!;
  const target = NODES.find((n) => n !== source)!;
  // 1 MiB/s for a 1 GiB disk and 128 MiB of memory: the live transfer runs into its 10 s deadline.
  await client.create('migration', {
    metadata: { name: 'move-stubborn', ...ns },
    spec: { vmName: 'stubborn', allowColdFallback: true, policy: { bandwidthMiBps: 1, completionTimeoutPerGiBSeconds: 1 } },
  });
  const done = await waitForObject(client, 'Migration', 'move-stubborn', (m) => ['Succeeded', 'Failed', 'Aborted'].includes(m.status?.phase ?? ''), {
    ...ns,
    timeoutMs: 120_000,
    message: 'the migration to end',
  });
  assert.equal(done.status?.phase, 'Succeeded', `${done.status?.reason}: ${done.status?.message}`);
  assert.deepEqual([done.spec.mode, done.status?.mode], ['Live', 'Cold'], 'asked for Live, done as Cold');
  const phases = (done.status?.phaseTransitions ?? []).map((t) => t.phase);
  assert.deepEqual(
    phases.slice(phases.indexOf('Running')),
    ['Running', 'Scheduling', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded'],
    'a second attempt',
  );
  // Events are written in the background: waited for, not expected at once.
  const fellBack = await waitFor(
    async () => (await client.list<Event>('event', ns)).items.find((e) => e.reason === 'FellBackToCold' && e.involvedObject?.name === 'move-stubborn'),
    { timeoutMs: 10_000, message: 'the FellBackToCold Event' },
  );
  assert.match(fellBack.message ?? '', /the live migration failed \(TransferTimedOut\)/, 'the Live failure said, as an Event');

  const moved = await client.get<VirtualMachine>('vm', 'stubborn', ns);
  assert.equal(moved.spec.nodeName, target);
  await waitFor(async () => (await consoleOn(target, uid)).includes('FOUND-marker-fallback'), {
    timeoutMs: 60_000,
    message: 'the guest at the target to find what it wrote at the source',
  });
  assert.equal(((await runningVmProcesses()).get(uid) ?? []).length, 1, 'one QEMU for the VM');
  await waitFor(async () => (await volumeFilesOn(source, 'stubborn-data')).length === 0, {
    timeoutMs: 10_000,
    message: 'the source’s copy of the disk removed',
  });
  await deleteVm('stubborn');
});

test('a preempted VM that asks for live migration moves to a node with room instead of stopping, and the preemptor takes its place', async () => {
  const [from, to] = NODES as [string, string];
  const pc = (name: string, value: number) => client.create('priorityclass', { metadata: { name }, spec: { value } });
  await pc('mig-low', 100);
  await pc('mig-high', 900);
  // to: half taken by a VM nothing may preempt; from: half taken by the victim (placed while `to` is cordoned).
  await client.create('vm', {
    metadata: { name: 'keeper', ...ns },
    spec: { priorityClassName: 'mig-high', resources: { vcpus: 1, memoryMiB: 128 }, network: { mode: 'none' }, nodeSelector: { 'shoal.dev/hostname': to } },
  });
  await waitForObject(client, 'VirtualMachine', 'keeper', (v) => v.status?.phase === 'Running', { ...ns, timeoutMs: 90_000, message: 'keeper Running' });
  await shoalctl(['cordon', to, '--server', cluster.url]);
  await client.create('vm', {
    metadata: { name: 'victim', ...ns },
    spec: {
      priorityClassName: 'mig-low',
      resources: { vcpus: 1, memoryMiB: 128 },
      network: { mode: 'none' },
      evictionStrategy: 'LiveMigrate',
      command: counterCommand('victim'),
    },
  });
  const victim = await waitForObject(client, 'VirtualMachine', 'victim', (v) => v.status?.phase === 'Running' && v.spec.nodeName === from, {
    ...ns,
    timeoutMs: 90_000,
    message: `victim Running on ${from}`,
  });
  await shoalctl(['uncordon', to, '--server', cluster.url]);

  // Two vCPUs: no node has them free; only the victim may make room.
  await client.create('vm', {
    metadata: { name: 'boss', ...ns },
    spec: { priorityClassName: 'mig-high', resources: { vcpus: 2, memoryMiB: 128 }, network: { mode: 'none' } },
  });
  const boss = await waitForObject(client, 'VirtualMachine', 'boss', (v) => v.status?.phase === 'Running', {
    ...ns,
    timeoutMs: 180_000,
    message: 'boss Running',
  });
  assert.equal(boss.spec.nodeName, from, 'in the victim’s place');
  const moved = await client.get<VirtualMachine>('vm', 'victim', ns);
  assert.equal(moved.spec.nodeName, to, 'the victim moved to the node with room');
  assert.equal(moved.status?.phase, 'Running');
  assert.equal(moved.status?.bootedAt, victim.status?.bootedAt, 'not booted again: migrated, not stopped');
  const migration = (await client.list<Migration>('migration', ns)).items.find((m) => m.spec.vmName === 'victim');
  assert.equal(migration?.status?.phase, 'Succeeded');
  for (const name of ['boss', 'victim', 'keeper']) await deleteVm(name);
});
