/**
 * One process of the soak's cluster across its incarnations: the faults kill it (SIGKILL) and
 * start it again, freeze it (SIGSTOP) and thaw it (SIGCONT); the samplers ask whether it is up
 * and how much memory it holds. What the soak did to it is recorded here, so "every process
 * that was not killed is still up" can be told apart from "this one we killed ourselves":
 *
 *   downOnPurpose   killed by a fault and not restarted yet (or an etcd member taken down)
 *   unexpectedExits an incarnation that exited while nobody had killed it: a crash, a finding
 */
import { readFile } from 'node:fs/promises';
import { processAlive } from '@shoal/testing';

export type ProcessRole = 'etcd' | 'apiserver' | 'controller-manager' | 'agent';

/** What starting a process gives back: enough to signal it, see it exit, and read what it printed. */
export interface Incarnation {
  pid: number;
  /** Resolves when it exits (never, for a process that outlives the soak's interest). */
  exited: Promise<unknown>;
  output(): string;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit (teardown). */
  stop(): Promise<void>;
}

export interface UnexpectedExit {
  process: string;
  incarnation: number;
  pid: number;
  atMs: number;
  /** The end of what it printed: why it died, usually. */
  outputTail: string;
}

/** Resident memory of a process in MiB (VmRSS), or undefined when it is gone. */
export async function rssMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kib = status && /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kib ? Math.round(Number(kib) / 102.4) / 10 : undefined;
}

export class ManagedProcess {
  incarnation = 0;
  current?: Incarnation;
  downOnPurpose = false;
  frozen = false;
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Every incarnation's output, for the logs written with the report. */
  readonly outputs: { incarnation: number; pid: number; output: () => string }[] = [];
  peakRssMiB = 0;
  private killing = false;

  constructor(
    readonly name: string,
    readonly role: ProcessRole,
    private readonly launch: () => Promise<Incarnation>,
    /** Milliseconds since the soak began, for the records. */
    private readonly clock: () => number,
  ) {}

  get pid(): number | undefined {
    return this.current?.pid;
  }

  /** Starts a new incarnation (the first, or after a kill). */
  async start(): Promise<void> {
    const inc = await this.launch();
    const n = ++this.incarnation;
    this.current = inc;
    this.downOnPurpose = false;
    this.frozen = false;
    this.outputs.push({ incarnation: n, pid: inc.pid, output: inc.output });
    void inc.exited.then(() => {
      if (this.current === inc && !this.killing) this.recordExit(inc, n);
    });
  }

  private recordExit(inc: Incarnation, n: number): void {
    if (this.unexpectedExits.some((e) => e.pid === inc.pid)) return;
    this.unexpectedExits.push({ process: this.name, incarnation: n, pid: inc.pid, atMs: this.clock(), outputTail: inc.output().slice(-4000) });
  }

  /** Records a crash that no exit promise reports (etcd's): the current incarnation gone while nobody killed it. */
  noticeIfDead(): void {
    if (this.current && !this.killing && !this.downOnPurpose && !processAlive(this.current.pid)) this.recordExit(this.current, this.incarnation);
  }

  /** kill -9, as a crash or a power loss would; waits until it has exited. */
  async kill(): Promise<void> {
    const inc = this.current;
    this.downOnPurpose = true;
    if (!inc) return;
    this.killing = true;
    try {
      if (this.frozen) process.kill(inc.pid, 'SIGCONT');
      await inc.kill();
    } finally {
      this.killing = false;
      this.frozen = false;
    }
  }

  freeze(): void {
    if (!this.current) throw new Error(`${this.name}: not running`);
    process.kill(this.current.pid, 'SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (this.current) process.kill(this.current.pid, 'SIGCONT');
    this.frozen = false;
  }

  /** Up: the current incarnation's process exists (a frozen one counts: it is there, only stopped). */
  alive(): boolean {
    return !!this.current && processAlive(this.current.pid) && !this.unexpectedExits.some((e) => e.pid === this.current!.pid);
  }

  /** Reads its RSS now, keeping the peak; undefined when it is not running. */
  async sampleRss(): Promise<number | undefined> {
    if (!this.current || this.downOnPurpose) return undefined;
    const rss = await rssMiB(this.current.pid);
    if (rss !== undefined) this.peakRssMiB = Math.max(this.peakRssMiB, rss);
    return rss;
  }

  /** SIGTERM (SIGCONT first if frozen) at teardown. */
  async stop(): Promise<void> {
    const inc = this.current;
    if (!inc || this.downOnPurpose) return;
    this.killing = true;
    if (this.frozen) this.thaw();
    await inc.stop();
  }
}
