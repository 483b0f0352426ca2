/**
 * A runtime with no processes: instances boot after a delay and run until stopped. It lets one
 * agent process stand in for many nodes in scale tests and benchmarks.
 */
import { EventEmitter } from 'node:events';
import { FENCED_REASON, LaunchRefusedError, type Capacity, type InstanceState, type RuntimeDriver, type RuntimeInfo, type VmLaunchSpec } from '../driver.js';

/** How a guest killed for lack of grace exits (QEMU killed with SIGKILL reads as a failure too). */
const KILLED = { success: false, reason: 'Killed' } as const;
const FENCED = { success: false, reason: FENCED_REASON } as const;

/** A stop under way: its shared end, and the kill timer when the grace is shorter than a shutdown. */
interface Stopping {
  done: Promise<void>;
  /** Ends the stop (once) with this exit; later calls do nothing. */
  end(exit: Omit<NonNullable<InstanceState['exit']>, 'at'>): void;
  kill?: NodeJS.Timeout;
  killAt?: number;
}

export interface SimulatedDriverOptions {
  bootMs?: number;
  stopMs?: number;
  capacity?: Partial<Capacity>;
}

export class SimulatedDriver extends EventEmitter implements RuntimeDriver {
  readonly info: RuntimeInfo = { name: 'simulated', version: '1', accelerator: 'none' };
  private readonly instances = new Map<string, InstanceState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly stopping = new Map<string, Stopping>();

  constructor(private readonly opts: SimulatedDriverOptions = {}) {
    super();
  }

  capacity(): Capacity {
    return { vcpus: this.opts.capacity?.vcpus ?? 32, memoryMiB: this.opts.capacity?.memoryMiB ?? 131072 };
  }

  async adopt(): Promise<InstanceState[]> {
    return [];
  }

  async start(spec: VmLaunchSpec, mayLaunch?: () => boolean): Promise<InstanceState> {
    if (mayLaunch && !mayLaunch()) throw new LaunchRefusedError(spec.uid);
    const state: InstanceState = { uid: spec.uid, namespace: spec.namespace, name: spec.name, phase: 'starting', startedAt: new Date().toISOString() };
    this.instances.set(spec.uid, state);
    this.later(spec.uid, this.opts.bootMs ?? 200, () => {
      state.phase = 'running';
      state.bootedAt = new Date().toISOString();
      state.ip = '10.0.2.15';
    });
    return { ...state };
  }

  /**
   * A simulated guest shuts down cleanly after stopMs. With less grace than that it is killed
   * when the grace runs out, and with a grace of 0 at once (as QemuDriver SIGKILLs QEMU), so an
   * eviction's gracePeriodSeconds means the same on both runtimes. A second stop while one is
   * under way shares its end, and only ever shortens it.
   */
  async stop(uid: string, graceMs: number): Promise<void> {
    const state = this.instances.get(uid);
    if (!state || state.phase === 'exited') return;
    let stopping = this.stopping.get(uid);
    if (!stopping) {
      let resolve!: () => void;
      const entry: Stopping = {
        done: new Promise<void>((r) => (resolve = r)),
        end: (exit) => {
          if (this.stopping.get(uid) !== entry) return;
          this.stopping.delete(uid);
          clearTimeout(entry.kill);
          clearTimeout(this.timers.get(uid));
          state.phase = 'exited';
          state.exit = { ...exit, at: new Date().toISOString() };
          this.emit('change', uid);
          resolve();
        },
      };
      stopping = entry;
      this.stopping.set(uid, entry);
      state.phase = 'stopping';
      this.emit('change', uid);
      // Replaces a pending boot timer: a guest stopped while it boots never reports it booted.
      clearTimeout(this.timers.get(uid));
      this.timers.set(uid, setTimeout(() => entry.end({ success: true, reason: 'ShutDown' }), this.opts.stopMs ?? 50));
    }
    if (graceMs <= 0) stopping.end(KILLED);
    else if (graceMs < (this.opts.stopMs ?? 50) && Date.now() + graceMs < (stopping.killAt ?? Infinity)) {
      const s = stopping;
      clearTimeout(s.kill);
      s.killAt = Date.now() + graceMs;
      s.kill = setTimeout(() => s.end(KILLED), graceMs);
    }
    await stopping.done;
  }

  /**
   * A simulated guest is only memory, so fencing is ending every live one at once. The agent's
   * FenceMonitor calls this; an agent frozen by SIGSTOP cannot, which is fine here: nothing
   * would run anywhere but in this process's memory.
   */
  async fence(): Promise<void> {
    for (const [uid, state] of this.instances) {
      if (state.phase === 'exited') continue;
      const stopping = this.stopping.get(uid);
      if (stopping) {
        stopping.end(FENCED);
        continue;
      }
      clearTimeout(this.timers.get(uid));
      state.phase = 'exited';
      state.exit = { ...FENCED, at: new Date().toISOString() };
      this.emit('change', uid);
    }
  }

  async remove(uid: string): Promise<void> {
    // Removing a guest that is still stopping ends the stop: nobody waits on it forever.
    this.stopping.get(uid)?.end(KILLED);
    clearTimeout(this.timers.get(uid));
    this.instances.delete(uid);
  }

  state(uid: string): InstanceState | undefined {
    const s = this.instances.get(uid);
    return s ? { ...s } : undefined;
  }

  list(): InstanceState[] {
    return [...this.instances.values()].map((s) => ({ ...s }));
  }

  consoleLog(): string | undefined {
    return undefined;
  }

  async close(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.stopping.values()) clearTimeout(s.kill);
  }

  private later(uid: string, ms: number, fn: () => void): void {
    clearTimeout(this.timers.get(uid));
    this.timers.set(
      uid,
      setTimeout(() => {
        fn();
        this.emit('change', uid);
      }, ms),
    );
  }
}
