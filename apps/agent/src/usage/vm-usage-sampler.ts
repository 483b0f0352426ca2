/**
 * Samples every running VM's usage on a fixed interval and keeps the latest, with the CPU rate
 * over the window since the sample before: what `shoalctl top` and the metrics API show, as the
 * kubelet's resource analyzer does for pods. A fixed cadence (rather than a sample per request)
 * makes every reader see the same window whoever asked last.
 *
 * A VM seen for the first time has no earlier sample: its window is its QEMU process's life so
 * far, so a VM that has just booted already has figures to show.
 */
import type { VmUsage } from '@shoal/api';
import type { InstanceState, RuntimeDriver } from '../runtime/driver.js';
import { readProcessUsage, type ProcessUsage } from './process-usage.js';

export type UsageReader = (pid: number) => Promise<ProcessUsage | undefined>;

export const DEFAULT_USAGE_INTERVAL_MS = 10_000;

interface Sample {
  pid: number;
  at: number;
  usage: ProcessUsage;
}

export class VmUsageSampler {
  private readonly last = new Map<string, Sample>();
  private readonly latest = new Map<string, VmUsage>();
  /** The instances the last pass looked at, readable or not: one whose process could not be read waits for the next tick instead of making every reader sample again. */
  private sampled = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly driver: RuntimeDriver,
    private readonly intervalMs = DEFAULT_USAGE_INTERVAL_MS,
    private readonly read: UsageReader = readProcessUsage,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The latest usage of every running VM. One that started since the last tick is sampled now
   * rather than left out, so a caller never misses a VM it can see running.
   */
  async usage(): Promise<VmUsage[]> {
    await this.sampling;
    if (this.driver.list().some((i) => isMeasurable(i) && !this.sampled.has(i.uid))) await this.sample();
    return [...this.latest.values()];
  }

  /** One pass over the running VMs; concurrent callers share the pass under way. */
  sample(): Promise<void> {
    this.sampling ??= this.samplePass().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async samplePass(): Promise<void> {
    const running = this.driver.list().filter(isMeasurable);
    const seen = new Set(running.map((i) => i.uid));
    this.sampled = seen;
    for (const uid of [...this.last.keys()]) {
      if (!seen.has(uid)) {
        this.last.delete(uid);
        this.latest.delete(uid);
      }
    }
    await Promise.all(running.map((i) => this.sampleOne(i)));
  }

  private async sampleOne(instance: InstanceState & { pid: number }): Promise<void> {
    const usage = await this.read(instance.pid);
    const at = this.now();
    if (!usage) {
      this.latest.delete(instance.uid);
      return;
    }
    // A different pid is a new QEMU (a restart): its counters start again from zero.
    const before = this.last.get(instance.uid);
    const previous = before && before.pid === instance.pid && at > before.at ? before : undefined;
    const windowSeconds = previous ? (at - previous.at) / 1000 : usage.lifetimeSeconds;
    const cpuUsed = previous ? usage.cpuSeconds - previous.usage.cpuSeconds : usage.cpuSeconds;
    this.last.set(instance.uid, { pid: instance.pid, at, usage });
    this.latest.set(instance.uid, {
      namespace: instance.namespace,
      name: instance.name,
      uid: instance.uid,
      timestamp: new Date(at).toISOString(),
      windowSeconds,
      cpuCores: windowSeconds > 0 ? Math.max(0, cpuUsed) / windowSeconds : 0,
      cpuSecondsTotal: usage.cpuSeconds,
      memoryBytes: usage.memoryBytes,
    });
  }
}

/** A guest with a process of its own to measure: simulated guests have none. */
function isMeasurable(i: InstanceState): i is InstanceState & { pid: number } {
  return i.pid !== undefined && (i.phase === 'running' || i.phase === 'starting' || i.phase === 'stopping');
}
