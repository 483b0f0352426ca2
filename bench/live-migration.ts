/**
 * Live migration through Shoal against raw QEMU, in one run on one machine: a real etcd,
 * apiserver and controller-manager, two QEMU agents with their migration certificates, and a
 * Migration object per move of an idle guest — interleaved with a raw QEMU-to-QEMU migration of
 * the same guest (live-migration-raw.ts: plain TCP, QMP only). Then a guest that dirties memory
 * all the time, moved through Shoal with auto-converge: does it converge, and in how long.
 *
 * Shoal's figures come from the Migration's status: downtimeMs (the source's pause until the
 * target ran the guest, switchover through the API included) and the time from its creation to
 * Succeeded (target chosen, QEMU started waiting, TLS, transfer, the VM's move, the resume).
 * The raw ones are QEMU's downtime and the wall time of its `migrate` with the target already
 * listening. Aims (issue 12): downtime ≤ 2 × raw; total ≤ raw + 1 s. Writes
 * bench/results/live-migration-<time>.json. Asserts nothing.
 *
 * Environment: BENCH_MIGRATIONS [3] moves of each kind, BENCH_MIGRATION_MEMORY_MIB [256].
 */
import { pathToFileURL } from 'node:url';
import type { MigrationPolicy, VirtualMachine } from '@shoal/api';
import { startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';
import { detectAccelerator } from '../apps/agent/src/runtime/qemu/accelerator.js';
import { measureRawMigration, MEMORY_DIRTIER, type MigrationMeasurement } from './live-migration-raw.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { writeResults } from './report.js';
import { summarize } from './stats.js';

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const NODES = ['bench-mig-a', 'bench-mig-b'];
const ns = { namespace: 'default' };

interface ShoalMeasurement {
  /** Migration created (its create request sent) → Succeeded (its phaseTransitions; one machine, one clock). */
  totalMs: number;
  /** status.downtimeMs: source paused → guest running at the target. */
  downtimeMs: number;
  /** QEMU's part of it (status.source.qemuDowntimeMs). */
  qemuDowntimeMs: number;
  /** Each phase's duration. */
  phasesMs: Record<string, number>;
  transferredBytes: number;
}

const stats = (xs: number[]) => {
  const s = summarize(xs);
  return { p50Ms: Math.round(s.p50Ms * 10) / 10, minMs: Math.round(Math.min(...xs)), maxMs: Math.round(Math.max(...xs)), samples: xs.map(Math.round) };
};

async function bootedVm(cluster: TestCluster, name: string, memoryMiB: number, command?: string): Promise<VirtualMachine> {
  await cluster.client.create('vm', {
    metadata: { name, ...ns },
    spec: { resources: { vcpus: 1, memoryMiB }, network: { mode: 'none' }, ...(command ? { command: ['sh', '-c', command] } : {}) },
  });
  return waitForObject(cluster.client, 'VirtualMachine', name, (v) => v.status?.phase === 'Running' && !!v.status.bootedAt, {
    ...ns,
    timeoutMs: 120_000,
    message: `${name} booted`,
  });
}

/** Moves a booted VM with a Migration and reads what its status says about the move. */
async function migrateThroughShoal(cluster: TestCluster, vmName: string, policy: Partial<MigrationPolicy> = {}): Promise<ShoalMeasurement> {
  const name = `${vmName}-move`;
  // This machine's clock, in ms: creationTimestamp has whole seconds only.
  const created = Date.now();
  await cluster.client.create('migration', { metadata: { name, ...ns }, spec: { vmName, policy } });
  const done = await waitForObject(cluster.client, 'Migration', name, (m) => ['Succeeded', 'Failed', 'Aborted'].includes(m.status?.phase ?? ''), {
    ...ns,
    timeoutMs: 600_000,
    intervalMs: 20,
    message: `${name} to end`,
  });
  const st = done.status!;
  if (st.phase !== 'Succeeded') throw new Error(`${name} ${st.phase}: ${st.reason}: ${st.message}`);
  const times = (st.phaseTransitions ?? []).map((t) => ({ phase: t.phase, at: Date.parse(t.time) }));
  const phasesMs = Object.fromEntries(times.slice(0, -1).map((t, i) => [t.phase, times[i + 1]!.at - t.at]));
  return {
    totalMs: times.at(-1)!.at - created,
    downtimeMs: st.downtimeMs ?? 0,
    qemuDowntimeMs: st.source?.qemuDowntimeMs ?? 0,
    phasesMs,
    transferredBytes: st.transferredBytes ?? 0,
  };
}

async function deleteVm(cluster: TestCluster, name: string): Promise<void> {
  await cluster.client.delete('vm', name, ns);
  await waitFor(async () => !(await cluster.client.list<VirtualMachine>('vm', ns)).items.some((v) => v.metadata.name === name), {
    timeoutMs: 60_000,
    message: `${name} deleted`,
  });
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_MIGRATIONS ?? 3);
  const memoryMiB = Number(process.env.BENCH_MIGRATION_MEMORY_MIB ?? 256);
  const machine = describeMachine();
  const startedAt = new Date();
  log(`live migration: ${runs} × (raw QEMU, then through Shoal) of an idle ${memoryMiB} MiB guest`);
  const cluster = await startCluster({ controllerManager: true, migrationTls: true });
  try {
    for (const node of NODES) await cluster.startAgent(node, { args: ['--memory-mib', String(4 * memoryMiB + 1024)] });
    const raw: MigrationMeasurement[] = [];
    const shoal: ShoalMeasurement[] = [];
    for (let i = 0; i < runs; i++) {
      raw.push(await measureRawMigration({ memoryMiB, uid: `bench-raw-${i}` }));
      await bootedVm(cluster, `idle-${i}`, memoryMiB);
      shoal.push(await migrateThroughShoal(cluster, `idle-${i}`));
      await deleteVm(cluster, `idle-${i}`);
      log(
        `${i + 1}/${runs}: raw downtime ${raw.at(-1)!.downtimeMs} ms, wall ${Math.round(raw.at(-1)!.wallMs)} ms; ` +
          `Shoal downtime ${shoal.at(-1)!.downtimeMs} ms (QEMU ${shoal.at(-1)!.qemuDowntimeMs} ms), total ${shoal.at(-1)!.totalMs} ms ${JSON.stringify(shoal.at(-1)!.phasesMs)}`,
      );
    }

    log('a guest dirtying memory, through Shoal with auto-converge (32 MiB/s cap)');
    let dirty: Record<string, unknown>;
    await bootedVm(cluster, 'dirty', memoryMiB, MEMORY_DIRTIER);
    try {
      const m = await migrateThroughShoal(cluster, 'dirty', { autoConverge: true, bandwidthMiBps: 32 });
      dirty = { converged: true, ...m };
    } catch (err) {
      dirty = { converged: false, error: (err as Error).message };
    }
    log(`dirtying guest: ${JSON.stringify(dirty)}`);
    await deleteVm(cluster, 'dirty').catch(() => undefined);

    const rawDowntime = summarize(raw.map((r) => r.downtimeMs)).p50Ms;
    const rawWall = summarize(raw.map((r) => r.wallMs)).p50Ms;
    const shoalDowntime = summarize(shoal.map((s) => s.downtimeMs)).p50Ms;
    const shoalTotal = summarize(shoal.map((s) => s.totalMs)).p50Ms;
    const results = {
      benchmark: 'live-migration',
      startedAt: startedAt.toISOString(),
      machine: machineAtEnd(machine),
      accelerator: (await detectAccelerator()).accelerator,
      memoryMiB,
      runs,
      idle: {
        rawQemu: {
          downtimeMs: stats(raw.map((r) => r.downtimeMs)),
          wallMs: stats(raw.map((r) => r.wallMs)),
          transferredBytes: raw.map((r) => r.transferredBytes),
        },
        shoal: {
          downtimeMs: stats(shoal.map((s) => s.downtimeMs)),
          qemuDowntimeMs: stats(shoal.map((s) => s.qemuDowntimeMs)),
          totalMs: stats(shoal.map((s) => s.totalMs)),
          phasesMs: shoal.map((s) => s.phasesMs),
          transferredBytes: shoal.map((s) => s.transferredBytes),
        },
        ratios: {
          downtime: { value: Math.round((shoalDowntime / Math.max(rawDowntime, 1)) * 100) / 100, aim: 2, met: shoalDowntime <= 2 * Math.max(rawDowntime, 1) },
          totalMinusRawMs: { value: Math.round(shoalTotal - rawWall), aim: 1000, met: shoalTotal - rawWall <= 1000 },
        },
        definitions: {
          rawDowntime: "QEMU's query-migrate downtime (target already listening, plain TCP, target not paused)",
          rawWall: 'the `migrate` command to the source seeing completed',
          shoalDowntime: "status.downtimeMs: QEMU's pause at the source plus the switchover (the VM's move through the API, the target agent's resume)",
          shoalTotal: 'Migration created → Succeeded (phaseTransitions): target chosen and started, TLS, transfer, move, resume',
        },
      },
      dirtyingGuestAutoConverge: { bandwidthMiBps: 32, dirtier: '48 MiB of non-zero tmpfs pages rewritten in a loop', ...dirty },
    };
    const { file } = await writeResults('live-migration', startedAt, results);
    log(`→ ${file}`);
  } finally {
    await cluster.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
