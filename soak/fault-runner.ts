/**
 * Carries the schedule out against the real cluster: at each fault's offset it is injected, and
 * after its duration healed. Each fault runs on its own; a fault whose target is still recovering
 * from the previous one (a restart under way) waits for it, and one that would take its role over
 * the limit because a recovery is late waits too (up to INJECT_WAIT_MS, else it is skipped and
 * the report says so) — the limits are what keeps the cluster able to converge.
 *
 *   kill-restart, etcd-member-down   SIGKILL, wait for the exit; heal = start it again, with its
 *                                    data and flags, retried until it is ready (RESTART_DEADLINE_MS)
 *   agent-freeze                     SIGSTOP; heal = SIGCONT
 *   partition-link / -nftables       see topology.ts; heal = link up / table deleted. Both are
 *                                    checked from inside the host: no apiserver port answers
 *                                    while it lasts, one does again once it is healed
 */
import type { SoakCluster } from './cluster.js';
import { delay } from './delay.js';
import type { ManagedProcess } from './managed-process.js';
import { ROLE_LIMITS, type FaultKind, type PlannedFault } from './schedule.js';
import type { Host, PartitionKind, Topology } from './topology.js';

const INJECT_WAIT_MS = 60_000;
const RESTART_DEADLINE_MS = 90_000;
const RESTART_RETRY_MS = 2_000;
/** A healed partition must let the host reach an apiserver within this long. */
const HEAL_CHECK_MS = 15_000;

export interface FaultRecord {
  id: number;
  kind: FaultKind;
  target: string;
  plannedStartMs: number;
  plannedEndMs: number;
  injectedAtMs?: number;
  healedAtMs?: number;
  /** Why it was not injected (its role stayed at the limit), or what failed. */
  skipped?: string;
  error?: string;
  /** Failed attempts to start a killed process again, before one succeeded (or the deadline passed). */
  restartFailures?: string[];
}

export interface FaultRunnerOptions {
  cluster: SoakCluster;
  topology: Topology;
  /** Milliseconds since the chaos phase began. */
  now: () => number;
  log: (line: string) => void;
  /** Called when a fault is over (healed): the convergence clock of its VMs starts. */
  onHealed: (record: FaultRecord) => void;
  signal: AbortSignal;
}

export class FaultRunner {
  readonly records: FaultRecord[] = [];
  /** Targets injected and not yet healed (restarted, thawed, reconnected). */
  private readonly impaired = new Set<string>();
  private readonly busy = new Map<string, Promise<void>>();

  constructor(private readonly o: FaultRunnerOptions) {}

  /** Runs the whole schedule; resolves when every fault has been healed (or skipped). */
  async run(schedule: readonly PlannedFault[]): Promise<void> {
    await Promise.all(
      schedule.map(async (f) => {
        await delay(f.startMs - this.o.now(), this.o.signal);
        // One fault at a time per target: wait for the previous one's recovery.
        const before = this.busy.get(f.target) ?? Promise.resolve();
        const mine = before.then(() => this.runOne(f));
        this.busy.set(f.target, mine);
        await mine;
      }),
    );
  }

  private async runOne(f: PlannedFault): Promise<void> {
    const record: FaultRecord = { id: f.id, kind: f.kind, target: f.target, plannedStartMs: f.startMs, plannedEndMs: f.endMs };
    this.records.push(record);
    if (this.o.signal.aborted) {
      record.skipped = 'the soak was aborted';
      return;
    }
    const process = this.o.cluster.process(f.target);
    const waitUntil = this.o.now() + INJECT_WAIT_MS;
    while (this.impairedOfRole(process.role) >= ROLE_LIMITS[process.role]) {
      if (this.o.now() > waitUntil || this.o.signal.aborted) {
        record.skipped = `${process.role} stayed at its limit of ${ROLE_LIMITS[process.role]} impaired for ${INJECT_WAIT_MS} ms`;
        this.o.log(`fault #${f.id} ${f.kind} ${f.target}: skipped (${record.skipped})`);
        return;
      }
      await delay(250, this.o.signal);
    }
    this.impaired.add(f.target);
    try {
      record.injectedAtMs = Math.round(this.o.now());
      await this.inject(f.kind, process);
      this.o.log(`fault #${f.id} ${f.kind} ${f.target}: injected at +${(record.injectedAtMs / 1000).toFixed(1)}s`);
      await delay(f.endMs - f.startMs, this.o.signal);
      await this.heal(f.kind, process, record);
      record.healedAtMs = Math.round(this.o.now());
      this.o.log(`fault #${f.id} ${f.kind} ${f.target}: healed at +${(record.healedAtMs / 1000).toFixed(1)}s`);
      this.o.onHealed(record);
    } catch (err) {
      record.error = (err as Error).message;
      this.o.log(`fault #${f.id} ${f.kind} ${f.target}: FAILED: ${record.error}`);
    } finally {
      this.impaired.delete(f.target);
    }
  }

  private impairedOfRole(role: ManagedProcess['role']): number {
    return [...this.impaired].filter((name) => this.o.cluster.process(name).role === role).length;
  }

  private host(process: ManagedProcess): Host {
    const host = this.o.topology.hosts.find((h) => process.name === `agent-${h.nodeName}`);
    if (!host) throw new Error(`${process.name} is not an agent: it has no host to partition`);
    return host;
  }

  private async inject(kind: FaultKind, process: ManagedProcess): Promise<void> {
    switch (kind) {
      case 'kill-restart':
      case 'etcd-member-down':
        return process.kill();
      case 'agent-freeze':
        return process.freeze();
      case 'partition-link':
      case 'partition-nftables':
        return this.partition(this.host(process), kind === 'partition-link' ? 'link' : 'nftables');
    }
  }

  /** A partition that lets the agent through is no fault: checked from inside the host, on every apiserver port. */
  private async partition(host: Host, kind: PartitionKind): Promise<void> {
    const { topology, cluster } = this.o;
    await topology.partition(host, kind, cluster.apiserverPorts);
    for (const port of cluster.apiserverPorts)
      if (await topology.canReach(host, port)) throw new Error(`the ${kind} partition of ${host.nodeName} did not cut it off: port ${port} still answers`);
  }

  /** A healed host reaches an apiserver again (one may be down meanwhile, by another fault). */
  private async reconnect(host: Host, kind: PartitionKind): Promise<void> {
    const { topology, cluster } = this.o;
    await topology.heal(host, kind);
    const until = this.o.now() + HEAL_CHECK_MS;
    for (;;) {
      for (const port of cluster.apiserverPorts) if (await topology.canReach(host, port)) return;
      if (this.o.now() > until) throw new Error(`${host.nodeName} reaches no apiserver ${HEAL_CHECK_MS} ms after its ${kind} partition was healed`);
      await delay(250, this.o.signal);
    }
  }

  private async heal(kind: FaultKind, process: ManagedProcess, record: FaultRecord): Promise<void> {
    switch (kind) {
      case 'kill-restart':
      case 'etcd-member-down':
        return this.restart(process, record);
      case 'agent-freeze':
        return process.thaw();
      case 'partition-link':
      case 'partition-nftables':
        return this.reconnect(this.host(process), kind === 'partition-link' ? 'link' : 'nftables');
    }
  }

  /** Starts a killed process again until it is ready; a failure to, by the deadline, is a finding. */
  private async restart(process: ManagedProcess, record: FaultRecord): Promise<void> {
    const deadline = this.o.now() + RESTART_DEADLINE_MS;
    for (;;) {
      try {
        await process.start();
        return;
      } catch (err) {
        const message = (err as Error).message.split('\n')[0]!;
        (record.restartFailures ??= []).push(message);
        this.o.log(`fault #${record.id}: restarting ${process.name} failed: ${message}`);
        if (this.o.now() > deadline) throw new Error(`${process.name} could not be started again within ${RESTART_DEADLINE_MS} ms: ${message}`);
        // A wait between attempts, not a synchronisation: whatever kept it from starting may pass.
        await new Promise((r) => setTimeout(r, RESTART_RETRY_MS));
      }
    }
  }
}
