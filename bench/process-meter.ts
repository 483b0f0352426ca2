/**
 * Who used the CPU: per-process CPU seconds (utime + stime from /proc/PID/stat, all threads)
 * and whole-machine busy time (/proc/stat), measured around each benchmark phase. On a small
 * machine the load generator, the apiserver and etcd share the same cores, so these figures
 * are what explain a throughput number.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { cpus } from 'node:os';

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds a process has used so far (user + system, every thread), or NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/**
 * How often the kernel has taken the CPU away from a process's main thread (where Node runs
 * JavaScript) while it still had work: nonvoluntary_ctxt_switches of /proc/PID/status, which
 * counts the thread-group leader only. NaN once the process is gone.
 */
export function mainThreadPreemptions(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

export interface MemoryFigures {
  /** Resident set size now, MiB. */
  rssMiB: number;
  /** Peak resident set size so far, MiB. */
  peakRssMiB: number;
}

export function processMemory(pid: number): MemoryFigures {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: Math.round((kib('VmRSS') / 1024) * 10) / 10, peakRssMiB: Math.round((kib('VmHWM') / 1024) * 10) / 10 };
  } catch {
    return { rssMiB: NaN, peakRssMiB: NaN };
  }
}

/** Busy and total jiffies of all cores together. */
function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3]! + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export type Processes = Record<string, number>;

interface Snapshot {
  t: number;
  cpu: Record<string, number>;
  machine: { busy: number; total: number };
}

export interface CpuSample {
  /** Which slice of an interleaved phase the sample belongs to. */
  slice?: number;
  atSeconds: number;
  /** Cores each process kept busy during the interval ending here (1.0 = one full core). */
  cores: Record<string, number>;
  machineBusyFraction: number;
  /** Cores kept busy by everything else on the machine (other sessions, other tests). */
  otherCores: number;
}

export interface CpuFigures {
  wallSeconds: number;
  /** CPU seconds used during the phase, per process. */
  cpuSeconds: Record<string, number>;
  /** cpuSeconds / wallSeconds: average cores kept busy, per process. */
  averageCores: Record<string, number>;
  /** Fraction of all the machine's cores that were busy (any process), 0..1. */
  machineBusyFraction: number;
  /** Average cores kept busy by processes outside this benchmark: contention the figures suffered. */
  otherCores: number;
  machineCores: number;
  samples?: CpuSample[];
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function snapshot(procs: Processes): Snapshot {
  const cpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(procs)) cpu[name] = processCpuSeconds(pid);
  return { t: performance.now(), cpu, machine: machineJiffies() };
}

function between(a: Snapshot, b: Snapshot): { wall: number; cpu: Record<string, number>; cores: Record<string, number>; busy: number; others: number } {
  const wall = (b.t - a.t) / 1000;
  const cpu: Record<string, number> = {};
  const cores: Record<string, number> = {};
  for (const name of Object.keys(a.cpu)) {
    cpu[name] = r3(b.cpu[name]! - a.cpu[name]!);
    cores[name] = wall > 0 ? r3((b.cpu[name]! - a.cpu[name]!) / wall) : NaN;
  }
  const total = b.machine.total - a.machine.total;
  const busy = total > 0 ? (b.machine.busy - a.machine.busy) / total : NaN;
  const ours = Object.values(cores).reduce((x, y) => x + y, 0);
  return { wall, cpu, cores, busy: r3(busy), others: r3(Math.max(0, busy * cpus().length - ours)) };
}

/** Measures CPU use of the named processes from start() to stop(), optionally sampling on the way. */
export class CpuMeter {
  private first?: Snapshot;
  private last?: Snapshot;
  private timer?: NodeJS.Timeout;
  private readonly samples: CpuSample[] = [];

  constructor(
    private readonly procs: Processes,
    private readonly sampleEveryMs?: number,
  ) {}

  start(): this {
    this.first = this.last = snapshot(this.procs);
    if (this.sampleEveryMs) {
      this.timer = setInterval(() => this.sample(), this.sampleEveryMs);
      this.timer.unref();
    }
    return this;
  }

  private sample(): void {
    const now = snapshot(this.procs);
    const d = between(this.last!, now);
    this.samples.push({ atSeconds: r3((now.t - this.first!.t) / 1000), cores: d.cores, machineBusyFraction: d.busy, otherCores: d.others });
    this.last = now;
  }

  stop(): CpuFigures {
    clearInterval(this.timer);
    const end = snapshot(this.procs);
    const d = between(this.first!, end);
    return {
      wallSeconds: r3(d.wall),
      cpuSeconds: d.cpu,
      averageCores: d.cores,
      machineBusyFraction: d.busy,
      otherCores: d.others,
      machineCores: cpus().length,
      ...(this.sampleEveryMs ? { samples: this.samples } : {}),
    };
  }
}

/** Runs fn while metering the processes; returns its result with the CPU figures. */
export async function metered<T>(procs: Processes, fn: () => Promise<T>, sampleEveryMs?: number): Promise<{ result: T; cpu: CpuFigures }> {
  const meter = new CpuMeter(procs, sampleEveryMs).start();
  try {
    const result = await fn();
    return { result, cpu: meter.stop() };
  } catch (err) {
    meter.stop();
    throw err;
  }
}

/** One set of figures for several metered stretches (interleaved slices of one workload). */
export function combineCpu(parts: CpuFigures[]): CpuFigures {
  const wall = parts.reduce((a, p) => a + p.wallSeconds, 0);
  const cpuSeconds: Record<string, number> = {};
  const averageCores: Record<string, number> = {};
  for (const name of Object.keys(parts[0]?.cpuSeconds ?? {})) {
    const s = parts.reduce((a, p) => a + p.cpuSeconds[name]!, 0);
    cpuSeconds[name] = r3(s);
    averageCores[name] = wall > 0 ? r3(s / wall) : NaN;
  }
  const weighted = (f: (p: CpuFigures) => number) => (wall > 0 ? r3(parts.reduce((a, p) => a + f(p) * p.wallSeconds, 0) / wall) : NaN);
  const samples = parts.flatMap((p, slice) => (p.samples ?? []).map((s) => ({ slice, ...s })));
  return {
    wallSeconds: r3(wall),
    cpuSeconds,
    averageCores,
    machineBusyFraction: weighted((p) => p.machineBusyFraction),
    otherCores: weighted((p) => p.otherCores),
    machineCores: cpus().length,
    ...(samples.length ? { samples } : {}),
  };
}
