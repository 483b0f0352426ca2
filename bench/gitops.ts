/**
 * The GitOps path, in one run on one machine: a real etcd, apiserver and controller-manager (the
 * gitrepository and gitsync controllers, --gitops-cache-dir in a temporary directory; no agent:
 * VMs stay Pending), and bare repositories served by `git daemon` on 127.0.0.1, a remote nothing
 * watches, so only the webhook says there is a new commit.
 *
 *   webhook   a GitRepository (interval 1h, webhookSecretRef) and a GitSync of one VM manifest;
 *             BENCH_GITOPS_PUSHES times: a commit changing that manifest is pushed, the webhook
 *             called, and the time taken from the call until the GitSync's lastAppliedRevision
 *             is the commit and it is Ready (watches of both objects, never polling; each step
 *             of the way from them too: the annotation the apiserver writes, the GitRepository's
 *             artifact, the GitSync applied). Aim (the issue): p95 < 1 s. Baselines in the same
 *             run, after each push: `git ls-remote` + `git fetch --depth 1` of the same remote
 *             (the fetch itself), one git process (the controllers run about a dozen per push),
 *             and one server-side apply of such a VM from this process (the apply itself).
 *             The controller-manager runs with GIT_TRACE2_EVENT naming a directory, so the git
 *             processes it ran on each push's path are counted and timed too.
 *   apply     a commit of BENCH_GITOPS_OBJECTS Secrets; BENCH_GITOPS_APPLY_RUNS times, in turn:
 *             the same Secrets server-side applied from this process one after the other, with
 *             the same client (field manager gitops, forced; a dry-run pass of them all timed
 *             apart), and a new GitSync of them into a fresh namespace, timed from its create to
 *             Ready: objects/s of each, and the ratio. Then a pass with nothing to change, on
 *             both sides (the reconcile-requested-at annotation, as `shoalctl gitops reconcile`
 *             sets it, answered in status.lastHandledReconcileAt): its time, and every write it
 *             made, counted on a watch of the Secrets.
 *
 * Writes bench/results/gitops-<time>.json. Asserts nothing. Every process it started (the
 * cluster, git daemon) and its temporary directory are gone when it ends, on failure and on
 * SIGINT/SIGTERM too.
 *
 * Environment: BENCH_GITOPS_PUSHES [20], BENCH_GITOPS_OBJECTS [500], BENCH_GITOPS_APPLY_RUNS [2].
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { request } from 'undici';
import { stringify } from 'yaml';
import {
  findCondition,
  GITOPS_FIELD_MANAGER,
  gitRepositoryWebhookPath,
  RECONCILE_REQUESTED_ANNOTATION,
  type GitRepository,
  type GitSync,
  type KubeObject,
} from '@shoal/api';
import { serverSideApply, type ShoalClient } from '@shoal/client';
import { freePort, startCluster, waitFor, type TestCluster } from '@shoal/testing';
import { describeMachine, machineAtEnd } from './machine.js';
import { processCpuSeconds } from './process-meter.js';
import { ratio, writeResults } from './report.js';
import { percentile, roundTo } from './stats.js';

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const NAMESPACE = 'default';
const ns = { namespace: NAMESPACE };
const WEBHOOK_TOKEN = 'bench-gitops-webhook-token';
/** The apiserver lets one address call one repository's webhook 10 times at once, then once a second: pushes are paced to stay under it. */
const WEBHOOK_SPACING_MS = 1_100;
const STEP_TIMEOUT_MS = 60_000;
const APPLY_TIMEOUT_MS = 15 * 60_000;
/** After a pass with nothing to change has answered: how long to go on counting writes that might trail it. */
const QUIET_MS = 1_000;

const envInt = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};

const IDENTITY = ['-c', 'user.name=Shoal Bench', '-c', 'user.email=bench@shoal.invalid', '-c', 'commit.gpgsign=false'];
const git = async (cwd: string, ...args: string[]) => (await execa('git', [...IDENTITY, ...args], { cwd, stdin: 'ignore' })).stdout.trim();

/** A bare repository under `served` (what git daemon exports) and a work clone beside it that commits and pushes to it. */
async function makeRemote(root: string, served: string, name: string) {
  const bare = join(served, `${name}.git`);
  const work = join(root, `${name}-work`);
  await execa('git', ['init', '--quiet', '--bare', '--initial-branch', 'main', bare]);
  await execa('git', ['init', '--quiet', '--initial-branch', 'main', work]);
  await git(work, 'remote', 'add', 'origin', bare);
  return {
    work,
    /** Writes the files, commits them all and pushes main; answers the commit. */
    async commit(files: Record<string, string>, message: string): Promise<string> {
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), text);
      }
      await git(work, 'add', '--all');
      await git(work, 'commit', '--quiet', '--allow-empty', '-m', message);
      await git(work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
      return git(work, 'rev-parse', 'HEAD');
    },
  };
}

/** The one manifest the webhook pushes change: a VM that stays stopped, its memory different in every commit. */
const pushedVm = (name: string, push: number) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { runStrategy: 'Halted', resources: { vcpus: 1, memoryMiB: 128 + 2 * push }, command: ['sh', '-c', 'echo up; exec sleep 600'] },
});

const secret = (i: number) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'Secret',
  metadata: { name: `s-${String(i).padStart(5, '0')}` },
  stringData: { index: String(i), note: `object ${i} of the apply benchmark` },
});

const ready = (o: { status?: { conditions?: Parameters<typeof findCondition>[0] } }) => findCondition(o.status?.conditions, 'Ready')?.status === 'True';
const appliedCommit = (sha: string) => (s: GitSync) => !!s.status?.lastAppliedRevision?.endsWith(sha) && ready(s);

type Followed = 'gitrepository' | 'gitsync';
interface Seen<T> {
  object: T;
  /** performance.now() when the watch delivered it. */
  at: number;
}

/**
 * Watches of the namespace's GitRepositories and GitSyncs, from one list's version, that say when
 * an object first matched a test: `until` is asked before the action it times, and answers the
 * moment the watch delivered the first matching version (or the latest one, if it matches already).
 */
class Follower {
  private readonly latest = new Map<string, Seen<KubeObject>>();
  private readonly waiters = new Set<{ key: string; test: (o: KubeObject) => boolean; resolve: (s: Seen<KubeObject>) => void }>();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  /** Watch events (ADDED, MODIFIED, DELETED) per kind/name. */
  readonly writes = new Map<string, number>();
  failure: string | undefined;

  static async start(client: ShoalClient): Promise<Follower> {
    const f = new Follower();
    const { resourceVersion } = (await client.list('gitrepository', ns)).metadata;
    for (const kind of ['gitrepository', 'gitsync'] as const) f.loops.push(f.follow(client, kind, resourceVersion));
    return f;
  }

  private async follow(client: ShoalClient, kind: Followed, resourceVersion: string | undefined) {
    try {
      for await (const e of client.watch(kind, { ...ns, resourceVersion }, this.abort.signal)) {
        if (e.type === 'BOOKMARK' || e.type === 'ERROR') continue;
        const at = performance.now();
        const key = `${kind}/${e.object.metadata.name}`;
        this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
        const seen = { object: e.object, at };
        this.latest.set(key, seen);
        for (const w of this.waiters)
          if (w.key === key && w.test(e.object)) {
            this.waiters.delete(w);
            w.resolve(seen);
          }
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.failure = `watch of ${kind}s: ${(err as Error).message}`;
    }
  }

  get<T extends KubeObject>(kind: Followed, name: string): T | undefined {
    return this.latest.get(`${kind}/${name}`)?.object as T | undefined;
  }

  until<T extends KubeObject>(kind: Followed, name: string, test: (o: T) => boolean, what: string, timeoutMs = STEP_TIMEOUT_MS): Promise<Seen<T>> {
    const key = `${kind}/${name}`;
    const now = this.latest.get(key);
    if (now && test(now.object as T)) return Promise.resolve(now as Seen<T>);
    return new Promise((resolve, reject) => {
      const waiter = {
        key,
        test: test as (o: KubeObject) => boolean,
        resolve: (s: Seen<KubeObject>) => {
          clearTimeout(timer);
          resolve(s as Seen<T>);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`${kind} ${name}: ${what} not seen within ${timeoutMs} ms${this.failure ? ` (${this.failure})` : ''}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }
}

/** Every write to one kind in one namespace after `resourceVersion`, counted by a watch until stop(). */
function countWrites(client: ShoalClient, kind: string, namespace: string, resourceVersion: string | undefined) {
  const abort = new AbortController();
  const counts = { ADDED: 0, MODIFIED: 0, DELETED: 0 };
  const loop = (async () => {
    for await (const e of client.watch(kind, { namespace, resourceVersion }, abort.signal)) if (e.type in counts) counts[e.type as keyof typeof counts]++;
  })().catch(() => undefined);
  return {
    async stop() {
      abort.abort();
      await loop;
      return counts;
    },
  };
}

const round = (x: number, digits = 1) => roundTo(x, digits);
const dist = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return {
    p50Ms: round(percentile(sorted, 50)),
    p95Ms: round(percentile(sorted, 95)),
    minMs: round(sorted[0] ?? NaN),
    maxMs: round(sorted.at(-1) ?? NaN),
    samples: xs.map((x) => round(x)),
  };
};
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** CPU seconds of the cluster's processes and this one, read around a phase. */
function cpuMeter(cluster: TestCluster) {
  const pids = { etcd: cluster.etcd.pid, apiserver: cluster.apiserver.pid, controllerManager: cluster.controllerManager!.pid, bench: process.pid };
  const read = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)]));
  const start = read();
  const started = performance.now();
  return () => {
    const end = read();
    const wall = (performance.now() - started) / 1000;
    return {
      wallSeconds: round(wall, 2),
      cpuSeconds: Object.fromEntries(Object.keys(pids).map((k) => [k, round(end[k]! - start[k]!, 2)])),
      averageCores: Object.fromEntries(Object.keys(pids).map((k) => [k, round((end[k]! - start[k]!) / wall, 2)])),
    };
  };
}

interface PushTimeline {
  /** Each from the webhook call (ms): its 202 received; the watch delivering the annotation the apiserver wrote; the artifact of the commit; the GitSync applied and Ready. */
  webhookAccepted: number;
  annotationSeen: number;
  artifactUpdated: number;
  gitSyncApplied: number;
}

/** One git process the controller-manager ran, from its GIT_TRACE2_EVENT file: its command and when it ran (ms since the epoch). */
interface GitProcess {
  command: string;
  /** Started by another git process (fetch's unpack-objects, rev-list, maintenance): its time is within its parent's. */
  nested: boolean;
  start: number;
  end: number;
}

/**
 * The git processes the controllers ran, read from the directory GIT_TRACE2_EVENT names (git
 * writes one file per process there: its `start` event carries the wall-clock time, `cmd_name`
 * the command, `atexit` its duration). The controller-manager's children inherit the variable.
 */
async function gitProcesses(traceDir: string): Promise<GitProcess[]> {
  const out: GitProcess[] = [];
  for (const file of await readdir(traceDir)) {
    let start: number | undefined;
    let command: string | undefined;
    let endAbs: number | undefined;
    let nested = false;
    for (const line of (await readFile(join(traceDir, file), 'utf8')).split('\n')) {
      if (!line) continue;
      let e: { event?: string; sid?: string; time?: string; t_abs?: number; name?: string };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue;
      }
      if (e.event === 'start' && e.time) {
        start = Date.parse(e.time) - (e.t_abs ?? 0) * 1000;
        nested = e.sid?.includes('/') ?? false;
      }
      if (e.event === 'cmd_name' && !command) command = e.name;
      if (e.event === 'atexit' && e.t_abs !== undefined) endAbs = e.t_abs;
    }
    if (start !== undefined && endAbs !== undefined) out.push({ command: command ?? 'git', nested, start, end: start + endAbs * 1000 });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** performance.now() as ms since the epoch, to set beside git's wall-clock times. */
const epochMs = (at: number) => performance.timeOrigin + at;

async function webhookPhase(cluster: TestCluster, root: string, served: string, port: number, pushes: number, traceDir: string) {
  const { client } = cluster;
  const remote = await makeRemote(root, served, 'hooked');
  const url = `git://127.0.0.1:${port}/hooked.git`;
  await remote.commit({ 'vms/pushed.yaml': stringify(pushedVm('pushed', 0)) }, 'the VM the webhook pushes change');
  await client.create('secret', { metadata: { name: 'hook', ...ns }, type: 'shoal.dev/webhook-token', stringData: { token: WEBHOOK_TOKEN } });
  const follower = await Follower.start(client);
  try {
    await client.create('gitrepository', {
      metadata: { name: 'hooked', ...ns },
      spec: { url, ref: { branch: 'main' }, interval: '1h', webhookSecretRef: { name: 'hook' } },
    });
    await client.create('gitsync', { metadata: { name: 'hooked', ...ns }, spec: { sourceRef: { name: 'hooked' }, path: './vms', interval: '1h' } });
    await follower.until<GitSync>('gitsync', 'hooked', ready, 'Ready');

    // The baselines' own repository: it holds the commit before each push, as the controllers' cache does.
    const scratch = join(root, 'scratch.git');
    await execa('git', ['init', '--quiet', '--bare', scratch]);
    await execa('git', ['-C', scratch, 'fetch', '--quiet', '--depth', '1', '--no-tags', '--', url, 'refs/heads/main']);
    await client.create('namespace', { metadata: { name: 'bench-baseline' } });

    const webhookUrl = `${cluster.url}${gitRepositoryWebhookPath(NAMESPACE, 'hooked')}`;
    let lastCall = 0;
    /** The call that was accepted: when it was sent (performance.now()) and answered. */
    const callWebhook = async (): Promise<{ sent: number; accepted: number; limited: number }> => {
      for (let limited = 0; ; limited++) {
        const wait = lastCall + WEBHOOK_SPACING_MS - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const sent = performance.now();
        lastCall = sent;
        const res = await request(webhookUrl, {
          method: 'POST',
          headers: { authorization: `Bearer ${WEBHOOK_TOKEN}`, 'content-type': 'application/json' },
          body: '{"ref":"refs/heads/main"}',
        });
        const body = await res.body.text();
        const accepted = performance.now();
        if (res.statusCode === 202) return { sent, accepted, limited };
        if (res.statusCode !== 429) throw new Error(`webhook answered ${res.statusCode}: ${body}`);
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers['retry-after'] ?? 1)));
      }
    };

    const windows: { from: number; to: number }[] = [];
    const latencies: number[] = [];
    const timelines: PushTimeline[] = [];
    const gitLsRemote: number[] = [];
    const gitFetch: number[] = [];
    const gitBoth: number[] = [];
    const gitProcess: number[] = [];
    const apply: number[] = [];
    let rateLimited = 0;
    const cpu = cpuMeter(cluster);
    for (let i = 1; i <= pushes; i++) {
      const sha = await remote.commit({ 'vms/pushed.yaml': stringify(pushedVm('pushed', i)) }, `push ${i}`);
      const before = follower.get<GitRepository>('gitrepository', 'hooked')?.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
      const annotated = follower.until<GitRepository>(
        'gitrepository',
        'hooked',
        (r) => r.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION] !== before,
        'the webhook annotation',
      );
      const fetched = follower.until<GitRepository>('gitrepository', 'hooked', (r) => r.status?.artifact?.commit === sha, `artifact ${sha.slice(0, 8)}`);
      const applied = follower.until<GitSync>('gitsync', 'hooked', appliedCommit(sha), `applied ${sha.slice(0, 8)} and Ready`);
      const call = await callWebhook();
      rateLimited += call.limited;
      const [a, f, s] = await Promise.all([annotated, fetched, applied]);
      const since = (at: number) => round(at - call.sent);
      latencies.push(s.at - call.sent);
      windows.push({ from: epochMs(call.sent), to: epochMs(s.at) });
      timelines.push({ webhookAccepted: since(call.accepted), annotationSeen: since(a.at), artifactUpdated: since(f.at), gitSyncApplied: since(s.at) });

      // The baselines, right after: the fetch the gitrepository controller makes (resolve the
      // branch, fetch its commit shallow), one git process, and one server-side apply of a VM.
      let t = performance.now();
      await execa('git', ['ls-remote', '--', url, 'refs/heads/main'], { cwd: root });
      const lsRemoteDone = performance.now();
      await execa('git', ['-C', scratch, 'fetch', '--quiet', '--depth', '1', '--no-tags', '--', url, 'refs/heads/main']);
      const fetchDone = performance.now();
      gitLsRemote.push(lsRemoteDone - t);
      gitFetch.push(fetchDone - lsRemoteDone);
      gitBoth.push(fetchDone - t);
      t = performance.now();
      await execa('git', ['-C', scratch, 'rev-parse', '--verify', '--quiet', '--end-of-options', 'FETCH_HEAD^{commit}']);
      gitProcess.push(performance.now() - t);
      t = performance.now();
      await serverSideApply(client, pushedVm('baseline', i), { fieldManager: GITOPS_FIELD_MANAGER, force: true, namespace: 'bench-baseline' });
      apply.push(performance.now() - t);
      log(
        `push ${i}/${pushes}: webhook → applied ${Math.round(latencies.at(-1)!)} ms ${JSON.stringify(timelines.at(-1))}; ` +
          `git ls-remote + fetch ${Math.round(gitBoth.at(-1)!)} ms, one apply ${Math.round(apply.at(-1)!)} ms`,
      );
    }
    const cpuFigures = cpu();

    // The controllers' git processes during each push (call → applied), one after the other in the sync's path.
    const traced = await gitProcesses(traceDir);
    const perPushGit = windows.map(({ from, to }) => {
      const inWindow = traced.filter((g) => !g.nested && g.start >= from && g.start <= to);
      const byCommand: Record<string, { count: number; ms: number }> = {};
      for (const g of inWindow) {
        const c = (byCommand[g.command] ??= { count: 0, ms: 0 });
        c.count++;
        c.ms += g.end - g.start;
      }
      for (const c of Object.values(byCommand)) c.ms = round(c.ms);
      return { processes: inWindow.length, ms: inWindow.reduce((a, g) => a + (g.end - g.start), 0), byCommand };
    });

    const latency = dist(latencies);
    const step = (k: keyof PushTimeline) => timelines.map((x) => x[k]);
    const medians = {
      webhookAccepted: round(median(step('webhookAccepted'))),
      annotationSeen: round(median(step('annotationSeen'))),
      artifactUpdated: round(median(step('artifactUpdated'))),
      gitSyncApplied: round(median(step('gitSyncApplied'))),
    };
    const stepsMs = {
      webhookCallToAnnotationSeen: dist(timelines.map((x) => x.annotationSeen)),
      annotationSeenToArtifact: dist(timelines.map((x) => x.artifactUpdated - x.annotationSeen)),
      artifactToApplied: dist(timelines.map((x) => x.gitSyncApplied - x.artifactUpdated)),
    };
    const gitMs = median(gitBoth);
    const applyMs = median(apply);
    const p50 = latency.p50Ms;
    const typical = [...timelines].sort((a, b) => a.gitSyncApplied - b.gitSyncApplied)[Math.ceil(timelines.length / 2) - 1]!;
    return {
      setup: {
        repository: `a bare repository served by git daemon (${url}), which nothing watches; GitRepository interval 1h with webhookSecretRef, so the webhook alone tells of a push`,
        manifest: 'one VirtualMachine (runStrategy Halted; spec.resources.memoryMiB changed by every commit), applied by a GitSync of path ./vms',
        pushes,
        spacing: `webhook calls at least ${WEBHOOK_SPACING_MS} ms apart (the apiserver allows one address 10 calls to one repository at once, then one a second)`,
        rateLimitedCalls: rateLimited,
      },
      latencyMs: latency,
      latencyDefinition:
        "the webhook POST sent → the GitSync's status.lastAppliedRevision ends with the pushed commit and Ready is True, as a watch of GitSyncs delivered it (the commit and push come before, untimed)",
      aim: {
        value: latency.p95Ms,
        aim: 1000,
        met: latency.p95Ms < 1000,
        definition: 'p95 of webhook → applied, ms; the issue: "a push through the webhook syncs within a second"',
      },
      timeline: {
        note: "ms from the webhook call, per push, from watches of the GitRepository and the GitSync: the 202 received; the annotation the apiserver wrote seen (the gitrepository controller's cue); the GitRepository's status.artifact naming the commit (fetched); the GitSync applied and Ready",
        medianMs: medians,
        onePush: typical,
        stepsMs,
        perPush: timelines,
      },
      baselines: {
        gitLsRemoteMs: dist(gitLsRemote),
        gitFetchDepth1Ms: dist(gitFetch),
        gitLsRemotePlusFetchMs: dist(gitBoth),
        oneGitProcessMs: dist(gitProcess),
        serverSideApplyOneVmMs: dist(apply),
        note: 'after each push: git ls-remote of the branch, then git fetch --depth 1 of it into a bare repository holding the commit before (what the fetch itself costs); one git rev-parse (a git process: the controllers run about a dozen per push: ls-remote, fetch, rev-parse, update-ref, log, for-each-ref; read-tree, checkout-index for the files); one server-side apply of such a VM through the client, field manager gitops, forced (a get, then the apply patch)',
      },
      shares: {
        definition:
          'of the median latency: git = median ls-remote + fetch; apply = 2 × the median server-side apply (the gitsync controller dry-runs the object, then applies it); the rest is the controllers and the API around them (watch deliveries, queues, the other git processes, the files checked out, the status writes)',
        latencyP50Ms: p50,
        gitMs: round(gitMs),
        applyMs: round(2 * applyMs),
        restMs: round(p50 - gitMs - 2 * applyMs),
        gitFraction: round(gitMs / p50, 2),
        applyFraction: round((2 * applyMs) / p50, 2),
        restFraction: round((p50 - gitMs - 2 * applyMs) / p50, 2),
        otherGitProcessesEstimateMs: round((median(perPushGit.map((g) => g.processes)) - 2) * median(gitProcess)),
        otherGitProcessesEstimateDefinition:
          "of the rest, an estimate: the controllers' git processes per push besides ls-remote and fetch (median count) × the median cost of one git process run from Node (oneGitProcessMs)",
      },
      controllersGit: {
        note: "the git processes the controller-manager ran between each webhook call and the sync applied (GIT_TRACE2_EVENT in its environment: one small JSON file per git process; those git itself started, as fetch starts unpack-objects, are within their parent's time and not counted), with git's own time of each (start to exit as git measures it: the fork and exec from Node and the wait for its output are not in it; oneGitProcessMs in the baselines is that whole cost of one). They run one after another on the push's path. byCommand: the median push's",
        processesPerPush: dist(perPushGit.map((g) => g.processes)).samples,
        msPerPush: dist(perPushGit.map((g) => g.ms)),
        fractionOfLatencyP50: round(median(perPushGit.map((g) => g.ms)) / p50, 2),
        byCommand: [...perPushGit].sort((a, b) => a.ms - b.ms)[Math.ceil(perPushGit.length / 2) - 1]?.byCommand,
      },
      writesDuringPhase: {
        gitRepository: follower.writes.get('gitrepository/hooked') ?? 0,
        gitSync: follower.writes.get('gitsync/hooked') ?? 0,
        note: 'watch events of each object from its creation to the end of the phase (its creation and first sync included)',
      },
      cpu: cpuFigures,
    };
  } finally {
    await follower.stop();
  }
}

async function applyPhase(cluster: TestCluster, root: string, served: string, port: number, objects: number, runs: number) {
  const { client } = cluster;
  const remote = await makeRemote(root, served, 'many');
  const manifests = Array.from({ length: objects }, (_, i) => secret(i));
  const files = Object.fromEntries(manifests.map((m) => [`secrets/${m.metadata.name}.yaml`, stringify(m)]));
  const sha = await remote.commit(files, `${objects} Secrets`);
  const follower = await Follower.start(client);
  try {
    await client.create('gitrepository', {
      metadata: { name: 'many', ...ns },
      spec: { url: `git://127.0.0.1:${port}/many.git`, ref: { branch: 'main' }, interval: '1h' },
    });
    await follower.until<GitRepository>('gitrepository', 'many', (r) => r.status?.artifact?.commit === sha, 'its artifact');

    const baseline: { dryRunMs: number; applyMs: number; noChange: { ms: number; writes: Record<string, number> } }[] = [];
    const synced: {
      ms: number;
      inventoryRecordedMs: number;
      applied: number;
      noChange: { ms: number; writes: Record<string, number>; gitSyncWrites: number };
      cpu: ReturnType<ReturnType<typeof cpuMeter>>;
    }[] = [];
    const baselineCpu: ReturnType<ReturnType<typeof cpuMeter>>[] = [];
    for (let r = 0; r < runs; r++) {
      // From this process: a dry-run pass, then the applies, then the same applies again (nothing to change).
      const direct = `bench-ssa-${r}`;
      await client.create('namespace', { metadata: { name: direct } });
      const each = (dryRun: boolean) => async () => {
        for (const m of manifests) await serverSideApply(client, m, { fieldManager: GITOPS_FIELD_MANAGER, force: true, namespace: direct, dryRun });
      };
      const timed = async (fn: () => Promise<void>) => {
        const t = performance.now();
        await fn();
        return performance.now() - t;
      };
      const meter = cpuMeter(cluster);
      const dryRunMs = await timed(each(true));
      const applyMs = await timed(each(false));
      baselineCpu.push(meter());
      const rvDirect = (await client.list('secret', { namespace: direct, limit: 1 })).metadata.resourceVersion;
      const directWrites = countWrites(client, 'secret', direct, rvDirect);
      const noChangeDirectMs = await timed(each(false));
      await new Promise((res) => setTimeout(res, QUIET_MS));
      baseline.push({ dryRunMs, applyMs, noChange: { ms: noChangeDirectMs, writes: await directWrites.stop() } });

      // Through a new GitSync: create → its inventory recorded (checked whole) → Ready.
      const target = `bench-sync-${r}`;
      const name = `many-${r}`;
      await client.create('namespace', { metadata: { name: target } });
      const recorded = follower.until<GitSync>('gitsync', name, (s) => (s.status?.inventory?.length ?? 0) > 0, 'its inventory recorded', APPLY_TIMEOUT_MS);
      const done = follower.until<GitSync>('gitsync', name, appliedCommit(sha), 'applied and Ready', APPLY_TIMEOUT_MS);
      const syncCpu = cpuMeter(cluster);
      const created = performance.now();
      await client.create('gitsync', {
        metadata: { name, ...ns },
        spec: { sourceRef: { name: 'many' }, path: './secrets', targetNamespace: target, interval: '1h' },
      });
      const [rec, fin] = await Promise.all([recorded, done]);
      const cpu = syncCpu();
      const applied = (await client.list('secret', { namespace: target })).items.length;

      // A pass with nothing to change, asked for as `shoalctl gitops reconcile` asks.
      const rvSync = (await client.list('secret', { namespace: target, limit: 1 })).metadata.resourceVersion;
      const syncWrites = countWrites(client, 'secret', target, rvSync);
      const gitSyncWritesBefore = follower.writes.get(`gitsync/${name}`) ?? 0;
      const requestedAt = new Date().toISOString();
      const answered = follower.until<GitSync>(
        'gitsync',
        name,
        (s) => s.status?.lastHandledReconcileAt === requestedAt && ready(s),
        'the reconcile request answered',
        APPLY_TIMEOUT_MS,
      );
      const asked = performance.now();
      await client.patch('gitsync', name, { metadata: { annotations: { [RECONCILE_REQUESTED_ANNOTATION]: requestedAt } } }, { type: 'merge', ...ns });
      const answer = await answered;
      await new Promise((res) => setTimeout(res, QUIET_MS));
      const writes = await syncWrites.stop();
      synced.push({
        ms: fin.at - created,
        inventoryRecordedMs: rec.at - created,
        applied,
        noChange: { ms: answer.at - asked, writes, gitSyncWrites: (follower.writes.get(`gitsync/${name}`) ?? 0) - gitSyncWritesBefore },
        cpu,
      });
      const [b, s] = [baseline.at(-1)!, synced.at(-1)!];
      log(
        `apply ${r + 1}/${runs}: ${objects} server-side applies from here ${Math.round(b.applyMs)} ms (dry-run pass ${Math.round(b.dryRunMs)} ms), ` +
          `a GitSync ${Math.round(s.ms)} ms (checked whole and inventory recorded at ${Math.round(s.inventoryRecordedMs)} ms, ${s.applied} Secrets); ` +
          `no change: from here ${Math.round(b.noChange.ms)} ms ${JSON.stringify(b.noChange.writes)}, GitSync ${Math.round(s.noChange.ms)} ms ${JSON.stringify(s.noChange.writes)}`,
      );
    }

    const perSecond = (ms: number[]) => ({
      perSecond: (objects * ms.length) / (ms.reduce((a, b) => a + b, 0) / 1000),
      perSlicePerSecond: ms.map((x) => objects / (x / 1000)),
    });
    const gitSyncRate = perSecond(synced.map((s) => s.ms));
    const applyRate = perSecond(baseline.map((b) => b.applyMs));
    const checkedRate = perSecond(baseline.map((b) => b.applyMs + b.dryRunMs));
    return {
      setup: {
        objects,
        runs,
        manifests: `${objects} Secrets (two stringData keys each), one file each under secrets/, in one commit of a repository served by git daemon; the GitRepository fetched before any GitSync is made`,
        order:
          'per run: the applies from this process (dry-run pass, apply pass, then the apply pass again with nothing to change), then a new GitSync into a fresh namespace, then a pass of it with nothing to change',
      },
      gitSync: {
        definition:
          'GitSync create request sent → a watch delivers it applied and Ready (the commit checked out of the cache, every object dry-run, the inventory recorded, every object applied, the status written)',
        ms: synced.map((s) => round(s.ms)),
        inventoryRecordedMs: synced.map((s) => round(s.inventoryRecordedMs)),
        objectsPerSecond: round(gitSyncRate.perSecond),
        objectsApplied: synced.map((s) => s.applied),
        cpu: synced.map((s) => s.cpu),
      },
      baseline: {
        definition: `the same ${objects} manifests server-side applied one after the other from this process with the same client (serverSideApply: a get, then the apply patch; field manager gitops, forced) into a fresh namespace; before that a pass of them all with dryRun, timed apart`,
        applyMs: baseline.map((b) => round(b.applyMs)),
        dryRunMs: baseline.map((b) => round(b.dryRunMs)),
        objectsPerSecond: round(applyRate.perSecond),
        objectsPerSecondWithDryRun: round(checkedRate.perSecond),
        cpu: baselineCpu,
      },
      ratios: {
        gitSyncOverServerSideApplies: ratio(
          gitSyncRate,
          applyRate,
          null,
          `objects/s of a new GitSync of ${objects} Secrets (create → Ready) ÷ objects/s of the same server-side applies made directly (perSlice: each run)`,
        ),
        gitSyncOverDryRunAndServerSideApplies: ratio(
          gitSyncRate,
          checkedRate,
          null,
          'the same, against the direct applies plus a dry-run pass of them all (the work the GitSync does besides git and its status)',
        ),
      },
      noChangePass: {
        definition:
          "a pass over the same objects with nothing to change: for the GitSync, the reconcile-requested-at annotation set (as shoalctl gitops reconcile does) → a watch delivers status.lastHandledReconcileAt answering it, Ready; from this process, the same applies again. Writes: every watch event of the namespace's Secrets from before the pass until 1 s after it answered (0: nothing written); gitSyncWrites: the GitSync's own, the annotation's write included",
        gitSync: synced.map((s) => ({ ms: round(s.noChange.ms), secretWrites: s.noChange.writes, gitSyncWrites: s.noChange.gitSyncWrites })),
        direct: baseline.map((b) => ({ ms: round(b.noChange.ms), secretWrites: b.noChange.writes })),
        gitSyncOverDirect: synced.map((s, i) => round(s.noChange.ms / baseline[i]!.noChange.ms, 2)),
      },
    };
  } finally {
    await follower.stop();
  }
}

async function main(): Promise<void> {
  const pushes = envInt('BENCH_GITOPS_PUSHES', 20);
  const objects = envInt('BENCH_GITOPS_OBJECTS', 500);
  const runs = envInt('BENCH_GITOPS_APPLY_RUNS', 2);
  const machine = describeMachine();
  const startedAt = new Date();
  const root = await mkdtemp(join(tmpdir(), 'shoal-bench-gitops-'));
  const served = join(root, 'served');
  const traceDir = join(root, 'git-trace2');
  let cluster: TestCluster | undefined;
  let daemon: ResultPromise | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      if (daemon) {
        daemon.kill('SIGTERM');
        await daemon.catch(() => undefined);
      }
      await cluster?.stop().catch((err: Error) => log(`stopping the cluster: ${err.message}`));
      await rm(root, { recursive: true, force: true });
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping every process this benchmark started`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    log(`gitops: ${pushes} pushes announced by webhook; ${runs} × ${objects} Secrets applied by a GitSync and directly`);
    await mkdir(served);
    await mkdir(traceDir);
    const port = await freePort();
    // git-daemon itself, not the `git daemon` wrapper: a wrapper killed hard leaves its git-daemon running.
    const execPath = (await execa('git', ['--exec-path'])).stdout.trim();
    daemon = execa(join(execPath, 'git-daemon'), ['--export-all', '--reuseaddr', '--listen=127.0.0.1', `--port=${port}`, `--base-path=${served}`, served], {
      reject: false,
      stdin: 'ignore',
    });
    cluster = await startCluster({
      controllerManager: {
        controllers: ['gitrepository', 'gitsync'],
        args: ['--gitops-cache-dir', join(root, 'cache')],
        env: { GIT_TRACE2_EVENT: traceDir },
      },
    });
    await execa('git', ['init', '--quiet', '--bare', join(served, 'probe.git')]);
    await waitFor(() => execa('git', ['ls-remote', `git://127.0.0.1:${port}/probe.git`], { reject: false }).then((r) => r.exitCode === 0 || undefined), {
      timeoutMs: 10_000,
      message: 'git daemon serving',
    });

    const webhook = await webhookPhase(cluster, root, served, port, pushes, traceDir);
    log(
      `webhook → applied: p50 ${webhook.latencyMs.p50Ms} ms, p95 ${webhook.latencyMs.p95Ms} ms, max ${webhook.latencyMs.maxMs} ms ` +
        `(aim p95 < 1000 ms: ${webhook.aim.met ? 'met' : 'not met'}); git ${webhook.shares.gitMs} ms, apply ${webhook.shares.applyMs} ms, rest ${webhook.shares.restMs} ms`,
    );
    const apply = await applyPhase(cluster, root, served, port, objects, runs);
    log(
      `apply: GitSync ${apply.gitSync.objectsPerSecond} objects/s, direct ${apply.baseline.objectsPerSecond} objects/s ` +
        `(ratio ${apply.ratios.gitSyncOverServerSideApplies.value}; with a dry-run pass ${apply.baseline.objectsPerSecondWithDryRun}/s, ratio ${apply.ratios.gitSyncOverDryRunAndServerSideApplies.value})`,
    );

    const results = {
      benchmark: 'gitops',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: machineAtEnd(machine),
      git: (await execa('git', ['--version'])).stdout.trim(),
      cluster:
        'one etcd member (--unsafe-no-fsync, as @shoal/testing starts it), one shoal-apiserver (no TLS, no authentication: every request allowed), one shoal-controller-manager running the gitrepository and gitsync controllers only, its --gitops-cache-dir in a temporary directory; no agent (VMs stay Pending)',
      webhook,
      apply,
    };
    const { file } = await writeResults('gitops', startedAt, results);
    console.log('');
    console.log(`Shoal GitOps benchmark — ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, ${results.git}`);
    console.log(
      `webhook → applied (${pushes} pushes): p50 ${webhook.latencyMs.p50Ms} ms, p95 ${webhook.latencyMs.p95Ms} ms, max ${webhook.latencyMs.maxMs} ms — aim p95 < 1000 ms: ${webhook.aim.met ? 'met' : 'not met'}`,
    );
    console.log(
      `  median timeline (ms from the call): accepted ${webhook.timeline.medianMs.webhookAccepted}, annotation seen ${webhook.timeline.medianMs.annotationSeen}, artifact ${webhook.timeline.medianMs.artifactUpdated}, applied ${webhook.timeline.medianMs.gitSyncApplied}`,
    );
    console.log(
      `  baselines (p50): git ls-remote + fetch --depth 1 ${webhook.baselines.gitLsRemotePlusFetchMs.p50Ms} ms, one git process ${webhook.baselines.oneGitProcessMs.p50Ms} ms, one server-side apply ${webhook.baselines.serverSideApplyOneVmMs.p50Ms} ms`,
    );
    console.log(
      `  the controllers' git processes per push: ${webhook.controllersGit.processesPerPush.join(', ')}, p50 ${webhook.controllersGit.msPerPush.p50Ms} ms (${webhook.controllersGit.fractionOfLatencyP50} of the p50 latency)`,
    );
    console.log(
      `apply ${objects} objects: GitSync ${apply.gitSync.objectsPerSecond}/s, direct server-side applies ${apply.baseline.objectsPerSecond}/s, ratio ${apply.ratios.gitSyncOverServerSideApplies.value} (with a dry-run pass ${apply.ratios.gitSyncOverDryRunAndServerSideApplies.value})`,
    );
    for (const [i, p] of apply.noChangePass.gitSync.entries())
      console.log(
        `  no-change pass ${i + 1}: GitSync ${p.ms} ms, Secret writes ${JSON.stringify(p.secretWrites)}, its own status writes ${p.gitSyncWrites}; direct ${apply.noChangePass.direct[i]!.ms} ms, writes ${JSON.stringify(apply.noChangePass.direct[i]!.secretWrites)}`,
      );
    log(`→ ${file}`);
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
