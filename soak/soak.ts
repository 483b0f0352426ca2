/**
 * One chaos soak, start to end (soak/run.ts and e2e/soak.test.ts call runSoak):
 *
 *   1. remove what crashed earlier runs left (run-identity.ts), make this run's dir
 *   2. print the seed and the fault schedule (a pure function of the seed: replayable)
 *   3. hosts (topology.ts) and the cluster (cluster.ts); the soak's informer and the sampler,
 *      which checks never-twice and the processes once a second from here to the end
 *   4. warm-up: create the VMs, wait until each is in its declared state (bounded); read the
 *      running ones' consoles through the apiserver (the apiserver → agent path of the topology)
 *   5. chaos: the workload and the fault schedule together for --duration
 *   6. faults stopped (all healed, the workload stopped): every VM in its declared state within
 *      the bound; every acknowledged write in etcd; no leaks; every process up, RSS bounded
 *   7. drain: delete every VM; nothing may be left (QEMU, supervisors, run dirs)
 *   8. tear everything down, always; write the JSON report and print the summary
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { ApiError, type Migration, type VirtualMachine } from '@shoal/api';
import { Informer } from '@shoal/client';
import { waitFor } from '@shoal/testing';
import { describeMachine, machineAtEnd } from '../bench/machine.js';
import { startSoakCluster, type SoakCluster } from './cluster.js';
import { consoleProblems } from './consoles.js';
import { ConvergenceTracker, notConverged } from './convergence.js';
import { cacheMismatches, type CacheMismatch } from './cache-consistency.js';
import { vmsInEtcd } from './etcd-objects.js';
import { FaultRunner } from './fault-runner.js';
import { findLeaks, type Leak } from './leaks.js';
import { Ledger } from './ledger.js';
import { migrationOutcomes, unendedMigrations } from './migrations.js';
import type { ProcessRole } from './managed-process.js';
import type { SoakOptions } from './options.js';
import { stream } from './random.js';
import { convergenceFigures, faultCounts, printSummary, writeReport, type SoakReport } from './report.js';
import { newRun, removeLeftoverRuns, removeRun } from './run-identity.js';
import { FENCE_SLACK_MS, Sampler } from './sampler.js';
import { buildSchedule, formatSchedule, type FaultTarget } from './schedule.js';
import * as timing from './timing.js';
import { createTopology, type Topology } from './topology.js';
import { delay } from './delay.js';
import { vmName, Workload } from './workload.js';

/** The hosts: one agent each, in its own network namespace. */
export const NODE_NAMES = ['soak-n0', 'soak-n1', 'soak-n2'];
/** Faults start this long into the chaos phase (the workload has begun by then). */
const FAULTS_FROM_MS = 5_000;
/** After convergence, how long stray instances may take to be cleaned up. */
const LEAK_BOUND_MS = 30_000;
/** How long the apiservers' caches may take to agree with etcd once the cluster is quiet. */
const CACHE_BOUND_MS = 15_000;
/** The final drain: every VM deleted and gone within this long. */
const DRAIN_BOUND_MS = 90_000;

/** The processes the schedule may pick, by the names cluster.ts gives them (known before anything starts). */
export function faultTargets(): FaultTarget[] {
  const t = (name: string, role: ProcessRole): FaultTarget => ({ name, role });
  return [
    ...['m0', 'm1', 'm2'].map((m) => t(`etcd-${m}`, 'etcd')),
    t('apiserver-0', 'apiserver'),
    t('apiserver-1', 'apiserver'),
    t('controller-manager-0', 'controller-manager'),
    t('controller-manager-1', 'controller-manager'),
    ...NODE_NAMES.map((n) => t(`agent-${n}`, 'agent')),
  ];
}

export function replayCommand(o: SoakOptions): string {
  return `npm run soak -- --seed ${o.seed} --duration ${o.durationMs / 1000} --vms ${o.vms} --fault-gap ${o.faultGapMs / 1000}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(o: SoakOptions, signal: AbortSignal = new AbortController().signal): Promise<SoakReport> {
  // Every scheduled fault waits on it at once (dozens of listeners): that is no leak.
  setMaxListeners(0, signal);
  const log = o.log;
  const startedAt = new Date();
  const origin = performance.now();
  const now = () => Math.round(performance.now() - origin);
  const machine = describeMachine();
  const phases: Record<string, number> = {};
  const failures: string[] = [];

  const leftovers = await removeLeftoverRuns();
  if (leftovers.length) log(`removed what earlier runs left behind: ${leftovers.join(', ')}`);
  const run = await newRun();
  const schedule = buildSchedule({ seed: o.seed, windowStartMs: FAULTS_FROM_MS, windowEndMs: o.durationMs, meanGapMs: o.faultGapMs, targets: faultTargets() });
  log(`run ${run.id} in ${run.dir}; seed ${o.seed}; replay: ${replayCommand(o)}`);
  log(`fault schedule (${schedule.length} faults, offsets from the start of the chaos phase):\n${formatSchedule(schedule)}`);

  let topology: Topology | undefined;
  let cluster: SoakCluster | undefined;
  let informer: Informer<VirtualMachine> | undefined;
  let sampler: Sampler | undefined;
  let runner: FaultRunner | undefined;
  const names = Array.from({ length: o.vms }, (_, i) => vmName(i));
  const ledger = new Ledger();
  const tracker = new ConvergenceTracker();
  let workload: Workload | undefined;
  let convergedAfterMs: number | null = null;
  let unconverged: Record<string, string> = {};
  let leaksAfterConvergence: Leak[] = [];
  let leaksAfterDrain: Leak[] = [];
  let writes = { ackedWrites: 0, namesChecked: 0, lost: [] as ReturnType<Ledger['check']>['lost'] };
  let staleCaches: CacheMismatch[] = [];
  let migrations: Migration[] = [];
  let cacheChecks = 0;
  let warmedUp = false;
  let finalChecksRan = false;
  try {
    topology = await createTopology(run.id, NODE_NAMES);
    log(
      `hosts: bridge ${topology.bridge} ${topology.bridgeAddress} on ${topology.subnet}; ${topology.hosts.map((h) => `${h.nodeName} ${h.address} in ${h.namespace}`).join(', ')}`,
    );
    cluster = await startSoakCluster(run.dir, topology, now);
    log(`cluster up: etcd ${cluster.etcd.endpoints.join(' ')}; apiservers ${cluster.servers}; ${cluster.processes.length} processes`);
    phases.setup = now();
    informer = new Informer<VirtualMachine>(cluster.client, 'vm', { namespace: 'default', backoff: { initialMs: 100, maxMs: 1_000 } });
    informer.start();
    await informer.waitForSync({ timeoutMs: 30_000 });
    sampler = new Sampler({ runDir: run.dir, cluster, vms: informer, ledger, tracker, names, now, log });
    sampler.start();
    workload = new Workload({
      client: cluster.client,
      vms: informer,
      ledger,
      tracker,
      random: stream(o.seed, 'workload'),
      names,
      memoryMiB: o.memoryMiB,
      migrations: o.migrations,
      now,
      log,
    });

    // ── warm-up ──────────────────────────────────────────────────
    await workload.populate();
    const s = sampler;
    await waitFor(() => names.every((n) => !tracker.openFor(n)), {
      timeoutMs: o.warmupBoundMs,
      intervalMs: 250,
      message: `the ${names.length} new VMs to reach their declared state before the chaos starts`,
      lastSeen: () => JSON.stringify(Object.fromEntries(s.reasons)),
    });
    warmedUp = true;
    phases.warmup = now() - phases.setup;
    for (const problem of await consoleProblems(cluster.client, informer.list())) failures.push(`console: ${problem}`);
    if (signal.aborted) throw new Error('aborted');

    // ── chaos ────────────────────────────────────────────────────
    const chaosStart = now();
    phases.chaosStart = chaosStart;
    log(`chaos: ${o.durationMs / 1000} s of workload and faults`);
    const stopWorkload = new AbortController();
    signal.addEventListener('abort', () => stopWorkload.abort(), { once: true });
    const workloadDone = workload.run(stopWorkload.signal, o.operationGapMs[0], o.operationGapMs[1]);
    runner = new FaultRunner({
      cluster,
      topology,
      now: () => now() - chaosStart,
      log,
      signal,
      // A fault's end starts the clock of every VM that is not in its declared state then.
      onHealed: (f) => {
        for (const name of s.unconverged()) tracker.start(name, `fault #${f.id} ${f.kind} ${f.target}`, now());
      },
    });
    const faultsDone = runner.run(schedule);
    await delay(o.durationMs, signal);
    await faultsDone;
    stopWorkload.abort();
    await workloadDone;
    const faultsStopped = now();
    phases.chaos = faultsStopped - chaosStart;
    if (signal.aborted) throw new Error('aborted');
    log(`faults stopped and workload stopped at +${((faultsStopped - chaosStart) / 1000).toFixed(1)}s of chaos; waiting for convergence`);

    // ── after the faults ─────────────────────────────────────────
    for (const name of s.unconverged()) tracker.start(name, 'faults stopped', faultsStopped);
    // Judged from a consistent list (not the soak's informer, which could be stale) and a fresh
    // look at the machine, once a second, until every VM is in its declared state or the bound passes.
    const c = cluster;
    for (;;) {
      const list = await c.client.listAll<VirtualMachine>('vm', { namespace: 'default' }).catch(() => undefined);
      const moves = await c.client.listAll<Migration>('migration', { namespace: 'default' }).catch(() => undefined);
      const truth = await s.truth();
      if (list && moves) {
        migrations = moves.items;
        const byName = new Map(list.items.map((vm) => [vm.metadata.name!, vm]));
        unconverged = {};
        for (const name of names) {
          const vm = byName.get(name);
          const why = notConverged(vm, [...ledger.uidsOf(name), ...(vm ? [vm.metadata.uid!] : [])], truth);
          if (why) unconverged[name] = why;
          else tracker.converged(name, vm, truth.atMs);
        }
        Object.assign(unconverged, unendedMigrations(moves.items));
        if (Object.keys(unconverged).length === 0) {
          convergedAfterMs = truth.atMs - faultsStopped;
          break;
        }
      }
      if (now() - faultsStopped > o.convergenceBoundMs) break;
      await sleep(1_000);
    }
    phases.convergence = now() - faultsStopped;
    log(
      convergedAfterMs === null
        ? `NOT CONVERGED within ${o.convergenceBoundMs} ms: ${JSON.stringify(unconverged)}`
        : `converged ${convergedAfterMs} ms after the faults stopped`,
    );

    const stored = await vmsInEtcd(c.etcd.endpoints);
    writes = ledger.check(new Map([...stored.vms].map(([name, vm]) => [name, vm.object])));
    // Every apiserver's cache must have caught up with etcd (a few tries: the agents may still write).
    const cacheDeadline = now() + CACHE_BOUND_MS;
    for (;;) {
      cacheChecks++;
      staleCaches = await cacheMismatches(c.servers.split(','), (await vmsInEtcd(c.etcd.endpoints)).vms);
      if (staleCaches.length === 0 || now() > cacheDeadline) break;
      await sleep(1_000);
    }

    const leakDeadline = now() + LEAK_BOUND_MS;
    for (;;) {
      const list = await c.client.listAll<VirtualMachine>('vm', { namespace: 'default' }).catch(() => undefined);
      if (list) {
        leaksAfterConvergence = await findLeaks(list.items, await s.truth(), c.dataDirs, topology);
        if (leaksAfterConvergence.length === 0 || now() > leakDeadline) break;
      }
      await sleep(1_000);
    }
    finalChecksRan = true;

    // ── drain ────────────────────────────────────────────────────
    const drainStart = now();
    for (const name of names)
      await c.client
        .delete('vm', name, { namespace: 'default' })
        .catch((err) => (err instanceof ApiError && err.code === 404 ? undefined : log(`drain: delete ${name}: ${(err as Error).message}`)));
    await waitFor(async () => (await c.client.list('vm', { namespace: 'default' })).items.length === 0, {
      timeoutMs: DRAIN_BOUND_MS,
      message: 'every VM deleted and gone',
    }).catch((err) => failures.push(`drain: ${(err as Error).message}`));
    const drainDeadline = now() + LEAK_BOUND_MS;
    for (;;) {
      leaksAfterDrain = await findLeaks([], await s.truth(), c.dataDirs, topology);
      if (leaksAfterDrain.length === 0 || now() > drainDeadline) break;
      await sleep(1_000);
    }
    phases.drain = now() - drainStart;
  } catch (err) {
    failures.push(`the soak stopped early: ${(err as Error).message}`);
    log(`soak stopped early: ${(err as Error).stack ?? err}`);
  } finally {
    await sampler?.stop();
    await informer?.stop();
    await cluster?.stop().catch((err) => log(`stopping the cluster: ${(err as Error).message}`));
    await topology?.teardown();
    await removeRun(run.id);
  }

  // ── the verdict ──────────────────────────────────────────────────
  const processes = cluster?.processes ?? [];
  const records = runner?.records ?? [];
  const exits = processes.flatMap((p) => p.unexpectedExits);
  const restartsFailed = records.filter((r) => r.error).map((r) => `fault #${r.id} ${r.kind} ${r.target}: ${r.error}`);
  const twice = sampler?.twice ?? [];
  const memory = sampler?.memory ?? [];
  // Failures say when as the fault schedule does: seconds into the chaos phase.
  const when = (ms: number) => `chaos ${ms < (phases.chaosStart ?? 0) ? '-' : '+'}${(Math.abs(ms - (phases.chaosStart ?? 0)) / 1000).toFixed(1)}s`;
  if (!warmedUp && !failures.length) failures.push('the warm-up did not finish');
  for (const v of twice) failures.push(`never-twice: ${v.vm ?? v.uid} had ${v.copies.length} running copies at ${when(v.atMs)}: ${JSON.stringify(v.copies)}`);
  const late = sampler?.lateFences ?? [];
  for (const f of late)
    failures.push(`fence late: QEMU ${f.pid} of ${f.uid} still ran on ${f.node} at ${when(f.atMs)} with a heartbeat ${f.heartbeatAgeMs} ms old`);
  for (const l of writes.lost) failures.push(`acknowledged write lost: ${l.vm} ${l.write}: ${l.problem}`);
  for (const m of staleCaches) failures.push(`apiserver cache: ${m.apiserver} serves ${m.vm} as ${m.apiserverSays}, etcd holds ${m.etcd}`);
  if (finalChecksRan && convergedAfterMs === null)
    failures.push(`not converged within ${o.convergenceBoundMs / 1000} s after the faults stopped: ${JSON.stringify(unconverged)}`);
  for (const l of [...leaksAfterConvergence, ...leaksAfterDrain]) failures.push(`leak: ${l.kind} ${l.what} on ${l.node}: ${l.why}`);
  for (const e of exits)
    failures.push(
      `process exited without being killed: ${e.process} (incarnation ${e.incarnation}, pid ${e.pid}) at ${when(e.atMs)}: …${e.outputTail.slice(-300)}`,
    );
  for (const m of memory) failures.push(`memory: ${m.process} RSS ${m.rssMiB} MiB over its bound of ${m.boundMiB} MiB`);
  for (const r of restartsFailed) failures.push(`restart failed: ${r}`);

  const writeCounts = { acked: 0, rejected: 0, ambiguous: 0 };
  for (const w of ledger.writes) writeCounts[w.outcome]++;
  const report: SoakReport = {
    soak: 'chaos',
    passed: failures.length === 0,
    seed: o.seed,
    runId: run.id,
    replay: replayCommand(o),
    startedAt: startedAt.toISOString(),
    options: {
      durationMs: o.durationMs,
      vms: o.vms,
      memoryMiB: o.memoryMiB,
      faultGapMs: o.faultGapMs,
      operationGapMs: o.operationGapMs,
      convergenceBoundMs: o.convergenceBoundMs,
    },
    machine: machineAtEnd(machine),
    topology: topology && {
      subnet: topology.subnet,
      bridge: `${topology.bridge} ${topology.bridgeAddress}`,
      hosts: topology.hosts.map((h) => ({ node: h.nodeName, namespace: h.namespace, address: h.address, veth: h.hostVeth })),
      apiservers: cluster?.servers,
      etcd: cluster?.etcd.endpoints,
    },
    timing: { ...timing },
    phasesMs: phases,
    schedule,
    faults: faultCounts(records),
    workload: { operations: workload?.counts ?? {}, writes: writeCounts, migrations: migrationOutcomes(migrations) },
    invariants: {
      neverTwice: {
        ok: twice.length === 0,
        checks: sampler?.twiceChecks ?? 0,
        samples: sampler?.samples ?? 0,
        scans: sampler?.scans ?? 0,
        maxCopiesSeen: sampler?.maxCopiesSeen ?? 0,
        violations: twice,
        failures: failures.filter((f) => f.startsWith('never-twice')),
      },
      fencedInTime: {
        ok: late.length === 0,
        checks: sampler?.fenceChecks ?? 0,
        boundMs: timing.AGENT_FENCE_SECONDS * 1000 + FENCE_SLACK_MS,
        late,
        failures: failures.filter((f) => f.startsWith('fence late')),
      },
      apiserversAgreeWithEtcd: {
        ok: finalChecksRan && staleCaches.length === 0,
        checks: cacheChecks,
        mismatches: staleCaches,
        failures: failures.filter((f) => f.startsWith('apiserver cache')),
      },
      acknowledgedWritesKept: {
        ok: finalChecksRan && writes.lost.length === 0,
        checks: writes.namesChecked,
        ackedWrites: writes.ackedWrites,
        lost: writes.lost,
        failures: failures.filter((f) => f.startsWith('acknowledged')),
      },
      convergence: {
        ok: convergedAfterMs !== null,
        checks: tracker.measurements.length,
        boundMs: o.convergenceBoundMs,
        afterFaultsStoppedMs: convergedAfterMs,
        unconverged,
        failures: failures.filter((f) => f.startsWith('not converged')),
      },
      noLeaks: {
        ok: finalChecksRan && leaksAfterConvergence.length === 0 && leaksAfterDrain.length === 0,
        checks: 2,
        afterConvergence: leaksAfterConvergence,
        afterDrain: leaksAfterDrain,
        failures: failures.filter((f) => f.startsWith('leak')),
      },
      processesUp: {
        ok: exits.length === 0 && memory.length === 0 && restartsFailed.length === 0,
        checks: sampler?.processChecks ?? 0,
        unexpectedExits: exits,
        memory,
        restartsFailed,
        peakRssMiB: Object.fromEntries(processes.map((p) => [p.name, p.peakRssMiB])),
        failures: failures.filter((f) => f.startsWith('process') || f.startsWith('memory') || f.startsWith('restart')),
      },
    },
    convergence: convergenceFigures(tracker.measurements),
    failures,
  };
  printSummary(report, log);
  const written = await writeReport(report, o.resultsName, processes, o.keepLogs === 'always' || !report.passed);
  log(`JSON: ${written.file}${written.logs ? `; process logs: ${written.logs}` : ''}`);
  return report;
}
