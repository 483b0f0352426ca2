/**
 * What the watch fan-out aim asks of a machine, from the CPU this run measured: with W watchers
 * of every change, merge-patches at `aimRatio` (0.8) × their rate with nobody watching. Every
 * patch is then W events, and each event costs the apiserver its socket write and a watcher its
 * read and parse. The cost per event is the watched phase's CPU less what its patches would have
 * cost unwatched (the quiet phase's CPU per patch), per event delivered; the cores the aim needs
 * are the aim's events at that cost plus its patches at theirs. A figure over the machine's
 * cores means no apiserver can meet the aim here, however fast: the watchers alone are over.
 */
import type { CpuFigures } from './process-meter.js';
import { round3, roundTo } from './stats.js';

export interface FanoutCapacity {
  watchers: number;
  aimRatio: number;
  patchesPerSecondAtAim: number;
  eventsPerSecondAtAim: number;
  /** CPU µs per event delivered, beside the patch that made it. */
  cpuMicrosPerEvent: { apiserver: number; watchers: number };
  /** Cores the aim's events and patches take at this run's costs. */
  coresNeeded: { events: number; watchersAlone: number; patches: number; total: number };
  machineCores: number;
  /** Whether the aim fits in this machine's cores at all. */
  feasibleHere: boolean;
}

export interface FanoutPhases {
  watchers: number;
  quiet: { patches: number; perSecond: number; cpu: CpuFigures };
  watched: { patches: number; events: number; cpu: CpuFigures };
  /** The process that ran the watchers (the load generator). */
  watcherProcess: string;
  aimRatio?: number;
}

export function fanoutCapacity(p: FanoutPhases): FanoutCapacity {
  const aimRatio = p.aimRatio ?? 0.8;
  const quietCpuPerPatch = (name: string) => (p.quiet.cpu.cpuSeconds[name] ?? 0) / p.quiet.patches;
  // CPU seconds the watched phase spent beyond its patches, per event delivered (never below 0).
  const perEvent = (name: string) => Math.max(0, (p.watched.cpu.cpuSeconds[name] ?? 0) - quietCpuPerPatch(name) * p.watched.patches) / p.watched.events;
  const apiserver = perEvent('apiserver');
  const watchers = perEvent(p.watcherProcess);
  const patchCpu = Object.keys(p.quiet.cpu.cpuSeconds).reduce((sum, name) => sum + quietCpuPerPatch(name), 0);
  const patchesPerSecondAtAim = aimRatio * p.quiet.perSecond;
  const eventsPerSecondAtAim = patchesPerSecondAtAim * p.watchers;
  const events = eventsPerSecondAtAim * (apiserver + watchers);
  const patches = patchesPerSecondAtAim * patchCpu;
  const total = events + patches;
  return {
    watchers: p.watchers,
    aimRatio,
    patchesPerSecondAtAim: roundTo(patchesPerSecondAtAim, 1),
    eventsPerSecondAtAim: Math.round(eventsPerSecondAtAim),
    cpuMicrosPerEvent: { apiserver: round3(apiserver * 1e6), watchers: round3(watchers * 1e6) },
    coresNeeded: {
      events: roundTo(events, 2),
      watchersAlone: roundTo(eventsPerSecondAtAim * watchers, 2),
      patches: roundTo(patches, 2),
      total: roundTo(total, 2),
    },
    machineCores: p.quiet.cpu.machineCores,
    feasibleHere: total <= p.quiet.cpu.machineCores,
  };
}

export function describeFanoutCapacity(c: FanoutCapacity): string {
  return (
    `fan-out at the aim (${c.watchers} watchers, patches at ${c.aimRatio} × unwatched = ${c.patchesPerSecondAtAim}/s): ` +
    `${c.eventsPerSecondAtAim} events/s at ${c.cpuMicrosPerEvent.apiserver} µs of apiserver and ${c.cpuMicrosPerEvent.watchers} µs of watcher CPU each ` +
    `need ${c.coresNeeded.total} cores (the watchers alone ${c.coresNeeded.watchersAlone}); this machine has ${c.machineCores}` +
    (c.feasibleHere ? '' : ': no apiserver meets it here')
  );
}
