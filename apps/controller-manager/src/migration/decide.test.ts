/**
 * The migration controller's decisions on plain objects (decide.ts) and its choice of target
 * (placement.ts): every phase's way forward and way out, the deadlines, and the rule that a
 * Migration whose VM moved never fails while one that failed never moves it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  currentAttempt,
  MIGRATION_PROTECTION_FINALIZER,
  withDefaults,
  type Manifest,
  type Migration,
  type MigrationStatus,
  type Node,
  type StoragePool,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';
import type { StorageLookup } from '@shoal/scheduler';
import { completionTimeout, decide, isIrreversible, olderFirst, type Observed, type Step } from './decide.js';
import { chooseTarget, localDiskGiB, type PlacementInput } from './placement.js';

const T0 = Date.parse('2026-12-03T10:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const LIMITS = { minCompletionTimeoutMs: 60_000, targetReadyTimeoutMs: 60_000 };

function node(
  name: string,
  o: { ready?: 'True' | 'False' | 'Unknown'; memoryMiB?: number; labels?: Record<string, string>; unschedulable?: boolean } = {},
): Node {
  return withDefaults('Node', {
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: { unschedulable: o.unschedulable ?? false },
    status: { allocatable: { vcpus: 8, memoryMiB: o.memoryMiB ?? 4096 }, conditions: [{ type: 'Ready', status: o.ready ?? 'True' }] },
  });
}

function vm(name: string, o: { nodeName?: string; phase?: string; uid?: string; memoryMiB?: number; deleting?: boolean; spec?: object } = {}): VirtualMachine {
  return withDefaults('VirtualMachine', {
    metadata: { name, namespace: 'default', uid: o.uid ?? `uid-${name}`, resourceVersion: '7', ...(o.deleting ? { deletionTimestamp: at(0) } : {}) },
    spec: { runStrategy: 'Always', resources: { vcpus: 1, memoryMiB: o.memoryMiB ?? 1024 }, ...(o.nodeName ? { nodeName: o.nodeName } : {}), ...o.spec },
    status: { phase: (o.phase ?? 'Running') as 'Running' },
  } as Manifest<VirtualMachine>);
}

function migration(
  name: string,
  status: MigrationStatus = {},
  o: { created?: number; finalizer?: boolean; deleting?: boolean; spec?: object } = {},
): Migration {
  return withDefaults('Migration', {
    metadata: {
      name,
      namespace: 'default',
      uid: `uid-${name}`,
      resourceVersion: '3',
      generation: 1,
      creationTimestamp: at(o.created ?? 0).replace(/\.\d{3}Z$/, 'Z'),
      ...(o.finalizer === false ? {} : { finalizers: [MIGRATION_PROTECTION_FINALIZER] }),
      ...(o.deleting ? { deletionTimestamp: at(1) } : {}),
    },
    spec: { vmName: 'web', ...o.spec },
    status: { phase: 'Pending', ...status },
  } as Manifest<Migration>);
}

/** A Migration that got as far as `phase`, entered at `since` seconds. */
const under = (phase: MigrationStatus['phase'], more: MigrationStatus = {}, since = 0): MigrationStatus => ({
  phase,
  vmUID: 'uid-web',
  sourceNode: 'a',
  targetNode: 'b',
  mode: 'Live',
  phaseTransitions: [{ phase: phase!, time: at(since) }],
  ...more,
});

function observed(m: Migration, o: Partial<Observed> & { nodes?: Node[] } = {}): Observed {
  const nodes = o.nodes ?? [node('a'), node('b')];
  return {
    migration: m,
    vm: 'vm' in o ? o.vm : vm('web', { nodeName: 'a' }),
    node: (n) => nodes.find((x) => x.metadata.name === n),
    others: o.others ?? [],
    claimedBy: o.claimedBy,
    placement: o.placement,
    localDiskGiB: o.localDiskGiB ?? 0,
    now: o.now ?? T0 + 1_000,
    limits: o.limits ?? LIMITS,
  };
}

const failedWith = (step: Step): [string, string | undefined] | undefined =>
  step.type === 'transition' && (step.to.phase === 'Failed' || step.to.phase === 'Aborted') ? [step.to.phase, step.to.reason] : undefined;

test('the finalizer goes on first and comes off once the Migration ended; one deleted before it was taken just goes', () => {
  assert.deepEqual(decide(observed(migration('m', {}, { finalizer: false }))), { type: 'addFinalizer' });
  assert.deepEqual(decide(observed(migration('m', {}, { finalizer: false, deleting: true }))), { type: 'none' });
  for (const phase of ['Succeeded', 'Failed', 'Aborted'] as const) {
    assert.deepEqual(decide(observed(migration('m', under(phase)))), { type: 'removeFinalizer' });
    assert.deepEqual(decide(observed(migration('m', under(phase), { finalizer: false }))), { type: 'none' });
  }
});

test('Pending: the VM must exist and run, no other Migration may hold it; else Scheduling with the uid, source and mode (Live or Cold)', () => {
  const m = migration('m');
  assert.deepEqual(failedWith(decide(observed(m, { vm: undefined }))), ['Failed', 'VMNotFound']);
  assert.deepEqual(failedWith(decide(observed(m, { vm: vm('web') }))), ['Failed', 'VMNotRunning'], 'not bound');
  assert.deepEqual(failedWith(decide(observed(m, { vm: vm('web', { nodeName: 'a', phase: 'Stopped' }) }))), ['Failed', 'VMNotRunning']);
  assert.deepEqual(failedWith(decide(observed(m, { vm: vm('web', { nodeName: 'a', deleting: true }) }))), ['Failed', 'VMNotRunning']);
  const cold = decide(observed(migration('m', {}, { spec: { mode: 'Cold' } })));
  assert.deepEqual(cold.type === 'transition' && [cold.to.phase, cold.to.set?.mode], ['Scheduling', 'Cold']);

  const ok = decide(observed(m));
  assert.equal(ok.type, 'transition');
  assert.deepEqual(ok.type === 'transition' && ok.to.set, { vmUID: 'uid-web', sourceNode: 'a', mode: 'Live' });
  assert.equal(ok.type === 'transition' && ok.to.phase, 'Scheduling');
});

test('Pending: AlreadyMigrating names an older active Migration, or any that started; newer Pending ones, ended ones and ones deleted before they were taken do not count', () => {
  const m = migration('m', {}, { created: 10 });
  const older = migration('first', {}, { created: 5 });
  const blocked = decide(observed(m, { others: [older] }));
  assert.deepEqual(failedWith(blocked), ['Failed', 'AlreadyMigrating']);
  assert.match(blocked.type === 'transition' ? blocked.to.message : '', /already being moved by Migration first$/);
  // Same second: by name.
  assert.deepEqual(failedWith(decide(observed(m, { others: [migration('a-first', {}, { created: 10 })] }))), ['Failed', 'AlreadyMigrating']);
  assert.equal(decide(observed(m, { others: [migration('z-later', {}, { created: 10 })] })).type, 'transition');
  // A newer one that is under way already (it was taken first).
  assert.deepEqual(failedWith(decide(observed(m, { others: [migration('newer', under('PreparingTarget'), { created: 20 })] }))), [
    'Failed',
    'AlreadyMigrating',
  ]);
  assert.deepEqual(failedWith(decide(observed(m, { claimedBy: 'other' }))), ['Failed', 'AlreadyMigrating']);
  const ok = (others: Migration[]) => {
    const step = decide(observed(m, { others }));
    return step.type === 'transition' && step.to.phase === 'Scheduling';
  };
  assert.ok(ok([migration('newer', {}, { created: 20 })]), 'a newer Pending one waits its turn (and fails)');
  assert.ok(ok([migration('done', under('Succeeded'), { created: 5 }), migration('failed', under('Failed'), { created: 5 })]));
  assert.ok(ok([migration('gone', {}, { created: 5, finalizer: false, deleting: true })]));
  assert.ok(olderFirst(older, m) < 0 && olderFirst(m, older) > 0);
});

test('Scheduling: the placement decides, and a VM that changed since fails it', () => {
  const m = migration('m', under('Scheduling', { targetNode: undefined }));
  const to = decide(observed(m, { placement: { ok: true, nodeName: 'c', message: 'node c, as asked' } }));
  assert.equal(to.type === 'transition' && to.to.phase, 'PreparingTarget');
  assert.deepEqual(to.type === 'transition' && to.to.set, { targetNode: 'c' });
  const no = decide(observed(m, { placement: { ok: false, reason: 'NoTargetNode', message: '0/2 nodes are available: …' } }));
  assert.deepEqual(no, { type: 'transition', to: { phase: 'Failed', reason: 'NoTargetNode', message: '0/2 nodes are available: …' } });
  const unbound = decide(observed(m, { vm: vm('web'), placement: { ok: true, nodeName: 'c', message: '' } }));
  assert.deepEqual(failedWith(unbound), ['Failed', 'VMChanged']);
  assert.deepEqual(failedWith(decide(observed(m, { vm: vm('web', { nodeName: 'a', uid: 'other' }), placement: { ok: true, nodeName: 'c', message: '' } }))), [
    'Failed',
    'VMChanged',
  ]);
});

test('PreparingTarget and TargetReady: forward on the agents’ word, Failed on their failure, a node NotReady or the 60 s deadline; until then, a look again at the deadline', () => {
  const preparing = (more: MigrationStatus = {}) => migration('m', under('PreparingTarget', more));
  assert.equal((decide(observed(preparing({ target: { readyAt: at(2) } }))) as { to: { phase: string } }).to.phase, 'TargetReady');
  const failed = decide(observed(preparing({ target: { failure: { reason: 'TargetFailed', message: 'qemu exited' } } })));
  assert.deepEqual(failedWith(failed), ['Failed', 'TargetFailed']);
  assert.match((failed as { to: { message: string } }).to.message, /^node b \(target\): qemu exited; VirtualMachine web stays on node a$/);
  assert.deepEqual(decide(observed(preparing(), { now: T0 + 15_000 })), { type: 'none', requeueAfterMs: 45_000 });
  assert.deepEqual(failedWith(decide(observed(preparing(), { now: T0 + 60_000 }))), ['Failed', 'TargetNotReady']);
  assert.deepEqual(failedWith(decide(observed(preparing(), { nodes: [node('a'), node('b', { ready: 'Unknown' })] }))), ['Failed', 'TargetNodeNotReady']);
  assert.deepEqual(failedWith(decide(observed(preparing(), { nodes: [node('b')] }))), ['Failed', 'SourceNodeNotReady'], 'the source is gone');

  const ready = (more: MigrationStatus = {}) => migration('m', under('TargetReady', { target: { readyAt: at(0) }, ...more }, 30));
  assert.equal((decide(observed(ready({ source: { startedAt: at(31) } }))) as { to: { phase: string } }).to.phase, 'Running');
  assert.deepEqual(decide(observed(ready(), { now: T0 + 40_000 })), { type: 'none', requeueAfterMs: 50_000 });
  assert.deepEqual(failedWith(decide(observed(ready(), { now: T0 + 90_000 }))), ['Failed', 'TargetNotReady']);
  assert.deepEqual(failedWith(decide(observed(ready({ source: { failure: { reason: 'SourceFailed' } } })))), ['Failed', 'SourceFailed']);
});

test('Running: the move once the transfer completed; TransferTimedOut after completionTimeoutPerGiBSeconds × (memory + local disks), at least the minimum', () => {
  const running = (more: MigrationStatus = {}, spec?: object) =>
    migration('m', under('Running', { target: { readyAt: at(0) }, source: { startedAt: at(0), ...more.source }, ...more }), { spec });
  const step = decide(observed(running({ source: { completedAt: at(5) } })));
  assert.equal(step.type, 'move');
  assert.deepEqual(step.type === 'move' && [step.from, step.to, step.vm.metadata.uid], ['a', 'b', 'uid-web']);
  assert.ok(isIrreversible(step, 'Running'));

  // 1 GiB of memory and 2 GiB of local disks at 150 s per GiB: 450 s.
  const big = observed(running(), { localDiskGiB: 2 });
  assert.equal(completionTimeout(big).timeoutMs, 450_000);
  assert.deepEqual(decide({ ...big, now: T0 + 449_000 }), { type: 'none', requeueAfterMs: 1_000 });
  const timedOut = decide({ ...big, now: T0 + 450_000 });
  assert.deepEqual(failedWith(timedOut), ['Failed', 'TransferTimedOut']);
  assert.ok(isIrreversible(timedOut, 'Running'), 'failing a running transfer is checked against the apiserver first');
  // 10 s per GiB: 30 s, raised to the minimum.
  assert.equal(completionTimeout(observed(running({}, { policy: { completionTimeoutPerGiBSeconds: 10 } }), { localDiskGiB: 2 })).timeoutMs, 60_000);
  assert.equal(
    completionTimeout(observed(running({}, { policy: { completionTimeoutPerGiBSeconds: 10 } }), { limits: { ...LIMITS, minCompletionTimeoutMs: 2_000 } }))
      .timeoutMs,
    10_000,
  );

  // Before the move, failures and a lost node end it; the VM stays.
  assert.deepEqual(failedWith(decide(observed(running({ source: { completedAt: at(5), failure: { reason: 'SourceFailed' } } })))), ['Failed', 'SourceFailed']);
  assert.deepEqual(failedWith(decide(observed(running({ source: { completedAt: at(5) } }), { nodes: [node('a'), node('b', { ready: 'False' })] }))), [
    'Failed',
    'TargetNodeNotReady',
  ]);
  assert.deepEqual(failedWith(decide(observed(running({}, undefined), { vm: vm('web', { nodeName: 'c' }) }))), ['Failed', 'VMChanged']);
  assert.deepEqual(failedWith(decide(observed(migration('m', under('Running'), { deleting: true })))), ['Aborted', 'Deleted']);
});

test('allowColdFallback: a Live failure before the move starts a Cold attempt from Scheduling; never after the move, never twice, never for a changed VM or a lost source', () => {
  const running = (more: MigrationStatus = {}, allow = true) =>
    migration('m', under('Running', { target: { readyAt: at(0) }, source: { startedAt: at(0) }, ...more }), { spec: { allowColdFallback: allow } });
  const timedOut = decide(observed(running(), { now: T0 + 151_000 }));
  assert.equal(timedOut.type, 'transition');
  const to = (timedOut as { to: { phase: string; set?: object; fallBackFrom?: { reason: string }; message: string } }).to;
  assert.deepEqual([to.phase, to.set, to.fallBackFrom?.reason], ['Scheduling', { mode: 'Cold' }, 'TransferTimedOut']);
  assert.match(to.message, /^the live migration failed \(TransferTimedOut\): .*; falling back to a cold migration/);
  assert.ok(isIrreversible(timedOut, 'Running'), 'starting over once the transfer runs is checked against the apiserver first, like failing');

  const sideFailed = decide(observed(running({ target: { failure: { reason: 'TargetFailed', message: 'qemu exited' } } })));
  assert.equal((sideFailed as { to: { phase: string } }).to.phase, 'Scheduling', 'an agent’s failure too');
  const preparing = migration('m', under('PreparingTarget'), { spec: { allowColdFallback: true } });
  assert.equal((decide(observed(preparing, { now: T0 + 60_000 })) as { to: { phase: string } }).to.phase, 'Scheduling', 'a target never ready too');

  assert.deepEqual(failedWith(decide(observed(running({}, false), { now: T0 + 151_000 }))), ['Failed', 'TransferTimedOut'], 'not allowed');
  const cold = migration('m', under('Running', { mode: 'Cold', source: { startedAt: at(0) } }), { spec: { allowColdFallback: true } });
  assert.deepEqual(failedWith(decide(observed(cold, { now: T0 + 151_000 }))), ['Failed', 'TransferTimedOut'], 'a Cold attempt that fails is the end');
  assert.deepEqual(failedWith(decide(observed(running(), { vm: vm('web', { nodeName: 'c' }) }))), ['Failed', 'VMChanged']);
  assert.deepEqual(failedWith(decide(observed(running(), { nodes: [node('b')] }))), ['Failed', 'SourceNodeNotReady']);
  assert.deepEqual(failedWith(decide(observed(migration('m', under('Running'), { deleting: true, spec: { allowColdFallback: true } })))), [
    'Aborted',
    'Deleted',
  ]);
  const moved = decide(observed(running({ source: { startedAt: at(0), completedAt: at(5) } }), { vm: vm('web', { nodeName: 'b' }) }));
  assert.equal(moved.type, 'note', 'moved: it waits for the target, whatever it allows');
});

test('currentAttempt: a side’s report stamped with another mode than the attempt’s is left out; unstamped ones count', () => {
  const m = migration('m', under('PreparingTarget', { mode: 'Cold', source: { mode: 'Live', failure: { reason: 'Cancelled' } }, target: { readyAt: at(1) } }));
  assert.deepEqual(currentAttempt(m).status?.source, undefined, 'the Live attempt’s late failure');
  assert.deepEqual(currentAttempt(m).status?.target, { readyAt: at(1) });
  const same = migration('m', under('Running', { source: { mode: 'Live', startedAt: at(1) } }));
  assert.equal(currentAttempt(same), same, 'nothing stale: the object itself');
  assert.deepEqual(failedWith(decide(observed(m))), ['Failed', 'Cancelled'], 'read as it is, the Live failure would end the Cold attempt');
  assert.equal((decide(observed(currentAttempt(m))) as { to: { phase: string } }).to.phase, 'TargetReady', 'read through it, the Cold attempt goes on');
});

test('once the VM is on the target it is never Failed or Aborted: it waits for the target to resume the guest, then Succeeded with the downtime', () => {
  const afterMove = (more: MigrationStatus = {}, o: { deleting?: boolean } = {}) =>
    migration(
      'm',
      under('Running', { source: { startedAt: at(0), completedAt: at(10), qemuDowntimeMs: 40, ...more.source }, target: { readyAt: at(0), ...more.target } }),
      o,
    );
  const onTarget = vm('web', { nodeName: 'b' });
  const waiting = decide(observed(afterMove(), { vm: onTarget }));
  assert.deepEqual(waiting, { type: 'note', moved: true, message: "VirtualMachine web moved to node b: waiting for node b's agent to resume the guest" });
  // Nothing that would fail or abort it before the move does now.
  for (const o of [
    observed(afterMove({ source: { failure: { reason: 'SourceFailed' } } }), { vm: onTarget }),
    observed(afterMove({}, { deleting: true }), { vm: onTarget }),
    observed(afterMove(), { vm: onTarget, nodes: [node('a', { ready: 'Unknown' }), node('b', { ready: 'Unknown' })] }),
    observed(afterMove(), { vm: onTarget, now: T0 + 3_600_000 }),
  ])
    assert.equal(decide(o).type, 'note');
  const failing = decide(observed(afterMove({ target: { failure: { reason: 'ResumeFailed', message: 'cont failed' } } }), { vm: onTarget }));
  assert.equal(failing.type, 'note');
  assert.match((failing as { message: string }).message, /\(it reported ResumeFailed: cont failed\)$/);

  const done = decide(observed(afterMove({ target: { resumedAt: new Date(T0 + 10_025).toISOString() } }), { vm: onTarget }));
  assert.deepEqual(done, {
    type: 'transition',
    to: { phase: 'Succeeded', message: 'moved from a to b in 10025 ms, guest paused 65 ms', set: { downtimeMs: 65 } },
  });
  // Deleted after the move: Succeeded all the same once the target says so.
  assert.equal(
    (decide(observed(afterMove({ target: { resumedAt: at(11) } }, { deleting: true }), { vm: onTarget })) as { to: { phase: string } }).to.phase,
    'Succeeded',
  );

  // The Moved condition remembers the move when the VM is gone since: Succeeded, not Failed.
  const recorded = afterMove();
  recorded.status!.conditions = [{ type: 'Moved', status: 'True', reason: 'Switchover' }];
  const gone = decide(observed(recorded, { vm: undefined }));
  assert.equal(gone.type === 'transition' && gone.to.phase, 'Succeeded');
  assert.match(gone.type === 'transition' ? gone.to.message : '', /VirtualMachine web was deleted before node b's agent reported the guest running/);
  // Without the record, a VM gone before the move is a VMChanged failure (it never moved).
  assert.deepEqual(failedWith(decide(observed(afterMove(), { vm: undefined }))), ['Failed', 'VMChanged']);
});

// ── placement ─────────────────────────────────────────────────────────

const pool = (name: string, type: 'local' | 'shared', nodeSelector?: Record<string, string>): StoragePool =>
  withDefaults('StoragePool', { metadata: { name }, spec: { type, ...(nodeSelector ? { nodeSelector } : {}) } });
const volume = (name: string, pool: string, node?: string, sizeGiB = 4): Volume =>
  withDefaults('Volume', {
    metadata: { name, namespace: 'default' },
    spec: { sizeGiB, pool, source: { blank: {} } },
    status: node ? { phase: 'Available', node } : {},
  });
const lookup = (volumes: Volume[], pools: StoragePool[]): StorageLookup => ({
  volume: (ns, n) => volumes.find((v) => v.metadata.namespace === ns && v.metadata.name === n),
  pool: (n) => pools.find((p) => p.metadata.name === n),
  pools: () => pools,
});

function place(o: Partial<PlacementInput> & { nodes: Node[] }): ReturnType<typeof chooseTarget> {
  const moving = o.vm ?? vm('web', { nodeName: 'a', memoryMiB: 1024 });
  return chooseTarget({ vm: moving, sourceNode: 'a', vms: [moving], policies: [], storage: lookup([], []), ...o });
}

test('placement: never the source; the node with room wins; the VM does not count where it is, VMs on their way elsewhere count where they go', () => {
  const nodes = [node('a'), node('b', { memoryMiB: 512 }), node('c'), node('d', { ready: 'Unknown' })];
  assert.deepEqual(place({ nodes }), { ok: true, nodeName: 'c', message: 'node c, the best of 1 that can take it (of 4 nodes)' });
  const none = place({ nodes: [node('a'), node('b', { memoryMiB: 512 }), node('d', { ready: 'Unknown' })] });
  assert.deepEqual(none, {
    ok: false,
    reason: 'NoTargetNode',
    message: "0/3 nodes are available: 1 insufficient memory, 1 node(s) not ready, 1 node(s) were the VM's current node.",
  });
  // c is full of a VM another Migration is moving there: nothing is left.
  const other = vm('db', { nodeName: 'b', memoryMiB: 4000 });
  const busy = place({ nodes: [node('a'), node('c')], incoming: [{ vm: other, nodeName: 'c', migration: 'move-db' }] });
  assert.equal(busy.ok, false);
  // A VM that fills its own source does not keep it from a node of the same size.
  const whole = vm('web', { nodeName: 'a', memoryMiB: 4096 });
  assert.equal(place({ vm: whole, vms: [whole], nodes: [node('a'), node('b')] }).ok, true);
});

test('placement: an explicit target must exist, not be the source and pass every filter', () => {
  const nodes = [node('a'), node('b', { memoryMiB: 512 }), node('c', { unschedulable: true }), node('e')];
  assert.deepEqual(place({ nodes, requested: 'e' }), { ok: true, nodeName: 'e', message: 'node e, as asked' });
  assert.deepEqual(place({ nodes, requested: 'b' }), {
    ok: false,
    reason: 'TargetNotEligible',
    message: 'node b cannot take VirtualMachine web: insufficient memory',
  });
  assert.match((place({ nodes, requested: 'c' }) as { message: string }).message, /node c cannot take VirtualMachine web: node\(s\) were unschedulable/);
  assert.match((place({ nodes, requested: 'a' }) as { message: string }).message, /node a is where VirtualMachine web runs already/);
  assert.match((place({ nodes, requested: 'x' }) as { message: string }).message, /node x does not exist/);
});

test('placement: a local disk on the source goes with the VM (any node may take it); a shared pool must reach the target', () => {
  const withDisks = vm('web', {
    nodeName: 'a',
    spec: {
      volumes: [
        { name: 'data', volumeName: 'web-data' },
        { name: 'shared', volumeName: 'team' },
      ],
    },
  });
  const storage = lookup(
    [volume('web-data', 'local', 'a', 8), volume('team', 'nfs', 'a', 100)],
    [pool('local', 'local'), pool('nfs', 'shared', { nfs: 'yes' })],
  );
  const nodes = [node('a', { labels: { nfs: 'yes' } }), node('b'), node('c', { labels: { nfs: 'yes' } })];
  const input = { vm: withDisks, vms: [withDisks], storage, nodes };
  assert.deepEqual(place({ ...input, requested: 'c' }), { ok: true, nodeName: 'c', message: 'node c, as asked' });
  assert.deepEqual(place({ ...input, requested: 'b' }), {
    ok: false,
    reason: 'TargetNotEligible',
    message: 'node b cannot take VirtualMachine web: volume team: StoragePool nfs does not reach node b (it needs nfs=yes)',
  });
  assert.equal((place(input) as { nodeName: string }).nodeName, 'c');
  // Only its local disks count towards the transfer's deadline; a template not made yet by its size.
  assert.equal(localDiskGiB(withDisks, storage), 8);
  const templated = vm('web', { nodeName: 'a', spec: { volumes: [{ name: 'scratch', volumeTemplate: { sizeGiB: 3, source: { blank: {} } } }] } });
  assert.equal(localDiskGiB(templated, storage), 3);
});
