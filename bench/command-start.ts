/**
 * Command start: how long `shoalctl get vms` takes against a running cluster, next to stock
 * `kubectl get vms` against the same apiserver and a bare `node -e 0`, interleaved run by run so
 * the host's other load falls on all alike; and what running the compiled bundles (dist/, as
 * bin/ does) saves against running the TypeScript sources through tsx: the apiserver's time to
 * ready and memory at ready, and shoalctl's wall time. Writes bench/results/command-start-*.json.
 *
 * Environment: BENCH_COMMAND_RUNS [15] runs of each command.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { freePort, REPO_ROOT, startCluster, startProcess, type TestCluster } from '@shoal/testing';
import { describeMachine, machineAtEnd } from './machine.js';
import { writeResults } from './report.js';
import { round3, summarize } from './stats.js';

const RUNS = Number(process.env.BENCH_COMMAND_RUNS ?? 15);
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

async function timed(command: string, args: string[], env?: Record<string, string>): Promise<number> {
  const started = performance.now();
  const r = await execa(command, args, { reject: false, env, cwd: REPO_ROOT, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.exitCode}: ${String(r.stderr)}`);
  return performance.now() - started;
}

/** The apiserver started from `script`: wall time until its ready line, and its resident memory then. */
async function apiserverStart(cluster: TestCluster, script: string, env?: Record<string, string>): Promise<{ readyMs: number; rssMiB: number }> {
  const port = await freePort();
  const started = performance.now();
  const p = await startProcess(script, ['--etcd-servers', cluster.etcd.endpoint, '--port', String(port), '--bind', '127.0.0.1'], {
    ready: /shoal-apiserver listening on/,
    env,
    timeoutMs: 60_000,
  });
  const readyMs = performance.now() - started;
  const status = await execa('cat', [`/proc/${p.pid}/status`]);
  const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(String(status.stdout))?.[1]);
  await p.stop();
  return { readyMs, rssMiB: round3(rssKiB / 1024) };
}

const startedAt = new Date();
const machine = describeMachine();
const home = await mkdtemp(join(tmpdir(), 'shoal-bench-start-'));
await writeFile(join(home, 'kubeconfig'), '');
const cluster = await startCluster();
try {
  for (let i = 0; i < 20; i++)
    await cluster.client.create('vm', {
      apiVersion: 'shoal.dev/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name: `start-${i}`, namespace: 'default' },
      spec: {},
    });
  const shoalctlEnv = { HOME: home, PATH: process.env.PATH ?? '' };
  const kubectlEnv = { HOME: home, KUBECONFIG: join(home, 'kubeconfig'), PATH: process.env.PATH ?? '' };
  const samples = { node: [] as number[], shoalctl: [] as number[], shoalctlFromSource: [] as number[], kubectl: [] as number[] };
  const shoalctlArgs = ['--server', cluster.url, 'get', 'vms'];
  // kubectl caches discovery in its cache dir: the first run fills it, as for a user.
  await timed(KUBECTL, ['--server', cluster.url, '--cache-dir', join(home, 'cache'), 'get', 'vms'], kubectlEnv);
  for (let i = 0; i < RUNS; i++) {
    samples.node.push(await timed('node', ['-e', '0']));
    samples.shoalctl.push(await timed('node', [join(REPO_ROOT, 'bin/shoalctl.js'), ...shoalctlArgs], shoalctlEnv));
    samples.shoalctlFromSource.push(await timed('node', ['--import', 'tsx', join(REPO_ROOT, 'apps/cli/src/main.ts'), ...shoalctlArgs], shoalctlEnv));
    samples.kubectl.push(await timed(KUBECTL, ['--server', cluster.url, '--cache-dir', join(home, 'cache'), 'get', 'vms'], kubectlEnv));
  }
  const apiserver = { bundle: [] as { readyMs: number; rssMiB: number }[], fromSource: [] as { readyMs: number; rssMiB: number }[] };
  for (let i = 0; i < 3; i++) {
    apiserver.bundle.push(await apiserverStart(cluster, 'shoal-apiserver'));
    apiserver.fromSource.push(await apiserverStart(cluster, join(REPO_ROOT, 'apps/apiserver/src/main.ts'), { NODE_OPTIONS: '--import tsx' }));
  }
  const median = (xs: number[]) => summarize(xs).p50Ms;
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
  const results = {
    startedAt: startedAt.toISOString(),
    machine: machineAtEnd(machine),
    runs: RUNS,
    commandWallMs: s,
    ratios: {
      shoalctlOverKubectl: round3(median(samples.shoalctl) / median(samples.kubectl)),
      shoalctlOverNode: round3(median(samples.shoalctl) / median(samples.node)),
      bundleOverSource: round3(median(samples.shoalctl) / median(samples.shoalctlFromSource)),
    },
    aim: { shoalctlGetVmsMs: 200, met: median(samples.shoalctl) <= 200 },
    apiserverStart: {
      bundle: { readyMs: median(apiserver.bundle.map((a) => a.readyMs)), rssMiB: median(apiserver.bundle.map((a) => a.rssMiB)) },
      fromSource: { readyMs: median(apiserver.fromSource.map((a) => a.readyMs)), rssMiB: median(apiserver.fromSource.map((a) => a.rssMiB)) },
    },
  };
  const written = await writeResults('command-start', startedAt, results);
  console.log(
    `command start (median of ${RUNS}): shoalctl get vms ${round3(median(samples.shoalctl))} ms, from source through tsx ${round3(median(samples.shoalctlFromSource))} ms, ` +
      `kubectl ${round3(median(samples.kubectl))} ms, node -e 0 ${round3(median(samples.node))} ms`,
  );
  console.log(
    `apiserver to ready: bundle ${round3(results.apiserverStart.bundle.readyMs)} ms / ${results.apiserverStart.bundle.rssMiB} MiB, ` +
      `from source ${round3(results.apiserverStart.fromSource.readyMs)} ms / ${results.apiserverStart.fromSource.rssMiB} MiB; results in ${written.file}`,
  );
} finally {
  await cluster.stop();
  await rm(home, { recursive: true, force: true });
}
