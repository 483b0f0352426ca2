/**
 * What a guest costs its host, read from its QEMU process in /proc: CPU time (user + system, all
 * of QEMU's threads, so vCPUs and device emulation alike) and resident memory (the guest RAM it
 * has touched plus QEMU's own). This is what `top` shows for the process, and what a VM's owner
 * is charged for on the node.
 */
import { readFile } from 'node:fs/promises';

/**
 * Clock ticks per second of /proc's CPU times. Linux fixes USER_HZ at 100 for user space on
 * x86 and arm64 whatever the kernel's own HZ, so there is no need to ask sysconf (which Node
 * cannot) for it.
 */
const USER_HZ = 100;

export interface ProcessUsage {
  /** CPU time the process and all its threads have used since it started. */
  cpuSeconds: number;
  /** Resident set size: memory the process has in RAM now. */
  memoryBytes: number;
  /** How long the process has been running, by the kernel's clock. */
  lifetimeSeconds: number;
}

/** The process's usage, or undefined when it is gone (or its files cannot be read). */
export async function readProcessUsage(pid: number, procRoot = '/proc'): Promise<ProcessUsage | undefined> {
  try {
    const [stat, status, uptime] = await Promise.all([
      readFile(`${procRoot}/${pid}/stat`, 'utf8'),
      readFile(`${procRoot}/${pid}/status`, 'utf8'),
      readFile(`${procRoot}/uptime`, 'utf8'),
    ]);
    return parseProcessUsage(stat, status, uptime);
  } catch {
    return undefined;
  }
}

/** Parses /proc/PID/stat, /proc/PID/status and /proc/uptime; throws on text that is not theirs. */
export function parseProcessUsage(stat: string, status: string, uptime: string): ProcessUsage {
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself:
  // fields are counted from the last ')'. After it, field 3 (state) is index 0.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  const startTicks = Number(fields[22 - 3]);
  const rss = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  const upSeconds = Number(uptime.split(' ')[0]);
  if (![utime, stime, startTicks, upSeconds].every(Number.isFinite)) throw new Error('unexpected /proc/PID/stat or /proc/uptime format');
  return {
    cpuSeconds: (utime + stime) / USER_HZ,
    // A process that is exiting has no VmRSS line any more: it holds nothing.
    memoryBytes: rss ? Number(rss[1]) * 1024 : 0,
    lifetimeSeconds: Math.max(0, upSeconds - startTicks / USER_HZ),
  };
}
