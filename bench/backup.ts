/**
 * Live backups of a running VM's disk through Shoal against `qemu-img convert` of the same file,
 * in one run on one machine: a real etcd, apiserver and controller-manager and one QEMU agent; a
 * VM with a 1 GiB volume whose guest first fills BENCH_BACKUP_FILL_MIB of it (1 MiB of random
 * data, then 1 MiB of its own busybox binary, in turn: half of it incompressible, half as
 * compressible as programs are), then idles.
 *
 *   full         BENCH_BACKUP_RUNS times, interleaved: `qemu-img convert -c -O qcow2` of the
 *                volume's file (-U: the running guest holds it; what the agent runs for a
 *                stopped VM), the same without -c, and a Full Backup of the running VM, timed
 *                from its create request to Completed (QEMU's compressed blockdev-backup, the
 *                file's sha256, the manifest, the status round trips). MiB/s are of the data
 *                the guest wrote, on both sides; the ratio is Shoal's over qemu-img's.
 *   incremental  the guest then rewrites BENCH_BACKUP_CHANGE_MIB with fresh random data (its
 *                trigger: a connection to a port it publishes), and an Incremental Backup
 *                follows: the bytes it wrote against the bytes the guest changed, and its time.
 *
 * Writes bench/results/backup-<time>.json. Asserts nothing. Everything it started (processes,
 * the QEMU, the backup location and the copies) is gone when it ends, on failure and on
 * SIGINT/SIGTERM too.
 *
 * Environment: BENCH_BACKUP_RUNS [3], BENCH_BACKUP_FILL_MIB [512], BENCH_BACKUP_CHANGE_MIB [32].
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import type { Backup, BackupVolume, DiskBackup, VirtualMachine, Volume } from '@shoal/api';
import { freePort, startCluster, waitFor, waitForObject, type TestCluster } from '@shoal/testing';
import { detectAccelerator } from '../apps/agent/src/runtime/qemu/accelerator.js';
import { describeMachine, machineAtEnd } from './machine.js';
import { ratio, writeResults } from './report.js';
import { summarize } from './stats.js';

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const NODE = 'bench-backup';
const VM = 'bench-backup';
const ns = { namespace: 'default' };
const MiB = 2 ** 20;
/** Where the guest's rewrite starts, in MiB: inside what it filled. */
const CHANGE_OFFSET_MIB = 64;
/** The guest port whose first connection makes it rewrite its data. */
const TRIGGER_PORT = 7000;

const envInt = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

/**
 * The guest: fills `fillMiB` (a pair of 1 MiB blocks at a time, random then busybox), says
 * FILLED, waits for a connection on the trigger port, rewrites `changeMiB` at the offset with
 * fresh random data and says CHANGED. conv=fsync: the writes reach QEMU (and its dirty bitmap)
 * before the guest says so.
 */
function guestCommand(fillMiB: number, changeMiB: number): string {
  return [
    'head -c 1048576 /dev/urandom >/tmp/random',
    'head -c 1048576 /bin/busybox >/tmp/program',
    `i=0; while [ $i -lt ${fillMiB / 2} ]; do cat /tmp/random /tmp/program; i=$((i+1)); done | dd of=/dev/vda bs=1M conv=fsync 2>/dev/null`,
    'echo FILLED',
    `nc -l -p ${TRIGGER_PORT} </dev/null >/dev/null`,
    'echo CHANGING',
    `dd if=/dev/urandom of=/dev/vda bs=1M seek=${CHANGE_OFFSET_MIB} count=${changeMiB} conv=fsync 2>/dev/null`,
    'echo CHANGED',
    'exec sleep 100000',
  ].join('\n');
}

interface CopyMeasurement {
  ms: number;
  /** Bytes of the file written. */
  bytes: number;
}

/** One `qemu-img convert` of the volume's file to a fresh qcow2, timed; the copy is removed after. */
async function qemuImgConvert(source: string, format: string, target: string, compress: boolean): Promise<CopyMeasurement & { sha256Ms?: number }> {
  const args = ['convert', '-q', '-U', ...(compress ? ['-c'] : []), '-f', format, '-O', 'qcow2', source, target];
  const started = performance.now();
  await execa('qemu-img', args);
  const ms = performance.now() - started;
  const bytes = (await stat(target)).size;
  // What the agent adds to every copy (the checksum a restore checks), on this very file: context for the gap.
  let sha256Ms: number | undefined;
  if (compress) {
    const t = performance.now();
    await sha256(target);
    sha256Ms = performance.now() - t;
  }
  await rm(target, { force: true });
  return { ms, bytes, ...(sha256Ms !== undefined ? { sha256Ms } : {}) };
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface ShoalMeasurement extends CopyMeasurement {
  record: BackupVolume;
  /** Create request → each step, as the watches saw them (this machine's clock). */
  phasesMs: { diskBackupCreated: number; copyStarted: number; diskBackupCompleted: number; backupCompleted: number };
}

/**
 * A Backup of the VM, timed from its create request to Completed. Watches of Backups and
 * DiskBackups, from a version read before the create, say when each step happened: the
 * controller made the DiskBackup, the agent started the copy (InProgress), the agent finished
 * it (checksum and manifest included), the controller completed the Backup.
 */
async function backupThroughShoal(cluster: TestCluster, name: string, mode: 'Full' | 'Incremental'): Promise<ShoalMeasurement> {
  const { client } = cluster;
  const seen: Partial<Record<'diskBackupCreated' | 'copyStarted' | 'diskBackupCompleted' | 'backupCompleted', number>> = {};
  let failure: string | undefined;
  const abort = new AbortController();
  // From one list's version (etcd's revision, the same for every kind): every change after it is delivered, whenever each watch connects.
  const { resourceVersion } = (await client.list('backup', ns)).metadata;
  const follow = async <T extends Backup | DiskBackup>(kind: 'backup' | 'diskbackup', on: (o: T, at: number) => void) => {
    try {
      for await (const e of client.watch<T>(kind, { ...ns, resourceVersion }, abort.signal)) on(e.object, Date.now());
    } catch (err) {
      if (!abort.signal.aborted) failure = `watch of ${kind}s: ${(err as Error).message}`;
    }
  };
  const watches = [
    follow<Backup>('backup', (b, at) => {
      if (b.metadata.name !== name) return;
      if (b.status?.phase === 'Completed') seen.backupCompleted ??= at;
      else if (b.status?.phase === 'Failed' || b.status?.phase === 'PartiallyFailed')
        failure = `backup ${name} ${b.status.phase}: ${JSON.stringify(b.status.errors)}`;
    }),
    follow<DiskBackup>('diskbackup', (d, at) => {
      if (d.spec.backupName !== name) return;
      seen.diskBackupCreated ??= at;
      if (d.status?.phase === 'InProgress') seen.copyStarted ??= at;
      if (d.status?.phase === 'Completed') seen.diskBackupCompleted ??= at;
    }),
  ];
  try {
    const created = Date.now();
    await client.create('backup', { metadata: { name, ...ns }, spec: { vmNames: [VM], mode } });
    await waitFor(() => failure ?? seen.backupCompleted, { timeoutMs: 600_000, intervalMs: 10, message: `backup ${name} Completed` });
    if (failure) throw new Error(failure);
    const backup = await client.get<Backup>('backup', name, ns);
    const record = backup.status?.volumes?.[0];
    if (!record) throw new Error(`backup ${name} Completed with no volume record`);
    const since = (at: number | undefined) => (at === undefined ? NaN : at - created);
    return {
      ms: seen.backupCompleted! - created,
      bytes: backup.status?.totalBytes ?? record.bytes ?? 0,
      record,
      phasesMs: {
        diskBackupCreated: since(seen.diskBackupCreated),
        copyStarted: since(seen.copyStarted),
        diskBackupCompleted: since(seen.diskBackupCompleted),
        backupCompleted: since(seen.backupCompleted),
      },
    };
  } finally {
    abort.abort();
    await Promise.all(watches);
  }
}

/** Until the guest's console says `text`. */
async function consoleSays(cluster: TestCluster, vm: VirtualMachine, text: string, timeoutMs: number): Promise<void> {
  const file = join(cluster.agents.get(NODE)!.dataDir, 'vms', vm.metadata.uid!, 'serial.log');
  await waitFor(async () => (await readFile(file, 'utf8').catch(() => '')).includes(text), { timeoutMs, intervalMs: 100, message: `the guest to say ${text}` });
}

/**
 * Connects to the guest's trigger port until the guest says it heard it. QEMU's user networking
 * accepts on the host before the guest does, so a connection alone proves nothing.
 */
async function triggerChange(cluster: TestCluster, vm: VirtualMachine, hostPort: number): Promise<void> {
  await waitFor(
    async () => {
      await new Promise<void>((resolve) => {
        const socket = connect(hostPort, '127.0.0.1', () => socket.end());
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
      return consoleSays(cluster, vm, 'CHANGING', 2_000).then(
        () => true,
        () => false,
      );
    },
    { timeoutMs: 60_000, message: 'the guest to hear its trigger' },
  );
}

const median = (xs: number[]) => summarize(xs).p50Ms;
const mibPerSecond = (mib: number, ms: number) => Math.round((mib / (ms / 1000)) * 10) / 10;
const stats = (xs: number[]) => {
  const s = summarize(xs);
  return { p50Ms: Math.round(s.p50Ms), minMs: Math.round(s.minMs), maxMs: Math.round(s.maxMs), samples: xs.map(Math.round) };
};

async function main(): Promise<void> {
  const runs = envInt('BENCH_BACKUP_RUNS', 3);
  // Whole pairs of 1 MiB blocks, within the 1 GiB volume; the rewrite inside them.
  const fillMiB = Math.min(1024, 2 * Math.ceil(envInt('BENCH_BACKUP_FILL_MIB', 512) / 2));
  const changeMiB = Math.min(envInt('BENCH_BACKUP_CHANGE_MIB', 32), fillMiB - CHANGE_OFFSET_MIB);
  if (changeMiB <= 0) throw new Error(`BENCH_BACKUP_FILL_MIB must be more than ${CHANGE_OFFSET_MIB}`);
  const machine = describeMachine();
  const startedAt = new Date();
  const location = await mkdtemp(join(tmpdir(), 'shoal-bench-backups-'));
  const copies = await mkdtemp(join(tmpdir(), 'shoal-bench-qemu-img-'));
  let cluster: TestCluster | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      await cluster?.stop().catch((err: Error) => log(`stopping the cluster: ${err.message}`));
      await rm(location, { recursive: true, force: true });
      await rm(copies, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process this benchmark started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    log(
      `backups: a guest fills ${fillMiB} MiB of a 1 GiB volume; ${runs} × (qemu-img -c, qemu-img, Full Backup), then ${changeMiB} MiB rewritten and an Incremental Backup`,
    );
    cluster = await startCluster({ controllerManager: true, agents: [NODE] });
    const { client } = cluster;
    await client.create('backuplocation', { metadata: { name: 'bench' }, spec: { path: location, default: true } });
    const hostPort = await freePort();
    await client.create('vm', {
      metadata: { name: VM, ...ns },
      spec: {
        resources: { vcpus: 1, memoryMiB: 256 },
        network: { mode: 'user' },
        ports: [{ hostPort, guestPort: TRIGGER_PORT }],
        volumes: [{ name: 'data', volumeTemplate: { sizeGiB: 1 } }],
        command: ['sh', '-c', guestCommand(fillMiB, changeMiB)],
      },
    });
    const vm = await waitForObject(client, 'VirtualMachine', VM, (v) => v.status?.phase === 'Running', { ...ns, timeoutMs: 120_000, message: 'Running' });
    const filling = performance.now();
    await consoleSays(cluster, vm, 'FILLED', 600_000);
    log(`the guest filled ${fillMiB} MiB in ${Math.round(performance.now() - filling)} ms`);
    const volume = await client.get<Volume>('volume', `${VM}-data`, ns);
    const source = volume.status!.path!;
    const format = volume.status?.format ?? 'qcow2';

    const compressed: Awaited<ReturnType<typeof qemuImgConvert>>[] = [];
    const uncompressed: CopyMeasurement[] = [];
    const shoal: ShoalMeasurement[] = [];
    for (let i = 0; i < runs; i++) {
      compressed.push(await qemuImgConvert(source, format, join(copies, `c${i}.qcow2`), true));
      uncompressed.push(await qemuImgConvert(source, format, join(copies, `u${i}.qcow2`), false));
      shoal.push(await backupThroughShoal(cluster, `full-${i}`, 'Full'));
      const [c, u, s] = [compressed.at(-1)!, uncompressed.at(-1)!, shoal.at(-1)!];
      log(
        `${i + 1}/${runs}: qemu-img -c ${Math.round(c.ms)} ms (${mibPerSecond(fillMiB, c.ms)} MiB/s, ${(c.bytes / MiB).toFixed(1)} MiB), ` +
          `qemu-img ${Math.round(u.ms)} ms (${mibPerSecond(fillMiB, u.ms)} MiB/s), ` +
          `Shoal Full ${s.ms} ms (${mibPerSecond(fillMiB, s.ms)} MiB/s, ${(s.bytes / MiB).toFixed(1)} MiB) ${JSON.stringify(s.phasesMs)}`,
      );
    }

    await triggerChange(cluster, vm, hostPort);
    await consoleSays(cluster, vm, 'CHANGED', 300_000);
    const incremental = await backupThroughShoal(cluster, 'incremental', 'Incremental');
    const changedBytes = changeMiB * MiB;
    log(
      `incremental after ${changeMiB} MiB rewritten: ${incremental.ms} ms, ${(incremental.bytes / MiB).toFixed(2)} MiB ` +
        `(${incremental.record.mode}${incremental.record.modeReason ? `: ${incremental.record.modeReason}` : ''}) ${JSON.stringify(incremental.phasesMs)}`,
    );

    const throughput = (ms: number[]) => ({
      perSecond: (fillMiB * ms.length) / (ms.reduce((a, b) => a + b, 0) / 1000),
      perSlicePerSecond: ms.map((x) => fillMiB / (x / 1000)),
    });
    const shoalMs = shoal.map((s) => s.ms);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    const results = {
      benchmark: 'backup',
      startedAt: startedAt.toISOString(),
      machine: machineAtEnd(machine),
      accelerator: (await detectAccelerator()).accelerator,
      qemuImg: (await execa('qemu-img', ['--version'])).stdout.split('\n')[0],
      volume: {
        virtualMiB: 1024,
        format,
        dataMiB: fillMiB,
        data: '1 MiB of random data, then the first 1 MiB of the guest busybox binary, in turn, from the start of the disk; the rest never written',
      },
      full: {
        runs,
        rawQemuImgCompressed: {
          command: 'qemu-img convert -U -c -f qcow2 -O qcow2 (what the agent runs for a stopped VM)',
          ms: stats(compressed.map((c) => c.ms)),
          mibPerSecond: compressed.map((c) => mibPerSecond(fillMiB, c.ms)),
          bytes: compressed.map((c) => c.bytes),
          sha256OfItsFileMs: stats(compressed.map((c) => c.sha256Ms!)),
        },
        rawQemuImgUncompressed: {
          command: 'qemu-img convert -U -f qcow2 -O qcow2',
          ms: stats(uncompressed.map((c) => c.ms)),
          mibPerSecond: uncompressed.map((c) => mibPerSecond(fillMiB, c.ms)),
          bytes: uncompressed.map((c) => c.bytes),
        },
        shoal: {
          what: 'a Full Backup of the running VM: create request → Completed',
          ms: stats(shoalMs),
          mibPerSecond: shoal.map((s) => mibPerSecond(fillMiB, s.ms)),
          bytes: shoal.map((s) => s.bytes),
          phasesMs: shoal.map((s) => s.phasesMs),
        },
        ratios: {
          throughputOverQemuImgCompressed: ratio(
            throughput(shoalMs),
            throughput(compressed.map((c) => c.ms)),
            null,
            "the guest's data MiB/s of the Full Backup ÷ that of qemu-img convert -c of the same file (total data ÷ total time; perSlice: each run)",
          ),
          throughputOverQemuImgUncompressed: ratio(
            throughput(shoalMs),
            throughput(uncompressed.map((c) => c.ms)),
            null,
            "the guest's data MiB/s of the Full Backup ÷ that of qemu-img convert without compression",
          ),
          bytesOverQemuImgCompressed: {
            value: r2(median(shoal.map((s) => s.bytes)) / median(compressed.map((c) => c.bytes))),
            definition: "the Backup's file bytes ÷ qemu-img convert -c's (medians)",
          },
        },
      },
      incremental: {
        changedMiB: changeMiB,
        changed: `fresh random data (incompressible) from ${CHANGE_OFFSET_MIB} MiB on, in 1 MiB writes, then fsync`,
        mode: incremental.record.mode,
        ...(incremental.record.modeReason ? { modeReason: incremental.record.modeReason } : {}),
        parent: incremental.record.parent,
        ms: Math.round(incremental.ms),
        bytes: incremental.bytes,
        phasesMs: incremental.phasesMs,
        bytesOverChanged: {
          value: Math.round((incremental.bytes / changedBytes) * 1000) / 1000,
          definition:
            "the Incremental Backup's file bytes ÷ the bytes the guest rewrote (1: exactly what changed; the rest is qcow2 metadata and the bitmap's 64 KiB granularity)",
        },
        msOverFull: {
          value: r2(incremental.ms / median(shoalMs)),
          definition: "the Incremental Backup's time ÷ the median Full Backup's",
        },
      },
    };
    const { file } = await writeResults('backup', startedAt, results);
    log(`→ ${file}`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
