/**
 * The migration controller end to end: a real etcd, apiserver and controller-manager process
 * (only `--controllers migration`), run as its own user system:shoal:migration under RBAC, so
 * every case also proves its role allows what it does. No agent runs: the test writes Node
 * objects (Ready, with room), binds Running VMs (their status written as an agent writes it), and
 * plays the agents of a migration by writing status.target (the target's) and status.source
 * (the source's) as they would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MIGRATION_PROTECTION_FINALIZER,
  type Event,
  type Migration,
  type MigrationStatus,
  type VirtualMachine,
  type VmVolume,
  type WatchEvent,
} from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor, waitForGone, waitForObject, type ControllerManagerProcess } from '@shoal/testing';
import { refusals, withSystemCluster } from '../test-support/system-cluster.js';
import { MIGRATION_COMPONENT } from './controller.js';

/** The machine is small and shared: deadlines are generous, conditions are what is awaited. */
const LONG = { timeoutMs: 60_000 };
const NS = { namespace: 'default' };
const IP = '10.88.0.7';
const BOOTED_AT = '2026-12-03T09:00:00Z';

async function addNode(client: ShoalClient, name: string, o: { memoryMiB?: number; labels?: Record<string, string> } = {}): Promise<void> {
  await client.create('node', { metadata: { name, ...(o.labels ? { labels: o.labels } : {}) }, spec: {} });
  await setReady(client, name, 'True', o.memoryMiB ?? 4096);
}

async function setReady(client: ShoalClient, name: string, status: 'True' | 'Unknown', memoryMiB?: number): Promise<void> {
  const room = memoryMiB ? { capacity: { vcpus: 4, memoryMiB }, allocatable: { vcpus: 4, memoryMiB } } : {};
  const reason = status === 'True' ? 'AgentReady' : 'NodeLeaseExpired';
  await client.patch('node', name, { status: { ...room, conditions: [{ type: 'Ready', status, reason }] } }, { type: 'merge', status: true });
}

/** A VM bound to `node` and Running there, its status written as its agent writes it. */
async function runningVm(
  client: ShoalClient,
  name: string,
  node: string,
  o: { memoryMiB?: number; volumes?: VmVolume[]; phase?: 'Running' | 'Stopped' } = {},
): Promise<VirtualMachine> {
  await client.create('vm', {
    metadata: { name },
    spec: { resources: { vcpus: 1, memoryMiB: o.memoryMiB ?? 1024 }, ...(o.volumes ? { volumes: o.volumes } : {}) },
  });
  await client.bind('default', name, node);
  return client.patch<VirtualMachine>(
    'vm',
    name,
    { status: { phase: o.phase ?? 'Running', nodeName: node, ip: IP, pid: 4242, bootedAt: BOOTED_AT } },
    { type: 'merge', status: true },
  );
}

const getVm = (client: ShoalClient, name: string) => client.get<VirtualMachine>('vm', name, NS);
const getMigration = (client: ShoalClient, name: string) => client.get<Migration>('migration', name, NS);
const migrate = (client: ShoalClient, name: string, spec: Record<string, unknown>) => client.create<Migration>('migration', { metadata: { name }, spec }, NS);

function inPhase(client: ShoalClient, name: string, phase: NonNullable<MigrationStatus['phase']>): Promise<Migration> {
  return waitForObject(client, 'Migration', name, (m) => m.status?.phase === phase, { ...LONG, ...NS, message: `Migration ${name} ${phase}` });
}

/** Waits for the Migration to fail (or abort) and answers its reason and message. */
async function ended(client: ShoalClient, name: string, phase: 'Failed' | 'Aborted' = 'Failed'): Promise<[string | undefined, string | undefined]> {
  const m = await inPhase(client, name, phase);
  return [m.status?.reason, m.status?.message];
}

/** What an agent writes: the target's part or the source's, merged into status. */
const report = (client: ShoalClient, name: string, status: MigrationStatus) =>
  client.patch('migration', name, { status }, { type: 'merge', status: true, ...NS });

const now = () => new Date().toISOString();
const phasesOf = (m: Migration) => (m.status?.phaseTransitions ?? []).map((t) => t.phase);
const transitionAt = (m: Migration, phase: string) => Date.parse(m.status!.phaseTransitions!.find((t) => t.phase === phase)!.time);

/** Every version of one Migration from `resourceVersion` on (phases too brief to poll), collected until stop(). */
function record(client: ShoalClient, name: string, resourceVersion: string) {
  const seen: WatchEvent<Migration>[] = [];
  const abort = new AbortController();
  const done = (async () => {
    try {
      for await (const e of client.watch<Migration>('migration', { ...NS, fieldSelector: `metadata.name=${name}`, resourceVersion }, abort.signal))
        seen.push(e);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return {
    async stop(): Promise<WatchEvent<Migration>[]> {
      abort.abort();
      await done;
      return seen;
    },
  };
}

async function eventsAbout(client: ShoalClient, name: string, kind: string): Promise<Event[]> {
  return (await client.list<Event>('event', NS)).items.filter(
    (e) => e.involvedObject.name === name && e.involvedObject.kind === kind && e.source?.component === MIGRATION_COMPONENT,
  );
}

function eventOn(client: ShoalClient, kind: string, name: string, reason: string, text: RegExp = /./): Promise<Event> {
  return waitFor(async () => (await eventsAbout(client, name, kind)).find((e) => e.reason === reason && text.test(e.message ?? '')), {
    ...LONG,
    message: `${reason} Event on ${kind} ${name} matching ${text}`,
  });
}

test('a live migration through every phase: the target chosen by the filters and scores (room, never the source, a local disk no obstacle), the VM moved in one update keeping its guest, the downtime computed, Events on both, the finalizer gone at the end', async () => {
  await withSystemCluster({ controllers: ['migration'], secured: true }, async ({ client, cm, audit }) => {
    await addNode(client, 'a');
    await addNode(client, 'b', { memoryMiB: 512 });
    await addNode(client, 'c');
    // Its disk is a Volume in the local pool, held by node a: the agents copy it with the guest.
    await client.create('volume', { metadata: { name: 'web-data' }, spec: { sizeGiB: 2, source: { blank: {} } } }, NS);
    await client.patch(
      'volume',
      'web-data',
      { status: { phase: 'Available', node: 'a', path: '/var/lib/shoal/volumes/local/web-data.qcow2' } },
      {
        type: 'merge',
        status: true,
        ...NS,
      },
    );
    const before = await runningVm(client, 'web', 'a', { volumes: [{ name: 'data', volumeName: 'web-data' }] });

    await migrate(client, 'move-web', { vmName: 'web' });
    const preparing = await inPhase(client, 'move-web', 'PreparingTarget');
    assert.deepEqual(preparing.metadata.finalizers, [MIGRATION_PROTECTION_FINALIZER]);
    assert.equal(preparing.status?.targetNode, 'c', 'b has no room and a is the source');
    assert.equal(preparing.status?.sourceNode, 'a');
    assert.equal(preparing.status?.vmUID, before.metadata.uid);
    assert.equal(preparing.status?.mode, 'Live');
    assert.match(preparing.status!.message!, /node c, the best of 1 that can take it \(of 3 nodes\)/);
    await eventOn(client, 'Migration', 'move-web', 'TargetSelected', /^moving VirtualMachine web from node a to node c$/);
    await eventOn(client, 'VirtualMachine', 'web', 'TargetSelected', /^Migration move-web: moving VirtualMachine web from node a to node c$/);

    // The target's agent: a QEMU waiting for the guest, and an NBD server for the local disk.
    await report(client, 'move-web', { target: { migrationUri: 'tcp:10.0.0.3:49152', nbd: { host: '10.0.0.3', port: 10809 }, readyAt: now() } });
    await inPhase(client, 'move-web', 'TargetReady');
    // The source's agent starts sending.
    await report(client, 'move-web', { source: { startedAt: now() }, totalBytes: 3 * 2 ** 30, transferredBytes: 0, remainingBytes: 3 * 2 ** 30 });
    await inPhase(client, 'move-web', 'Running');
    await report(client, 'move-web', { transferredBytes: 2 ** 30, remainingBytes: 2 * 2 ** 30 });
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'a', 'nothing moves before the transfer completed');

    // The transfer completes: the switchover moves the VM, keeping what its guest is.
    const completedAt = Date.now();
    await report(client, 'move-web', { source: { completedAt: new Date(completedAt).toISOString(), qemuDowntimeMs: 12 } });
    const movedVm = await waitForObject(client, 'VirtualMachine', 'web', (v) => v.spec.nodeName === 'c', { ...LONG, message: 'moved to c' });
    assert.equal(movedVm.metadata.uid, before.metadata.uid);
    assert.equal(movedVm.status?.phase, 'Running');
    assert.equal(movedVm.status?.ip, IP);
    assert.equal(movedVm.status?.bootedAt, BOOTED_AT);
    assert.equal(movedVm.status?.nodeName, 'c');
    const waiting = await waitForObject(client, 'Migration', 'move-web', (m) => m.status?.conditions?.some((c) => c.type === 'Moved') === true, {
      ...LONG,
      ...NS,
      message: 'the move recorded',
    });
    assert.equal(waiting.status?.phase, 'Running');
    assert.equal(waiting.status?.message, "VirtualMachine web moved to node c: waiting for node c's agent to resume the guest");

    // The target's agent resumes the guest.
    await report(client, 'move-web', { target: { resumedAt: new Date(completedAt + 30).toISOString() } });
    const done = await inPhase(client, 'move-web', 'Succeeded');
    assert.deepEqual(phasesOf(done), ['Scheduling', 'PreparingTarget', 'TargetReady', 'Running', 'Succeeded']);
    const times = done.status!.phaseTransitions!.map((t) => Date.parse(t.time));
    assert.deepEqual(
      times,
      [...times].sort((x, y) => x - y),
      'in order',
    );
    assert.equal(done.status?.downtimeMs, 42, '30 ms of switchover + 12 ms QEMU measured at the source');
    assert.match(done.status!.message!, /^moved from a to c in \d+ ms, guest paused 42 ms$/);
    assert.equal(done.status?.reason, undefined);
    assert.equal(done.status?.observedGeneration, done.metadata.generation);
    assert.equal(done.status?.conditions?.find((c) => c.type === 'Succeeded')?.status, 'True');
    assert.equal(done.status?.target?.migrationUri, 'tcp:10.0.0.3:49152', "the agents' reports are left as they wrote them");
    assert.equal(done.status?.transferredBytes, 2 ** 30);
    await eventOn(client, 'Migration', 'move-web', 'Migrated', /guest paused 42 ms/);
    await eventOn(client, 'VirtualMachine', 'web', 'Migrated', /^Migration move-web: moved from a to c/);
    const unprotected = await waitForObject(client, 'Migration', 'move-web', (m) => !m.metadata.finalizers?.length, {
      ...LONG,
      ...NS,
      message: 'finalizer removed',
    });
    assert.equal(unprotected.status?.phase, 'Succeeded');
    const vm = await getVm(client, 'web');
    assert.equal(vm.spec.nodeName, 'c');
    assert.equal(vm.status?.phase, 'Running');

    // Finished: deleted at once.
    await client.delete('migration', 'move-web', NS);
    await waitForGone(client, 'Migration', 'move-web', { ...LONG, ...NS });

    const metrics = await (await fetch((cm as ControllerManagerProcess).metricsUrl)).text();
    assert.match(metrics, /shoal_migrations_total\{outcome="Succeeded",reason=""\} 1/);
    assert.match(metrics, /shoal_migration_downtime_seconds_count 1/);

    // Its writes, as its own user: the Migration (finalizer, status), the VM's one move, Events.
    const mine = await waitFor(async () => {
      const entries = (await audit()).filter((e) => e.user === 'system:shoal:migration' && e.verb !== 'get' && e.verb !== 'list' && e.verb !== 'watch');
      return entries.filter((e) => e.resource === 'migrations' && !e.subresource).length >= 2 ? entries : undefined;
    }, LONG);
    const vmWrites = mine.filter((e) => e.resource === 'virtualmachines' && e.code < 300);
    assert.deepEqual(
      vmWrites.map((e) => [e.verb, e.name, e.subresource ?? '', e.code]),
      [['patch', 'web', '', 200]],
      'the VM is written once: the move',
    );
    assert.deepEqual([...new Set(mine.map((e) => e.resource))].sort(), ['events', 'migrations', 'virtualmachines']);
    assert.deepEqual(
      mine.filter((e) => e.code === 401 || e.code === 403),
      [],
    );
    assert.deepEqual(refusals(cm!), []);
  });
});

test('refused at Pending or Scheduling, each with its reason, a sentence and a Warning Event: VMNotFound, VMNotRunning, TargetNotEligible (no room, the source, a shared pool that does not reach it), NoTargetNode, AlreadyMigrating', async () => {
  await withSystemCluster({ controllers: ['migration'], secured: true }, async ({ client, cm }) => {
    await addNode(client, 'a', { memoryMiB: 16384, labels: { nfs: 'yes' } });
    await addNode(client, 'b', { memoryMiB: 512 });
    await addNode(client, 'c', { labels: { nfs: 'yes' } });
    await client.create('storagepool', { metadata: { name: 'nfs' }, spec: { type: 'shared', nodeSelector: { nfs: 'yes' } } });
    await client.create('volume', { metadata: { name: 'team' }, spec: { sizeGiB: 10, pool: 'nfs', source: { blank: {} } } }, NS);
    const web = await runningVm(client, 'web', 'a');
    await runningVm(client, 'idle', 'a', { phase: 'Stopped' });
    await runningVm(client, 'db', 'a', { memoryMiB: 256, volumes: [{ name: 'shared', volumeName: 'team' }] });
    await runningVm(client, 'huge', 'a', { memoryMiB: 5000 });

    await migrate(client, 'nope', { vmName: 'ghost' });
    assert.deepEqual(await ended(client, 'nope'), ['VMNotFound', 'VirtualMachine ghost does not exist in namespace default']);
    await migrate(client, 'stopped', { vmName: 'idle' });
    assert.deepEqual(await ended(client, 'stopped'), ['VMNotRunning', 'VirtualMachine idle is not running: it is Stopped on node a']);
    await migrate(client, 'too-small', { vmName: 'web', targetNode: 'b' });
    assert.deepEqual(await ended(client, 'too-small'), ['TargetNotEligible', 'node b cannot take VirtualMachine web: insufficient memory']);
    await migrate(client, 'to-self', { vmName: 'web', targetNode: 'a' });
    assert.deepEqual(await ended(client, 'to-self'), ['TargetNotEligible', 'node a is where VirtualMachine web runs already']);
    await migrate(client, 'unreachable', { vmName: 'db', targetNode: 'b' });
    assert.deepEqual(await ended(client, 'unreachable'), [
      'TargetNotEligible',
      'node b cannot take VirtualMachine db: volume team: StoragePool nfs does not reach node b (it needs nfs=yes)',
    ]);
    await migrate(client, 'nowhere', { vmName: 'huge' });
    assert.deepEqual(await ended(client, 'nowhere'), ['NoTargetNode', "0/3 nodes are available: 2 insufficient memory, 1 node(s) were the VM's current node."]);
    const warning = await eventOn(client, 'Migration', 'too-small', 'TargetNotEligible');
    assert.equal(warning.type, 'Warning');
    await eventOn(client, 'VirtualMachine', 'web', 'TargetNotEligible', /^Migration too-small: node b cannot take/);
    // Every one of them let go of at once.
    for (const name of ['nope', 'stopped', 'too-small', 'to-self', 'unreachable', 'nowhere'])
      await waitForObject(client, 'Migration', name, (m) => !m.metadata.finalizers?.length, { ...LONG, ...NS, message: `${name} unprotected` });

    // One active Migration per VM: the second fails naming the first, which goes on.
    await migrate(client, 'first', { vmName: 'web' });
    await inPhase(client, 'first', 'PreparingTarget');
    await migrate(client, 'second', { vmName: 'web', targetNode: 'c' });
    assert.deepEqual(await ended(client, 'second'), ['AlreadyMigrating', 'VirtualMachine web is already being moved by Migration first']);
    const first = await getMigration(client, 'first');
    assert.equal(first.status?.phase, 'PreparingTarget');
    assert.equal(first.status?.targetNode, 'c');
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'a');
    assert.equal((await getVm(client, 'web')).metadata.uid, web.metadata.uid);
    assert.deepEqual(refusals(cm!), []);
  });
});

test('failures before the switchover leave the VM where it is: the source agent fails, the target agent fails, the target node goes NotReady', async () => {
  await withSystemCluster({ controllers: ['migration'], secured: true }, async ({ client, cm }) => {
    await addNode(client, 'a');
    await addNode(client, 'c');
    await runningVm(client, 'web', 'a');

    // The source fails mid-transfer: not moved.
    await migrate(client, 'src-fails', { vmName: 'web' });
    await inPhase(client, 'src-fails', 'PreparingTarget');
    await report(client, 'src-fails', { target: { readyAt: now() } });
    await inPhase(client, 'src-fails', 'TargetReady');
    await report(client, 'src-fails', { source: { startedAt: now() } });
    await inPhase(client, 'src-fails', 'Running');
    await report(client, 'src-fails', { source: { failure: { reason: 'SourceFailed', message: 'migrate: connection reset by peer' } } });
    assert.deepEqual(await ended(client, 'src-fails'), [
      'SourceFailed',
      'node a (source): migrate: connection reset by peer; VirtualMachine web stays on node a',
    ]);
    await eventOn(client, 'VirtualMachine', 'web', 'SourceFailed');
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'a');

    // The target cannot get ready.
    await migrate(client, 'tgt-fails', { vmName: 'web' });
    await inPhase(client, 'tgt-fails', 'PreparingTarget');
    await report(client, 'tgt-fails', { target: { failure: { reason: 'TargetFailed', message: 'qemu: -incoming: address in use' } } });
    assert.deepEqual(await ended(client, 'tgt-fails'), [
      'TargetFailed',
      'node c (target): qemu: -incoming: address in use; VirtualMachine web stays on node a',
    ]);

    // The target node is lost mid-transfer.
    await migrate(client, 'tgt-lost', { vmName: 'web' });
    await inPhase(client, 'tgt-lost', 'PreparingTarget');
    await report(client, 'tgt-lost', { target: { readyAt: now() }, source: { startedAt: now() } });
    await inPhase(client, 'tgt-lost', 'Running');
    await setReady(client, 'c', 'Unknown');
    const [reason, message] = await ended(client, 'tgt-lost');
    assert.equal(reason, 'TargetNodeNotReady');
    assert.equal(message, 'target node c is not Ready: Ready=Unknown (NodeLeaseExpired); VirtualMachine web stays on node a');
    const vm = await getVm(client, 'web');
    assert.equal(vm.spec.nodeName, 'a');
    assert.equal(vm.status?.phase, 'Running');
    assert.deepEqual(refusals(cm!), []);
  });
});

test('deleted in flight, before the switchover: Aborted (reason Deleted), the VM stays, then the Migration is gone; deleted after the switchover: not aborted, Succeeded once the target resumes the guest, then gone', async () => {
  await withSystemCluster({ controllers: ['migration'], secured: true }, async ({ client, cm }) => {
    await addNode(client, 'a');
    await addNode(client, 'c');
    await runningVm(client, 'web', 'a');
    await runningVm(client, 'other', 'a', { memoryMiB: 256 });

    await migrate(client, 'early', { vmName: 'web' });
    await inPhase(client, 'early', 'PreparingTarget');
    await report(client, 'early', { target: { readyAt: now() }, source: { startedAt: now() } });
    const running = await inPhase(client, 'early', 'Running');
    const early = record(client, 'early', running.metadata.resourceVersion!);
    await client.delete('migration', 'early', NS);
    await waitForGone(client, 'Migration', 'early', { ...LONG, ...NS });
    // Aborted while the finalizer held it, then gone: every version it went through.
    const versions = (await early.stop()).map((e) => [
      e.type,
      e.object.status?.phase,
      e.object.status?.reason ?? '',
      e.object.metadata.finalizers?.length ?? 0,
    ]);
    assert.deepEqual(versions[0], ['MODIFIED', 'Running', '', 1], 'the delete');
    assert.ok(
      versions.some((v) => JSON.stringify(v) === JSON.stringify(['MODIFIED', 'Aborted', 'Deleted', 1])),
      JSON.stringify(versions),
    );
    assert.deepEqual(versions.at(-1)?.slice(0, 3), ['DELETED', 'Aborted', 'Deleted']);
    assert.ok(!versions.some(([, phase]) => phase === 'Failed' || phase === 'Succeeded'));
    await eventOn(client, 'Migration', 'early', 'Deleted', /^deleted before the switchover: VirtualMachine web stays on node a$/);
    await eventOn(client, 'VirtualMachine', 'web', 'Deleted', /^Migration early: deleted before the switchover/);
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'a');

    await migrate(client, 'late', { vmName: 'web' });
    await inPhase(client, 'late', 'PreparingTarget');
    await report(client, 'late', { target: { readyAt: now() }, source: { startedAt: now() } });
    await inPhase(client, 'late', 'Running');
    const completedAt = Date.now();
    await report(client, 'late', { source: { completedAt: new Date(completedAt).toISOString() } });
    await waitForObject(client, 'VirtualMachine', 'web', (v) => v.spec.nodeName === 'c', { ...LONG, message: 'moved to c' });
    await client.delete('migration', 'late', NS);
    // A barrier without a sleep: the delete was handed out before this Migration's three steps to PreparingTarget.
    await migrate(client, 'barrier', { vmName: 'other' });
    await inPhase(client, 'barrier', 'PreparingTarget');
    const held = await getMigration(client, 'late');
    assert.ok(held.metadata.deletionTimestamp);
    assert.equal(held.status?.phase, 'Running', 'moved: never aborted');
    assert.deepEqual(held.metadata.finalizers, [MIGRATION_PROTECTION_FINALIZER], 'kept until the target says how it ended');
    await report(client, 'late', { target: { resumedAt: new Date(completedAt + 5).toISOString() } });
    await waitForGone(client, 'Migration', 'late', { ...LONG, ...NS });
    await eventOn(client, 'Migration', 'late', 'Migrated', /^moved from a to c in \d+ ms, guest paused 5 ms$/);
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'c');
    assert.deepEqual(refusals(cm!), []);
  });
});

test('deadlines: a target not ready in time (TargetNotReady), a transfer not complete in time (TransferTimedOut, with completionTimeoutPerGiBSeconds and the minimum lowered); the VM stays', async () => {
  const args = ['--migration-min-completion-timeout', '2', '--migration-target-ready-timeout', '3'];
  await withSystemCluster({ controllers: ['migration'], secured: true, args }, async ({ client, cm }) => {
    await addNode(client, 'a');
    await addNode(client, 'c');
    await runningVm(client, 'web', 'a', { memoryMiB: 256 });

    await migrate(client, 'slow-target', { vmName: 'web' });
    assert.equal((await ended(client, 'slow-target'))[0], 'TargetNotReady');
    const slow = await getMigration(client, 'slow-target');
    assert.equal(slow.status?.message, "node c's agent did not get ready to receive the guest within 3 s");
    assert.ok(transitionAt(slow, 'Failed') - transitionAt(slow, 'PreparingTarget') >= 3_000, 'not before its deadline');

    // 1 s per GiB of a 256 MiB guest is 0.25 s: the minimum, 2 s, applies.
    await migrate(client, 'slow-transfer', { vmName: 'web', policy: { completionTimeoutPerGiBSeconds: 1 } });
    await inPhase(client, 'slow-transfer', 'PreparingTarget');
    await report(client, 'slow-transfer', { target: { readyAt: now() }, source: { startedAt: now() } });
    await inPhase(client, 'slow-transfer', 'Running');
    const [reason, message] = await ended(client, 'slow-transfer');
    assert.equal(reason, 'TransferTimedOut');
    assert.equal(
      message,
      'the transfer did not complete within 2 s (1 s per GiB of memory and local disks: 0.25 GiB, at least 2 s); VirtualMachine web stays on node a',
    );
    const timedOut = await getMigration(client, 'slow-transfer');
    assert.ok(transitionAt(timedOut, 'Failed') - transitionAt(timedOut, 'Running') >= 2_000, 'not before its deadline');
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'a');
    assert.deepEqual(refusals(cm!), []);
  });
});

test('the controller stopped mid-way, the transfer completing meanwhile: a new one moves the VM and finishes the Migration', async () => {
  await withSystemCluster({ controllers: ['migration'], secured: true }, async (c) => {
    const { client } = c;
    await addNode(client, 'a');
    await addNode(client, 'c');
    await runningVm(client, 'web', 'a');
    await migrate(client, 'move-web', { vmName: 'web' });
    await inPhase(client, 'move-web', 'PreparingTarget');
    await report(client, 'move-web', { target: { readyAt: now() }, source: { startedAt: now() } });
    await inPhase(client, 'move-web', 'Running');

    await c.cm!.kill();
    const completedAt = Date.now();
    await report(client, 'move-web', { source: { completedAt: new Date(completedAt).toISOString(), qemuDowntimeMs: 3 } });
    assert.equal((await getVm(client, 'web')).spec.nodeName, 'a', 'nobody moves it while the controller is down');

    await c.startControllerManager();
    await waitForObject(client, 'VirtualMachine', 'web', (v) => v.spec.nodeName === 'c', { ...LONG, message: 'moved to c' });
    await report(client, 'move-web', { target: { resumedAt: new Date(completedAt + 7).toISOString() } });
    const done = await inPhase(client, 'move-web', 'Succeeded');
    assert.equal(done.status?.downtimeMs, 10);
    assert.deepEqual(refusals(c.cm!), []);
  });
});
