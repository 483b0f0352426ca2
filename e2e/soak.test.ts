/**
 * The chaos soak's short variant, inside `npm test` (the long one is `npm run soak`; both are
 * described in soak/README.md): three etcd members, two apiservers, two controller-managers
 * with leader election and three QEMU agents, each agent in its own network namespace; a
 * stream of VM creates, updates, stops, starts and deletes; and a seeded schedule of
 * overlapping faults — kill -9 and restart of any process, SIGSTOP/SIGCONT of agents, an etcd
 * member down, link and nftables partitions of agents. Then every invariant must hold: never
 * two running copies of a VM, no acknowledged write lost, every VM in its declared state
 * within the bound after the faults stop, no leaked QEMU, supervisor, run dir or tap, every
 * process not killed still up with bounded memory.
 *
 * A fixed seed, so a failure here replays with the command the failure prints. Needs root, as
 * npm test does anyway (Debian packages, /var/cache/shoal/images): it makes namespaces, veths
 * and nftables rules, all named after its run and removed at the end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Migration, VirtualMachine } from '@shoal/api';
import { notConverged } from '../soak/convergence.js';
import { migrationOutcomes, unendedMigrations } from '../soak/migrations.js';
import { COLOUR_LABEL, Ledger, WRITE_LABEL, type Declared, type WriteRecord } from '../soak/ledger.js';
import { DEFAULT_OPTIONS } from '../soak/options.js';
import { faultTargets, runSoak } from '../soak/soak.js';
import { buildSchedule, FAULT_KINDS, RECOVERY_MARGIN_MS, ROLE_LIMITS, type PlannedFault } from '../soak/schedule.js';
import { truthOf, type QemuProcess } from '../soak/vm-truth.js';

/** Chosen once; any seed does (every kind is always scheduled at least once). */
const SEED = 20251;
const CHAOS_MS = 90_000;
const VMS = 3;

const root = process.getuid?.() === 0;

test('the fault schedule is a function of the seed, covers every kind, and keeps within the limits that let the cluster converge', () => {
  for (const windowEndMs of [CHAOS_MS, 600_000]) {
    for (let seed = 1; seed <= 25; seed++) {
      const opts = { seed, windowStartMs: 5_000, windowEndMs, meanGapMs: DEFAULT_OPTIONS.faultGapMs, targets: faultTargets() };
      const schedule = buildSchedule(opts);
      assert.deepEqual(buildSchedule(opts), schedule, `seed ${seed}: the same schedule again`);
      for (const kind of FAULT_KINDS)
        assert.ok(
          schedule.some((f) => f.kind === kind),
          `seed ${seed}, ${windowEndMs} ms: a ${kind} fault`,
        );
      const live = (f: PlannedFault, t: number) => f.startMs <= t && t < f.endMs + RECOVERY_MARGIN_MS;
      for (const f of schedule) {
        assert.ok(f.startMs >= 5_000 && f.endMs <= windowEndMs && f.endMs > f.startMs, `seed ${seed}: #${f.id} inside the window`);
        const others = schedule.filter((g) => g !== f && live(g, f.startMs));
        assert.ok(!others.some((g) => g.target === f.target), `seed ${seed}: #${f.id} is the only fault of ${f.target} then`);
        assert.ok(others.filter((g) => g.role === f.role).length + 1 <= ROLE_LIMITS[f.role], `seed ${seed}: #${f.id} keeps ${f.role} within its limit`);
      }
    }
  }
  assert.notDeepEqual(
    buildSchedule({ seed: 1, windowStartMs: 5_000, windowEndMs: CHAOS_MS, meanGapMs: 8_000, targets: faultTargets() }),
    buildSchedule({ seed: 2, windowStartMs: 5_000, windowEndMs: CHAOS_MS, meanGapMs: 8_000, targets: faultTargets() }),
    'another seed, another schedule',
  );
});

// ── the checkers themselves, on plain values: a checker that cannot fail proves nothing ──

const declared = (runStrategy: Declared['runStrategy'], colour = 'red'): Declared => ({ runStrategy, cmdline: 'c', colour });
const stored = (uid: string, write: string, d: Declared, extra: Partial<VirtualMachine['metadata']> = {}): VirtualMachine =>
  ({
    metadata: { name: 'vm', uid, labels: { [WRITE_LABEL]: write, [COLOUR_LABEL]: d.colour }, ...extra },
    spec: { runStrategy: d.runStrategy, cmdline: d.cmdline, resources: { vcpus: 1, memoryMiB: 96 } },
  }) as VirtualMachine;

function ledgerOf(writes: Omit<WriteRecord, 'seq' | 'vm' | 'sentAtMs' | 'answeredAtMs'>[]): Ledger {
  const ledger = new Ledger();
  for (const w of writes) ledger.record({ ...w, seq: Number(w.id.slice(1)), vm: 'vm', sentAtMs: 0, answeredAtMs: 0 });
  return ledger;
}

test('the acknowledged-writes check: the last acked write, or a later unanswered one, must be what etcd holds', () => {
  const always = declared('Always');
  const halted = declared('Halted');
  const ledger = ledgerOf([
    { id: 'w1', op: 'create', outcome: 'acked', uid: 'u1', declared: always },
    { id: 'w2', op: 'stop', outcome: 'acked', uid: 'u1', declared: halted },
    { id: 'w3', op: 'start', outcome: 'ambiguous', uid: 'u1', declared: always },
    { id: 'w4', op: 'update-labels', outcome: 'rejected', code: 409, uid: 'u1', declared: declared('Halted', 'blue') },
  ]);
  const lost = (obj?: VirtualMachine) => ledger.check(new Map(obj ? [['vm', obj]] : [])).lost.map((l) => l.problem);
  assert.deepEqual(lost(stored('u1', 'w2', halted)), [], 'the last acked write');
  assert.deepEqual(lost(stored('u1', 'w3', always)), [], 'superseded by a later unanswered write');
  assert.match(lost(stored('u1', 'w1', always))[0]!, /last acknowledged write was w2/, 'an older write: w2 was lost');
  assert.match(lost(stored('u1', 'w2', always))[0]!, /not all of it/, 'the label of w2 but not its runStrategy');
  assert.match(lost(stored('u1', 'w4', declared('Halted', 'blue'))).join(), /rejected write was applied/);
  assert.match(lost()[0]!, /no such object in etcd/);
  assert.match(lost(stored('u2', 'w2', halted))[0]!, /another incarnation/);

  const deleted = ledgerOf([
    { id: 'w1', op: 'create', outcome: 'acked', uid: 'u1', declared: always },
    { id: 'w2', op: 'delete', outcome: 'acked', uid: 'u1' },
    { id: 'w3', op: 'create', outcome: 'ambiguous', declared: halted },
  ]);
  assert.deepEqual(deleted.check(new Map()).lost, [], 'gone after an acked delete');
  assert.deepEqual(deleted.check(new Map([['vm', stored('u2', 'w3', halted)]])).lost, [], 'a new incarnation from a later unanswered create');
  assert.deepEqual(deleted.check(new Map([['vm', stored('u1', 'w1', always, { deletionTimestamp: 'x' })]])).lost, [], 'still finalizing');
  assert.equal(deleted.check(new Map([['vm', stored('u1', 'w1', always)]])).lost.length, 1, 'the deleted incarnation, alive');

  const maybeDeleted = ledgerOf([
    { id: 'w1', op: 'create', outcome: 'acked', uid: 'u1', declared: always },
    { id: 'w2', op: 'delete', outcome: 'ambiguous', uid: 'u1' },
  ]);
  assert.deepEqual(maybeDeleted.check(new Map()).lost, [], 'an unanswered delete may have been applied');
});

const qemu = (uid: string, node: string, status = 'running', pid = 1): QemuProcess => ({ pid, uid, runDir: `/r/${node}/vms/${uid}`, node, status });
const vm = (uid: string, runStrategy: 'Always' | 'Halted', phase: string | undefined, nodeName?: string): VirtualMachine =>
  ({
    metadata: { name: 'vm', uid },
    spec: { runStrategy, nodeName, resources: { vcpus: 1, memoryMiB: 96 } },
    status: phase ? { phase } : undefined,
  }) as VirtualMachine;

test('convergence: Running on its node with exactly one running QEMU there; Halted with none; deleted with none of any incarnation', () => {
  const truth = (...qs: QemuProcess[]) => truthOf(qs, [], 0);
  assert.equal(notConverged(vm('u1', 'Always', 'Running', 'a'), [], truth(qemu('u1', 'a'))), undefined);
  assert.match(notConverged(vm('u1', 'Always', 'Running', 'a'), [], truth(qemu('u1', 'b')))!, /runs on b/);
  assert.match(notConverged(vm('u1', 'Always', 'Running', 'a'), [], truth(qemu('u1', 'a', 'no-answer')))!, /QMP says no-answer/);
  assert.match(notConverged(vm('u1', 'Always', 'Running', 'a'), [], truth(qemu('u1', 'a'), qemu('u1', 'b', 'running', 2)))!, /2 QEMU processes/);
  assert.match(notConverged(vm('u1', 'Always', 'Starting', 'a'), [], truth(qemu('u1', 'a')))!, /phase Starting/);
  assert.equal(notConverged(vm('u1', 'Halted', 'Stopped', 'a'), [], truth()), undefined);
  assert.match(notConverged(vm('u1', 'Halted', 'Stopped', 'a'), [], truth(qemu('u1', 'a')))!, /Halted, but 1 QEMU/);
  assert.equal(notConverged(undefined, ['u0', 'u1'], truth(qemu('u2', 'a'))), undefined);
  assert.match(notConverged(undefined, ['u0', 'u1'], truth(qemu('u0', 'a')))!, /deleted, but QEMU still runs/);
});

test('migrations: each must have ended once the faults stop; the report says how, and why those that did not move their VM', () => {
  const migration = (name: string, mode: 'Live' | 'Cold', status?: Partial<NonNullable<Migration['status']>>): Migration =>
    ({ metadata: { name }, spec: { vmName: 'vm', mode }, ...(status ? { status } : {}) }) as Migration;
  const all = [
    migration('a', 'Live', { phase: 'Succeeded', mode: 'Live' }),
    migration('b', 'Live', { phase: 'Succeeded', mode: 'Cold' }),
    migration('c', 'Cold', { phase: 'Failed', reason: 'SourceNodeNotReady', message: 'soak-n1 is not Ready' }),
    migration('d', 'Live', { phase: 'Running', sourceNode: 'soak-n0', targetNode: 'soak-n2' }),
    migration('e', 'Cold'),
  ];
  assert.deepEqual(unendedMigrations(all), { 'migration d': 'Running soak-n0 → soak-n2', 'migration e': 'not taken' });
  assert.deepEqual(unendedMigrations(all.slice(0, 3)), {});
  const outcomes = migrationOutcomes(all);
  assert.deepEqual(outcomes.byPhase, { Succeeded: 2, Failed: 1, Running: 1, Pending: 1 });
  assert.equal(outcomes.fellBackToCold, 1);
  assert.deepEqual(
    outcomes.notMoved.map((m) => `${m.name} ${m.reason ?? m.phase}`),
    ['c SourceNodeNotReady', 'd Running', 'e Pending'],
  );
});

test(`a short chaos soak (seed ${SEED}, ${CHAOS_MS / 1000} s, ${VMS} VMs): never two running copies, no acknowledged write lost, convergence, no leaks, every process up`, async () => {
  // npm test runs as root (it installs packages too); without root the soak cannot build its hosts, and says so.
  assert.ok(root, 'the chaos soak needs root: network namespaces, veths and nftables');
  const report = await runSoak({
    ...DEFAULT_OPTIONS,
    seed: SEED,
    durationMs: CHAOS_MS,
    vms: VMS,
    resultsName: 'soak-short',
    keepLogs: 'on-failure',
    log: (line) => process.stderr.write(`soak: ${line}\n`),
  });
  const why = `\n${report.failures.join('\n')}\nreplay: ${report.replay}`;
  const inv = report.invariants;
  assert.deepEqual(inv.neverTwice.violations, [], `never two running copies of a VM${why}`);
  assert.deepEqual(inv.acknowledgedWritesKept.lost, [], `no acknowledged write lost${why}`);
  assert.ok(
    inv.convergence.ok,
    `every VM in its declared state within ${inv.convergence.boundMs} ms after the faults stopped: ${JSON.stringify(inv.convergence.unconverged)}${why}`,
  );
  assert.deepEqual([...inv.noLeaks.afterConvergence, ...inv.noLeaks.afterDrain], [], `nothing leaked${why}`);
  assert.deepEqual(inv.processesUp.unexpectedExits, [], `no process exited unless killed${why}`);
  assert.deepEqual(inv.processesUp.memory, [], `every process within its memory bound${why}`);
  assert.ok(report.passed, `the soak passed${why}`);
  // The soak must have done what it says: every kind of fault, writes acknowledged, clocks stopped.
  for (const kind of FAULT_KINDS) assert.ok(report.faults.injected[kind]! >= 1, `a ${kind} fault was injected`);
  assert.ok(report.workload.writes.acked >= 20, `writes were acknowledged (${report.workload.writes.acked})`);
  const moved = report.workload.migrations.byPhase.Succeeded ?? 0;
  assert.ok(moved >= 1, `VMs were migrated under the faults (${JSON.stringify(report.workload.migrations)})`);
  assert.ok(inv.neverTwice.samples >= CHAOS_MS / 2_000, `the machine was sampled throughout (${inv.neverTwice.samples} samples)`);
  assert.ok(report.convergence.count > 0, 'convergence was measured');
});
