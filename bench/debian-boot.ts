/**
 * `npm run bench`, the Debian image: how long a user waits from `apply` of a Debian VM (an
 * Image, a root disk made from it, a config drive with an SSH key) until SSH answers with that
 * key, against a raw QEMU boot of the same disk, kernel and config drive to the same point, both
 * measured interleaved in the same run on a real cluster (etcd, apiserver, controller-manager,
 * one qemu agent). The image is in the node's cache before the first measured boot (one
 * unmeasured boot of each kind first). Writes bench/results/debian-boot-<time>.json; asserts
 * nothing.
 *
 * Environment: BENCH_DEBIAN_BOOTS [2] boots of each kind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ShoalClient } from '@shoal/client';
import { freePort, REPO_ROOT, startCluster, waitFor, waitForGone, waitForObject, type TestCluster } from '@shoal/testing';
import type { VirtualMachine } from '@shoal/api';
import { buildQemuCommandLine } from '../apps/agent/src/runtime/qemu/command-line.js';
import { detectAccelerator, hostTscKhz } from '../apps/agent/src/runtime/qemu/accelerator.js';
import { imageCacheDir } from '../apps/agent/src/runtime/qemu/guest-image.js';
import { noCloudFiles, writeNoCloudDrive } from '../apps/agent/src/images/config-drive.js';
import { summarize } from './stats.js';
import { writeResults } from './report.js';

const BOOTS = Number(process.env.BENCH_DEBIAN_BOOTS ?? 2);
const NODE = 'bench-debian';
const MEMORY_MIB = 512;
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Built {
  kernel: string;
  initrd: string;
  disk: string;
  diskFormat: 'qcow2' | 'raw';
  kernelArgs: string[];
  sshUser: string;
}

const dir = join(imageCacheDir(), 'debian');
const built = JSON.parse(await readFile(join(dir, 'image.json'), 'utf8')) as Built;
const keyDir = await mkdtemp(join(tmpdir(), 'shoal-bench-key-'));
await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'id')]);
const publicKey = (await readFile(join(keyDir, 'id.pub'), 'utf8')).trim();

/** Polls `ssh <user>@127.0.0.1 -p port true` until it succeeds. */
async function sshReady(port: number): Promise<void> {
  const args = ['-i', join(keyDir, 'id'), '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
  args.push('-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `${built.sshUser}@127.0.0.1`, 'true');
  await waitFor(async () => (await execa('ssh', args, { reject: false })).exitCode === 0, { timeoutMs: 300_000, intervalMs: 250, message: 'ssh answering' });
}

/** The same guest without Shoal: an overlay on the disk, the same config drive and command line, started by hand. */
async function rawBoot(i: number): Promise<number> {
  const run = await mkdtemp(join(tmpdir(), 'shoal-raw-debian-'));
  const port = await freePort();
  const uid = `raw-debian-${i}`;
  try {
    const overlay = join(run, 'root.qcow2');
    await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', built.diskFormat, '-b', join(dir, built.disk), overlay]);
    const vm = { metadata: { name: `raw-${i}`, uid }, spec: { guest: { sshAuthorizedKeys: [publicKey] } } } as unknown as VirtualMachine;
    const seed = await writeNoCloudDrive(run, noCloudFiles(vm));
    const line = buildQemuCommandLine({
      uid,
      vcpus: 1,
      memoryMiB: MEMORY_MIB,
      accelerator: (await detectAccelerator()).accelerator,
      tscKhz: await hostTscKhz(),
      kernel: join(dir, built.kernel),
      initrd: join(dir, built.initrd),
      kernelArgs: built.kernelArgs,
      runDir: run,
      network: { mode: 'user', hostForwards: [{ hostPort: port, guestPort: 22 }] },
      disks: [
        { path: overlay, format: 'qcow2' },
        { path: seed, format: 'raw', readOnly: true },
      ],
    });
    const started = performance.now();
    const qemu: ResultPromise = execa(line.binary, line.args, { reject: false, stdio: 'ignore' });
    try {
      await sshReady(port);
      return performance.now() - started;
    } finally {
      qemu.kill('SIGKILL');
      await qemu;
    }
  } finally {
    await rm(run, { recursive: true, force: true });
  }
}

/** Applies a Debian VM with a published SSH port and times it until SSH answers with the key; then deletes it. */
async function applyToSsh(client: ShoalClient, i: number): Promise<number> {
  const name = `deb-bench-${i + 1}`;
  const port = await freePort();
  const started = performance.now();
  await client.create('vm', {
    metadata: { name, namespace: 'default' },
    spec: {
      image: 'debian-12',
      resources: { vcpus: 1, memoryMiB: MEMORY_MIB },
      rootDisk: { baseImage: 'debian-12' },
      network: { mode: 'user' },
      ports: [{ hostPort: port, guestPort: 22 }],
      guest: { sshAuthorizedKeys: [publicKey] },
    },
  });
  await sshReady(port);
  const ms = performance.now() - started;
  await client.delete('vm', name, { namespace: 'default' });
  await waitForGone(client, 'VirtualMachine', name, { namespace: 'default', timeoutMs: 120_000 });
  return ms;
}

let cluster: TestCluster | undefined;
try {
  const startedAt = new Date();
  log('starting a cluster with one qemu agent for the Debian image');
  cluster = await startCluster({ controllerManager: true, agents: [NODE], agentArgs: ['--vcpus', '2', '--memory-mib', '2048'] });
  const client = cluster.client;
  // The Image as the README makes it, from the build's image.json.
  const manifest = await execa('bash', [join(REPO_ROOT, 'deploy/guest/image-manifest.sh'), 'debian', 'debian-12']);
  await client.create('image', JSON.parse(manifest.stdout));
  // Unmeasured: the node fetches and verifies the image; the page cache warms for both kinds.
  await applyToSsh(client, -1);
  await rawBoot(-1);
  await waitForObject(client, 'Image', 'debian-12', (i) => !!i.status?.nodes?.includes(NODE), { message: 'the image cached on the node' });
  const raw: number[] = [];
  const viaApi: number[] = [];
  for (let i = 0; i < BOOTS; i++) {
    raw.push(await rawBoot(i));
    viaApi.push(await applyToSsh(client, i));
    log(`Debian boot ${i + 1}/${BOOTS}: raw QEMU → ssh ${raw.at(-1)!.toFixed(0)} ms, apply → ssh ${viaApi.at(-1)!.toFixed(0)} ms`);
  }
  const rawSummary = summarize(raw);
  const apiSummary = summarize(viaApi);
  const value = Math.round((apiSummary.p50Ms / rawSummary.p50Ms) * 1000) / 1000;
  const results = {
    benchmark: 'debian-boot',
    startedAt: startedAt.toISOString(),
    machine: { cpus: cpus().length, node: process.version, loadavg: loadavg() },
    accelerator: (await detectAccelerator()).accelerator,
    boots: BOOTS,
    memoryMiB: MEMORY_MIB,
    rawQemuBootToSshMs: rawSummary,
    applyToSshMs: apiSummary,
    ratios: {
      applyToSshOverRawBoot: {
        value,
        definition:
          'median apply of a Debian VM (Image cached on the node, root Volume made from it, config drive) → ssh answers with its key ÷ median raw QEMU start of the same disk overlay, kernel and config drive → ssh answers, interleaved',
      },
    },
  };
  const { file: out } = await writeResults('debian-boot', startedAt, results);
  log(`raw QEMU → ssh p50 ${rawSummary.p50Ms.toFixed(0)} ms, apply → ssh p50 ${apiSummary.p50Ms.toFixed(0)} ms, ratio ${value} → ${out}`);
} finally {
  await cluster?.stop();
  await rm(keyDir, { recursive: true, force: true });
}
