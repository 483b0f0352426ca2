/**
 * A runtime with no processes: instances boot after a delay and run until stopped. It lets one
 * agent process stand in for many nodes in scale tests and benchmarks.
 */
import { EventEmitter } from 'node:events';
import type { Capacity, InstanceState, RuntimeDriver, RuntimeInfo, VmLaunchSpec } from '../driver.js';

export interface SimulatedDriverOptions {
  bootMs?: number;
  stopMs?: number;
  capacity?: Partial<Capacity>;
}

export class SimulatedDriver extends EventEmitter implements RuntimeDriver {
  readonly info: RuntimeInfo = { name: 'simulated', version: '1', accelerator: 'none' };
  private readonly instances = new Map<string, InstanceState>();
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

  async start(spec: VmLaunchSpec): Promise<InstanceState> {
    const state: InstanceState = { uid: spec.uid, namespace: spec.namespace, name: spec.name, phase: 'starting', startedAt: new Date().toISOString() };
    this.instances.set(spec.uid, state);
    this.later(spec.uid, this.opts.bootMs ?? 200, () => {
      state.phase = 'running';
      state.bootedAt = new Date().toISOString();
      state.ip = '10.0.2.15';
    });
    return { ...state };
  }

  async stop(uid: string): Promise<void> {
    const state = this.instances.get(uid);
    if (!state || state.phase === 'exited') return;
    state.phase = 'stopping';
    this.emit('change', uid);
    await new Promise<void>((resolve) =>
      this.later(uid, this.opts.stopMs ?? 50, () => {
        state.phase = 'exited';
        state.exit = { success: true, reason: 'ShutDown', at: new Date().toISOString() };
        resolve();
      }),
    );
  }

  async remove(uid: string): Promise<void> {
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
