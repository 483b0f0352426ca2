/**
 * A runtime with no processes: instances boot after a delay and run until stopped. It lets one
 * agent process stand in for many nodes in scale tests and benchmarks.
 */
import { EventEmitter } from 'node:events';
import { FENCED_REASON, LaunchRefusedError, type Capacity, type InstanceState, type RuntimeDriver, type RuntimeInfo, type VmLaunchSpec } from '../driver.js';

/** How a guest killed for lack of grace exits (QEMU killed with SIGKILL reads as a failure too). */
const KILLED = { success: false, reason: 'Killed' } as const;
const SHUT_DOWN = { success: true, reason: 'ShutDown' } as const;
const FENCED = { success: false, reason: FENCED_REASON } as const;

export interface SimulatedDriverOptions {
  /** How long a guest takes to boot (200 ms); 0: it is running as soon as it starts. */
  bootMs?: number;
  /** How long a guest takes to shut down once asked; Infinity: it never does (a guest that ignores the power button). */
  stopMs?: number;
  capacity?: Partial<Capacity>;
}

export class SimulatedDriver extends EventEmitter implements RuntimeDriver {
  readonly info: RuntimeInfo = { name: 'simulated', version: '1', accelerator: 'none' };
  private readonly instances = new Map<string, InstanceState>();
  /** Per instance, its one pending timer: the boot, or the shutdown once a stop was asked for. */
  private readonly timers = new Map<string, NodeJS.Timeout>();

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
    // A migration's target waits for a guest that nothing here sends: it never boots on its own.
    if (spec.incoming) {
      state.incoming = true;
      return { ...state };
    }
    const boot = () => {
      state.phase = 'running';
      state.bootedAt = new Date().toISOString();
      state.ip = '10.0.2.15';
    };
    // No boot time: running as it starts, so the agent's first status of it says Running.
    if (this.opts.bootMs === 0) boot();
    else
      this.later(spec.uid, this.opts.bootMs ?? 200, () => {
        boot();
        this.emit('change', spec.uid);
      });
    return { ...state };
  }

  /**
   * A simulated guest asked to stop shuts down cleanly stopMs later — unless it is killed first:
   * by a requestStop at or past its deadline (at once with a grace of 0, as QemuDriver SIGKILLs
   * QEMU), or by kill(). Like QEMU's, the driver itself never decides to kill: the agent, coming
   * back to a guest still stopping, does. So gracePeriodSeconds means the same on both runtimes.
   */
  async requestStop(uid: string, graceMs: number): Promise<void> {
    const state = this.instances.get(uid);
    if (!state || state.phase === 'exited') return;
    const now = Date.now();
    const asked = now + Math.max(0, graceMs);
    const deadline = state.stopDeadline ? Math.min(Date.parse(state.stopDeadline), asked) : asked;
    state.stopDeadline = new Date(deadline).toISOString();
    if (state.phase !== 'stopping') {
      state.phase = 'stopping';
      // Replaces a pending boot timer: a guest stopped while it boots never reports it booted.
      const stopMs = this.opts.stopMs ?? 50;
      clearTimeout(this.timers.get(uid));
      this.timers.delete(uid);
      if (Number.isFinite(stopMs)) this.later(uid, stopMs, () => this.exit(uid, SHUT_DOWN));
      this.emit('change', uid);
    }
    if (now >= deadline) this.exit(uid, KILLED);
  }

  async kill(uid: string): Promise<void> {
    const state = this.instances.get(uid);
    if (state && state.phase !== 'exited') state.killed = true;
    this.exit(uid, KILLED);
  }

  /**
   * A simulated guest is only memory, so fencing is ending every live one at once. The agent's
   * FenceMonitor calls this; an agent frozen by SIGSTOP cannot, which is fine here: nothing
   * would run anywhere but in this process's memory.
   */
  async fence(): Promise<void> {
    for (const uid of this.instances.keys()) this.exit(uid, FENCED);
  }

  async remove(uid: string): Promise<void> {
    clearTimeout(this.timers.get(uid));
    this.timers.delete(uid);
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
    this.timers.clear();
  }

  /** Ends a live instance with this exit (once; an exited one stays as it ended). */
  private exit(uid: string, exit: Omit<NonNullable<InstanceState['exit']>, 'at'>): void {
    const state = this.instances.get(uid);
    if (!state || state.phase === 'exited') return;
    clearTimeout(this.timers.get(uid));
    this.timers.delete(uid);
    state.phase = 'exited';
    state.exit = { ...exit, at: new Date().toISOString() };
    this.emit('change', uid);
  }

  private later(uid: string, ms: number, fn: () => void): void {
    clearTimeout(this.timers.get(uid));
    this.timers.set(
      uid,
      setTimeout(() => {
        this.timers.delete(uid);
        fn();
      }, ms),
    );
  }
}
