/** The machine a benchmark ran on, as every results file records it (figures mean little without it). */
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  hostname: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverageAtStart: number[];
}

const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** Call at the start of a run. */
export function describeMachine(): Machine {
  return {
    hostname: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    loadAverageAtStart: loadAverage(),
  };
}

/** The record for the results file, with the load average at the end of the run added. */
export function machineAtEnd(m: Machine): Machine & { loadAverageAtEnd: number[] } {
  return { ...m, loadAverageAtEnd: loadAverage() };
}
