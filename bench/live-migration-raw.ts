/**
 * Live migration's baseline: a raw QEMU-to-QEMU migration (plain TCP, `-incoming tcp:…`, QMP
 * `migrate`, nothing of Shoal) of an idle guest, and the same guest through the agent's
 * migration module (apps/agent/src/runtime/qemu/migration: TLS both ways, target started with
 * -S and resumed by resumeTarget), interleaved in one run; then a guest that dirties memory
 * all the time, moved with auto-converge. Times are QEMU's own (query-migrate `total-time`
 * and `downtime`) plus, for the module, the gap from the source's "completed" to the target's
 * `cont` (what -S adds to the guest's pause). Writes bench/results/live-migration-raw-<time>.json.
 * Asserts nothing.
 *
 * The measuring functions are exported so that a Shoal-level benchmark (a Migration object
 * through the API) can take the raw baseline in its own run.
 *
 * Environment: BENCH_MIGRATIONS [3] migrations of each kind, BENCH_MIGRATION_MEMORY_MIB [256].
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, makeClientCertificate, makeServerCertificates, waitFor } from '@shoal/testing';
import { detectAccelerator } from '../apps/agent/src/runtime/qemu/accelerator.js';
import { startLocalQemu, type LocalQemu } from '../apps/agent/src/runtime/qemu/migration/local-qemu.js';
import { migrate } from '../apps/agent/src/runtime/qemu/migration/source.js';
import { prepareIncoming, resumeTarget } from '../apps/agent/src/runtime/qemu/migration/target.js';
import { writeQemuTlsDirectory } from '../apps/agent/src/runtime/qemu/migration/tls-credentials.js';
import type { QueryMigrateInfo } from '../apps/agent/src/runtime/qemu/migration/progress.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { writeResults } from './report.js';
import { summarize } from './stats.js';

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

export interface MigrationMeasurement {
  /** QEMU's total-time and downtime of the migration. */
  totalTimeMs: number;
  downtimeMs: number;
  /** Wall clock from the `migrate` command to this process seeing `completed`. */
  wallMs: number;
  /** Module only: source completed → target `cont` answered (added to the guest's pause by -S). */
  resumeGapMs?: number;
  transferredBytes: number;
}

/** TLS directories in QEMU's layout from a throwaway CA: one for the target, one for the source. */
export async function makeMigrationTls(dir: string): Promise<{ server: string; client: string; clientDn: string; cleanup: () => Promise<void> }> {
  const certs = await makeServerCertificates();
  const client = await makeClientCertificate(certs, 'bench-source-node');
  return {
    server: await writeQemuTlsDirectory(join(dir, 'server'), 'server', certs),
    client: await writeQemuTlsDirectory(join(dir, 'client'), 'client', { ...client, caFile: certs.caFile }),
    clientDn: 'CN=bench-source-node',
    cleanup: () => rm(certs.dir, { recursive: true, force: true }),
  };
}

async function bootedSource(uid: string, memoryMiB: number, command?: string): Promise<LocalQemu> {
  const vm = await startLocalQemu({ uid, memoryMiB, command });
  await waitFor(async () => (await vm.serial()).includes(`SHOAL-BOOTED uid=${uid}`), { timeoutMs: 120_000, message: `${uid} to boot` });
  return vm;
}

/** Raw QEMU: plain TCP, target listening from its command line, QMP migrate and query-migrate only. */
export async function measureRawMigration(opts: { memoryMiB?: number; uid?: string } = {}): Promise<MigrationMeasurement> {
  const uid = opts.uid ?? 'bench-raw-migration';
  const memoryMiB = opts.memoryMiB ?? 256;
  const port = await freePort();
  const source = await bootedSource(uid, memoryMiB);
  const target = await startLocalQemu({ uid, memoryMiB, incoming: `tcp:127.0.0.1:${port}` });
  const [sq, tq] = [await source.connect(), await target.connect()];
  try {
    const started = performance.now();
    await sq.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    let info: QueryMigrateInfo = {};
    await waitFor(
      async () => {
        info = await sq.execute<QueryMigrateInfo>('query-migrate');
        if (info.status === 'failed') throw new Error(`raw migration failed: ${info['error-desc']}`);
        // total-time is set just after the status (see source.ts).
        return info.status === 'completed' && !!info['total-time'];
      },
      { timeoutMs: 120_000, intervalMs: 10, message: 'the raw migration to complete' },
    );
    const wallMs = performance.now() - started;
    await waitFor(async () => (await tq.execute<{ status: string }>('query-status')).status === 'running', {
      timeoutMs: 10_000,
      message: 'the raw target to run',
    });
    return { totalTimeMs: info['total-time']!, downtimeMs: info.downtime ?? 0, wallMs, transferredBytes: info.ram?.transferred ?? 0 };
  } finally {
    sq.close();
    tq.close();
    await source.kill();
    await target.kill();
  }
}

/** Through the module: TLS with a client-certificate check, target started paused and resumed. */
export async function measureModuleMigration(
  tls: { server: string; client: string; clientDn: string },
  opts: { memoryMiB?: number; uid?: string; command?: string; policy?: Parameters<typeof migrate>[1]['policy'] } = {},
): Promise<MigrationMeasurement & { maxThrottlePercentage: number }> {
  const uid = opts.uid ?? 'bench-module-migration';
  const memoryMiB = opts.memoryMiB ?? 256;
  const source = await bootedSource(uid, memoryMiB, opts.command);
  const target = await startLocalQemu({ uid, memoryMiB, incoming: 'defer', startPaused: true });
  const [sq, tq] = [await source.connect(), await target.connect()];
  try {
    const endpoint = await prepareIncoming(tq, {
      listenAddress: '127.0.0.1',
      port: await freePort(),
      tls: { dir: tls.server, authorizedClientDn: tls.clientDn },
    });
    let throttle = 0;
    const started = performance.now();
    const result = await migrate(sq, {
      uri: endpoint.migrationUri,
      tls: { dir: tls.client },
      policy: opts.policy,
      onProgress: (p) => (throttle = Math.max(throttle, p.cpuThrottlePercentage ?? 0)),
    });
    const wallMs = performance.now() - started - (Date.now() - result.completedAt);
    const resumed = await resumeTarget(tq);
    return {
      totalTimeMs: result.totalTimeMs,
      downtimeMs: result.downtimeMs,
      wallMs,
      resumeGapMs: resumed.resumedAt - result.completedAt,
      transferredBytes: result.transferredBytes,
      maxThrottlePercentage: throttle,
    };
  } finally {
    sq.close();
    tq.close();
    await source.kill();
    await target.kill();
  }
}

/** Rewrites 48 MiB of non-zero tmpfs pages in place, over and over. */
export const MEMORY_DIRTIER = [
  'yes shoal-dirty-page | dd of=/dev/shm/a bs=1M count=48 iflag=fullblock 2>/dev/null',
  'dd if=/dev/shm/a of=/dev/shm/b bs=1M 2>/dev/null',
  'while :; do dd if=/dev/shm/a of=/dev/shm/b bs=1M conv=notrunc 2>/dev/null; done',
].join('\n');

const stats = (xs: number[]) => {
  const s = summarize(xs);
  return {
    p50Ms: Math.round(s.p50Ms * 10) / 10,
    minMs: Math.round(Math.min(...xs) * 10) / 10,
    maxMs: Math.round(Math.max(...xs) * 10) / 10,
    samples: xs.map(Math.round),
  };
};

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_MIGRATIONS ?? 3);
  const memoryMiB = Number(process.env.BENCH_MIGRATION_MEMORY_MIB ?? 256);
  const machine = describeMachine();
  const startedAt = new Date();
  const dir = await mkdtemp(join(tmpdir(), 'shoal-bench-migration-'));
  const tls = await makeMigrationTls(dir);
  try {
    const raw: MigrationMeasurement[] = [];
    const viaModule: MigrationMeasurement[] = [];
    for (let i = 0; i < runs; i++) {
      raw.push(await measureRawMigration({ memoryMiB }));
      viaModule.push(await measureModuleMigration(tls, { memoryMiB }));
      log(
        `idle ${memoryMiB} MiB ${i + 1}/${runs}: raw total ${raw.at(-1)!.totalTimeMs} ms downtime ${raw.at(-1)!.downtimeMs} ms; ` +
          `module (TLS) total ${viaModule.at(-1)!.totalTimeMs} ms downtime ${viaModule.at(-1)!.downtimeMs} ms + resume gap ${viaModule.at(-1)!.resumeGapMs} ms`,
      );
    }
    log('dirtying guest with auto-converge (32 MiB/s cap)');
    const dirtyStarted = performance.now();
    let dirty: Record<string, unknown>;
    try {
      const m = await measureModuleMigration(tls, {
        memoryMiB,
        uid: 'bench-dirty',
        command: MEMORY_DIRTIER,
        policy: { autoConverge: true, bandwidthMiBps: 32 },
      });
      dirty = { converged: true, ...m, convergedInMs: Math.round(performance.now() - dirtyStarted) };
    } catch (err) {
      dirty = { converged: false, error: (err as Error).message, afterMs: Math.round(performance.now() - dirtyStarted) };
    }
    log(`dirtying guest: ${JSON.stringify(dirty)}`);
    const accelerator = (await detectAccelerator()).accelerator;
    const results = {
      benchmark: 'live-migration-raw',
      startedAt: startedAt.toISOString(),
      machine: machineAtEnd(machine),
      accelerator,
      memoryMiB,
      runs,
      idle: {
        rawQemuPlainTcp: {
          totalTimeMs: stats(raw.map((r) => r.totalTimeMs)),
          downtimeMs: stats(raw.map((r) => r.downtimeMs)),
          wallMs: stats(raw.map((r) => r.wallMs)),
          transferredBytes: raw.map((r) => r.transferredBytes),
        },
        moduleTls: {
          totalTimeMs: stats(viaModule.map((r) => r.totalTimeMs)),
          downtimeMs: stats(viaModule.map((r) => r.downtimeMs)),
          resumeGapMs: stats(viaModule.map((r) => r.resumeGapMs ?? 0)),
          guestPauseMs: stats(viaModule.map((r) => r.downtimeMs + (r.resumeGapMs ?? 0))),
          wallMs: stats(viaModule.map((r) => r.wallMs)),
          transferredBytes: viaModule.map((r) => r.transferredBytes),
        },
        definitions: {
          totalTimeMs: "query-migrate's total-time on the source",
          downtimeMs: "query-migrate's downtime: the source guest paused until the target has everything",
          resumeGapMs: "source saw 'completed' → target's `cont` answered, in one process (a cluster adds the agents' round trip)",
          guestPauseMs: 'downtimeMs + resumeGapMs: the pause as the guest lives it with -S on the target',
        },
      },
      dirtyingGuestAutoConverge: { bandwidthMiBps: 32, dirtier: '48 MiB of non-zero tmpfs pages rewritten in a loop', ...dirty },
    };
    const { file } = await writeResults('live-migration-raw', startedAt, results);
    log(`→ ${file}`);
  } finally {
    await tls.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
