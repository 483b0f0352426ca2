/**
 * The invariants checked throughout, once a second (SAMPLE_INTERVAL_MS), from the ground truth:
 *
 *   never twice      no VM uid has two QEMU processes that may be running (QMP says running, or
 *                    does not answer) at one time, on any hosts (/proc + QMP, vm-truth.ts). Also
 *                    between samples: /proc alone is scanned every SCAN_INTERVAL_MS, and any uid
 *                    found in two processes is asked over QMP at once, so an overlap much
 *                    shorter than a second is still caught
 *   fenced in time   no QEMU process lives on a host whose agent's heartbeat file (touched on
 *                    each successful lease renewal; vm-supervisor.sh's dead man's switch) is older
 *                    than the fence timeout + FENCE_SLACK_MS: the agent fences itself while cut off
 *                    or frozen, before the health controller moves its VMs (lease + fence). Checked
 *                    at every /proc scan
 *   processes up     every process of the cluster that the soak did not kill is alive (a frozen
 *                    agent is alive), and its RSS stays under its role's bound
 *   convergence      each VM's clock (convergence.ts) stops at the first sample that finds it in
 *                    its declared state
 *
 * A sample reads the API only from the soak's informer (no request per sample), so it keeps
 * sampling while apiservers are down.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { VirtualMachine } from '@shoal/api';
import { processAlive } from '@shoal/testing';
import type { Informer } from '@shoal/client';
import type { SoakCluster } from './cluster.js';
import { notConverged, type ConvergenceTracker } from './convergence.js';
import type { Ledger } from './ledger.js';
import type { ProcessRole } from './managed-process.js';
import { AGENT_FENCE_SECONDS } from './timing.js';
import { mayBeRunning, qmpStatusOf, readVmTruth, scanProcesses, truthOf, withQmpStatus, type QemuProcess, type VmTruth } from './vm-truth.js';

/**
 * How late a fence may be: the supervisor looks at the heartbeat once a second and gives QEMU
 * 1 s after SIGTERM before SIGKILL (vm-supervisor.sh), plus a second for a busy machine.
 */
export const FENCE_SLACK_MS = 3_000;
export const SAMPLE_INTERVAL_MS = 1_000;
export const SCAN_INTERVAL_MS = 250;

/**
 * Resident memory bounds, per role. Measured peaks in the soak's runs were well under half of
 * these (report: processes.peakRssMiB); a process past its bound is leaking or holding far more
 * than this small cluster justifies.
 */
export const RSS_BOUND_MIB: Record<ProcessRole, number> = { etcd: 300, apiserver: 400, 'controller-manager': 300, agent: 300 };

export interface TwiceViolation {
  atMs: number;
  uid: string;
  vm: string | undefined;
  copies: { pid: number; node: string | undefined; status: string }[];
}

export interface LateFence {
  atMs: number;
  node: string;
  uid: string;
  pid: number;
  /** How old the node's heartbeat was, with the QEMU still there. */
  heartbeatAgeMs: number;
}

export interface MemoryViolation {
  process: string;
  atMs: number;
  rssMiB: number;
  boundMiB: number;
}

export interface SamplerOptions {
  runDir: string;
  cluster: SoakCluster;
  vms: Informer<VirtualMachine>;
  ledger: Ledger;
  tracker: ConvergenceTracker;
  names: string[];
  now: () => number;
  log: (line: string) => void;
}

export class Sampler {
  samples = 0;
  /** /proc scans, full samples included. */
  scans = 0;
  /** Per-uid checks of the never-twice invariant (one per VM with a process, per sample). */
  twiceChecks = 0;
  processChecks = 0;
  readonly twice: TwiceViolation[] = [];
  readonly memory: MemoryViolation[] = [];
  readonly lateFences: LateFence[] = [];
  fenceChecks = 0;
  /** The most QEMU processes of one uid seen at once, whatever their state (for the report). */
  maxCopiesSeen = 0;
  last?: VmTruth;
  /** Why each VM was not converged at the last sample (absent: it was). */
  readonly reasons = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly dataDirNodes: Map<string, string>;

  constructor(private readonly o: SamplerOptions) {
    this.dataDirNodes = new Map([...o.cluster.dataDirs].map(([node, dir]) => [dir, node]));
  }

  /** Quick /proc scans, a full sample whenever SAMPLE_INTERVAL_MS has passed since the last. */
  start(): void {
    let lastFull = -Infinity;
    const tick = () => {
      const began = Date.now();
      const full = began - lastFull >= SAMPLE_INTERVAL_MS;
      if (full) lastFull = began;
      this.running = (full ? this.sample() : this.quickScan())
        .catch((err) => this.o.log(`sample failed: ${(err as Error).message}`))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, Math.max(0, SCAN_INTERVAL_MS - (Date.now() - began)));
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Reads the ground truth (also used by the final checks). */
  truth(): Promise<VmTruth> {
    return readVmTruth(this.o.runDir, this.dataDirNodes, this.o.now());
  }

  /** Names of VMs not converged at the last sample. */
  unconverged(): string[] {
    return [...this.reasons.keys()];
  }

  /** /proc only; QMP only for uids seen in more than one process. */
  async quickScan(): Promise<void> {
    const { qemus, supervisors } = await scanProcesses(this.o.runDir, this.dataDirNodes);
    const counts = new Map<string, number>();
    for (const q of qemus) counts.set(q.uid, (counts.get(q.uid) ?? 0) + 1);
    const twice = qemus.filter((q) => counts.get(q.uid)! > 1);
    this.scans++;
    await this.checkFences(qemus);
    // Each uid in one process is a check passed here; those in several are checked with QMP below.
    this.twiceChecks += [...counts.values()].filter((n) => n === 1).length;
    if (twice.length) await this.checkTwice(truthOf(await withQmpStatus(twice), supervisors, this.o.now()));
  }

  async sample(): Promise<void> {
    const truth = await this.truth();
    const at = truth.atMs;
    this.samples++;
    this.scans++;
    this.last = truth;
    await this.checkTwice(truth);
    await this.checkFences(truth.qemus);
    for (const p of this.o.cluster.processes) {
      this.processChecks++;
      if (!p.downOnPurpose) p.noticeIfDead();
      const rss = await p.sampleRss();
      const bound = RSS_BOUND_MIB[p.role];
      if (rss !== undefined && rss > bound && !this.memory.some((m) => m.process === p.name)) {
        this.memory.push({ process: p.name, atMs: at, rssMiB: rss, boundMiB: bound });
        this.o.log(`MEMORY BOUND EXCEEDED: ${p.name} RSS ${rss} MiB > ${bound} MiB`);
      }
    }
    for (const name of this.o.names) {
      const vm = this.o.vms.get(`default/${name}`);
      const pastUids = [...this.o.ledger.uidsOf(name), ...(vm ? [vm.metadata.uid!] : [])];
      const why = notConverged(vm, pastUids, truth);
      if (why === undefined) {
        this.reasons.delete(name);
        this.o.tracker.converged(name, vm, at);
      } else this.reasons.set(name, why);
    }
  }

  private async checkFences(qemus: readonly { pid: number; uid: string; node: string | undefined }[]): Promise<void> {
    const bound = AGENT_FENCE_SECONDS * 1000 + FENCE_SLACK_MS;
    const heartbeats = new Map<string, number | undefined>();
    for (const [node, dir] of this.o.cluster.dataDirs) heartbeats.set(node, (await stat(join(dir, 'heartbeat')).catch(() => undefined))?.mtimeMs);
    const wallNow = Date.now();
    for (const q of qemus) {
      if (!q.node) continue;
      this.fenceChecks++;
      const renewed = heartbeats.get(q.node);
      const age = renewed === undefined ? Infinity : wallNow - renewed;
      // Still there? A QEMU that exited since the scan is not late.
      if (age <= bound || !processAlive(q.pid)) continue;
      if (this.lateFences.some((f) => f.pid === q.pid)) continue;
      const f: LateFence = { atMs: this.o.now(), node: q.node, uid: q.uid, pid: q.pid, heartbeatAgeMs: Math.round(age) };
      this.lateFences.push(f);
      this.o.log(
        `LATE FENCE at soak +${(f.atMs / 1000).toFixed(1)}s: QEMU ${q.pid} (${q.uid}) still runs on ${q.node}, whose heartbeat is ${f.heartbeatAgeMs} ms old`,
      );
    }
  }

  private async checkTwice(truth: VmTruth): Promise<void> {
    const at = truth.atMs;
    const nameOf = new Map(this.o.vms.list().map((vm) => [vm.metadata.uid!, vm.metadata.name!]));
    for (const [uid, copies] of truth.byUid) {
      this.twiceChecks++;
      this.maxCopiesSeen = Math.max(this.maxCopiesSeen, copies.length);
      if (copies.filter(mayBeRunning).length < 2) continue;
      const live = await stillTwice(copies.filter(mayBeRunning));
      if (live) {
        const v: TwiceViolation = { atMs: at, uid, vm: nameOf.get(uid), copies: live.map((q) => ({ pid: q.pid, node: q.node, status: q.status })) };
        this.twice.push(v);
        this.o.log(`NEVER-TWICE VIOLATED at soak +${(at / 1000).toFixed(1)}s: ${v.vm ?? uid} runs ${live.length} times: ${JSON.stringify(v.copies)}`);
      }
    }
  }
}

/** How long a confirming QMP query may take: longer than a sample's, so a busy QEMU is not taken for a running one. */
const CONFIRM_TIMEOUT_MS = 3_000;
/**
 * How long a copy that does not answer is asked again before it counts as running: a QEMU just
 * started on a loaded host (a migration's target, paused) can take seconds to serve its monitor,
 * and no answer is only "may be running".
 */
const NO_ANSWER_PATIENCE_MS = 15_000;

/**
 * Two or more copies that answered "running" (or nothing) to queries sent at once: asked again,
 * one after the other and the first again at the end, so the answers are ordered in time. The
 * copies ran together if every one still may run, the first both before and after the others
 * said so. Needed because queries sent at once are answered at different moments: a live
 * migration's source can say `running` just before its switchover and the target `running` just
 * after. Answers the copies as confirmed, or undefined.
 */
async function stillTwice(live: readonly QemuProcess[]): Promise<QemuProcess[] | undefined> {
  const confirmed: QemuProcess[] = [];
  for (const q of [...live, live[0]!]) {
    const now = await answerOf(q);
    if (!mayBeRunning(now)) return undefined;
    confirmed.push(now);
  }
  return confirmed.slice(0, live.length);
}

/** The copy's status, asked again while it gives no answer, for NO_ANSWER_PATIENCE_MS at most. */
async function answerOf(q: QemuProcess): Promise<QemuProcess> {
  const deadline = Date.now() + NO_ANSWER_PATIENCE_MS;
  for (;;) {
    const now = await qmpStatusOf(q, CONFIRM_TIMEOUT_MS);
    if (now.status !== 'no-answer' || Date.now() >= deadline) return now;
  }
}
