/**
 * `npm run bench` part 2: how long a user waits from `apply` to a Running VM, against a raw
 * QEMU boot of the same image to its boot marker, measured interleaved in the same run on a
 * real cluster (etcd, apiserver, controller-manager, one qemu agent). Writes
 * bench/results/vm-boot-<time>.json; asserts nothing.
 *
 * Environment: BENCH_BOOTS [5] boots of each kind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitFor, waitForGone, waitForObject, type TestCluster } from '@shoal/testing';
import { buildQemuCommandLine } from '../apps/agent/src/runtime/qemu/command-line.js';
import { detectAccelerator, hostTscKhz } from '../apps/agent/src/runtime/qemu/accelerator.js';
import { locateGuestImage } from '../apps/agent/src/runtime/qemu/guest-image.js';
import { summarize } from './stats.js';
import { writeResults } from './report.js';

const BOOTS = Number(process.env.BENCH_BOOTS ?? 5);
const NODE = 'bench-node';
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Starts QEMU exactly as the agent would, without Shoal, and times it to the boot marker. */
async function rawBoot(i: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'shoal-rawboot-'));
  const image = await locateGuestImage();
  const uid = `raw-boot-${i}`;
  const line = buildQemuCommandLine({
    uid,
    vcpus: 1,
    memoryMiB: 256,
    accelerator: (await detectAccelerator()).accelerator,
    tscKhz: await hostTscKhz(),
    kernel: image.kernel,
    initrd: image.initrd,
    command: 'sleep 600',
    runDir: dir,
  });
  const started = performance.now();
  const qemu: ResultPromise = execa(line.binary, line.args, { reject: false, stdio: 'ignore' });
  try {
    await waitFor(async () => (await readFile(line.serialLog, 'utf8').catch(() => '')).includes(`SHOAL-BOOTED uid=${uid}`), {
      timeoutMs: 120_000,
      intervalMs: 20,
      message: 'raw boot marker',
    });
    return performance.now() - started;
  } finally {
    qemu.kill('SIGKILL');
    await qemu;
    await rm(dir, { recursive: true, force: true });
  }
}

/** Creates a VM through the API and times it until its status says Running; then deletes it. */
async function applyToRunning(client: ShoalClient, i: number): Promise<number> {
  const name = `boot-${i}`;
  const started = performance.now();
  await client.create('vm', { metadata: { name }, spec: { resources: { vcpus: 1, memoryMiB: 256 }, command: ['sh', '-c', 'sleep 600'] } });
  await waitForObject(client, 'VirtualMachine', name, (vm) => vm.status?.phase === 'Running', { timeoutMs: 120_000, intervalMs: 20, message: 'Running' });
  const ms = performance.now() - started;
  await client.delete('vm', name);
  await waitForGone(client, 'VirtualMachine', name, { timeoutMs: 60_000 });
  return ms;
}

let cluster: TestCluster | undefined;
try {
  const startedAt = new Date();
  log('starting a cluster with one qemu agent');
  cluster = await startCluster({ controllerManager: true, agents: [NODE] });
  const client = cluster.client;
  // One unmeasured boot of each kind: page cache, first QEMU start.
  await rawBoot(-1);
  await applyToRunning(client, -1);
  const raw: number[] = [];
  const viaApi: number[] = [];
  for (let i = 0; i < BOOTS; i++) {
    raw.push(await rawBoot(i));
    viaApi.push(await applyToRunning(client, i));
    log(`boot ${i + 1}/${BOOTS}: raw ${raw.at(-1)!.toFixed(0)} ms, apply → Running ${viaApi.at(-1)!.toFixed(0)} ms`);
  }
  const rawSummary = summarize(raw);
  const apiSummary = summarize(viaApi);
  const value = Math.round((apiSummary.p50Ms / rawSummary.p50Ms) * 1000) / 1000;
  const results = {
    benchmark: 'vm-boot',
    startedAt: startedAt.toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg: loadavg() },
    accelerator: (await detectAccelerator()).accelerator,
    boots: BOOTS,
    rawQemuBootToMarkerMs: rawSummary,
    applyToRunningMs: apiSummary,
    ratios: {
      applyToRunningOverRawBoot: {
        value,
        aim: 1.15,
        met: value <= 1.15,
        definition: 'median apply → status Running ÷ median raw QEMU start → boot marker, same image, interleaved',
      },
    },
  };
  const { file } = await writeResults('vm-boot', startedAt, results);
  log(`raw boot p50 ${rawSummary.p50Ms.toFixed(0)} ms, apply → Running p50 ${apiSummary.p50Ms.toFixed(0)} ms, ratio ${value} (aim ≤ 1.15) → ${file}`);
} finally {
  await cluster?.stop();
}
