/**
 * What the agent needs from a VM runtime. The agent decides (start, stop, restart, forget);
 * a driver only does, and reports what it observes as an InstanceState.
 */
import type { EventEmitter } from 'node:events';

export interface VmLaunchSpec {
  uid: string;
  namespace: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  image: string;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  command?: string[];
  network: 'user' | 'none';
  rootDisk?: { baseImage: string; sizeGiB?: number };
}

export type InstancePhase = 'starting' | 'running' | 'stopping' | 'exited';

/**
 * The exit reason of an instance stopped by fencing: its node went longer than the fence
 * timeout without renewing its Lease, so the VM may be running elsewhere by now.
 */
export const FENCED_REASON = 'Fenced';

/** A start refused at the last moment because the agent may no longer act (see FenceClock.mayAct). */
export class LaunchRefusedError extends Error {
  constructor(uid: string) {
    super(`not launching ${uid}: the node's lease is not fresh, or its VM cache has not been relisted since it was`);
    this.name = 'LaunchRefusedError';
  }
}

export interface InstanceState {
  uid: string;
  namespace: string;
  name: string;
  phase: InstancePhase;
  pid?: number;
  /** When the guest reported it had booted (the boot marker). */
  bootedAt?: string;
  ip?: string;
  /** Set once the instance has exited: success means a clean exit of the guest's command (code 0). */
  exit?: { success: boolean; code?: number; reason: string; at: string };
  /** When this instance (boot) was launched. */
  startedAt: string;
}

export interface RuntimeInfo {
  name: string;
  version: string;
  accelerator: 'kvm' | 'tcg' | 'none';
}

export interface Capacity {
  vcpus: number;
  memoryMiB: number;
}

/** Emits 'change' (uid) whenever an instance's observable state changes. */
export interface RuntimeDriver extends EventEmitter {
  readonly info: RuntimeInfo;
  capacity(): Capacity;
  /** Finds instances left running by an earlier agent process, without disturbing them. */
  adopt(): Promise<InstanceState[]>;
  /**
   * Launches a guest. `mayLaunch` is asked once more right before the process (or simulated
   * guest) comes to life, after every await of the preparation: an agent frozen in between must
   * not launch on a decision it took before; false throws LaunchRefusedError.
   */
  start(spec: VmLaunchSpec, mayLaunch?: () => boolean): Promise<InstanceState>;
  /** Asks the guest to shut down; kills it when it has not within graceMs. Resolves once it is gone. */
  stop(uid: string, graceMs: number): Promise<void>;
  /**
   * Stops every running instance at once (no grace), recording the exit reason Fenced. The agent
   * calls it when its last successful renewal is older than the fence timeout. For QEMU it backs
   * up the per-VM supervisors, which do the same on their own even when the agent is frozen.
   */
  fence(): Promise<void>;
  /** Forgets an exited instance and removes its files. */
  remove(uid: string): Promise<void>;
  state(uid: string): InstanceState | undefined;
  list(): InstanceState[];
  /** Path of the serial console log, when the runtime has one. */
  consoleLog(uid: string): string | undefined;
  close(): Promise<void>;
}
