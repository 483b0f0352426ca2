/**
 * What the agent needs from a VM runtime. The agent decides (start, stop, restart, forget);
 * a driver only does, and reports what it observes as an InstanceState.
 *
 * Nothing here waits for a guest: a reconcile asks (start, requestStop, kill) and comes back —
 * on the instance's next 'change', or when it asked to be requeued — so one guest's long
 * shutdown never holds a worker that another VM needs.
 */
import type { EventEmitter } from 'node:events';

export interface VmLaunchSpec {
  uid: string;
  namespace: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  image: string;
  /**
   * What to boot when spec.image names an Image: its kernel and initramfs in the node's image
   * cache, and the kernel arguments it needs. Without it, the runtime finds an image it knows
   * by the name (the busybox default).
   */
  boot?: { kernel: string; initrd?: string; kernelArgs: string[] };
  /** For a cloud-init image: the NoCloud files (meta-data, user-data, network-config), attached as a read-only drive after the disks. */
  configDrive?: Record<string, string>;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  command?: string[];
  network: 'user' | 'none';
  /** NICs on Networks, in spec.networks order (eth0 first): taps this node made (network/). When given, `network` is not used. */
  nics?: { tap: string; mac: string }[];
  /** Ports published on the node (spec.ports); without NICs, through QEMU's user networking. */
  ports?: { protocol: 'TCP' | 'UDP'; hostPort: number; guestPort: number }[];
  /** The VM's disks, made ready on this node (volumes/attach.ts), in attachment order: /dev/vda first. */
  disks?: { name: string; path: string; format: 'qcow2' | 'raw'; readOnly?: boolean }[];
  /**
   * A live migration's target: the guest is not booted but received from its source, so the
   * instance waits paused for it (QEMU: -incoming defer -S) and counts as booted when, with
   * the address it had, from the start (see MigratableRuntime).
   */
  incoming?: { bootedAt?: string; ip?: string };
}

/**
 * How often a caller comes back to a guest that is still shutting down, asking again: the
 * cadence of the repeated power button, and how late past its deadline a guest may be killed.
 */
export const STOP_ASK_AGAIN_MS = 2_000;

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
  /** Set once a stop was requested: from this time on, requestStop kills the guest instead of asking it. */
  stopDeadline?: string;
  /**
   * Set by kill(): the agent ended the guest for a failure (it did not boot in time, a
   * migration's QEMU it cannot use), not because it was asked to stop it. An exit after
   * requestStop alone is the agent's doing, not the guest's (vm/lifecycle.ts stoppedOnRequest).
   */
  killed?: boolean;
  /** A live migration's target that has not run the guest yet: it waits, paused, for the source's state. */
  incoming?: boolean;
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
  /**
   * Asks the guest to shut down and returns without waiting for it (QEMU: the ACPI power button
   * through QMP). The instance is `stopping` from then on, with stopDeadline = now + graceMs,
   * unless an earlier deadline is set already: a stop can be hurried, never drawn out. Call it
   * again until the instance has exited: each call asks again (a guest whose init was not
   * listening yet hears it this time), and a call at or past the deadline kills the guest — so
   * graceMs 0 kills at once. The exit is reported through 'change', like any other. A runtime
   * whose guests outlive the agent (QEMU) keeps the deadline with the guest, so a restarted
   * agent carries on with it instead of granting a fresh grace.
   */
  requestStop(uid: string, graceMs: number): Promise<void>;
  /** Kills the guest now, without grace, and returns, marking the instance `killed`; the exit is reported through 'change'. */
  kill(uid: string): Promise<void>;
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

/** What a runtime that can take part in live migration offers besides RuntimeDriver (QEMU). */
export interface MigratableRuntime {
  /** The guest's QEMU monitor socket, for the migration's own QMP session. */
  qmpSocket(uid: string): string | undefined;
  /** Marks an incoming instance as the guest's running incarnation, once it was resumed. */
  markResumed(uid: string): Promise<void>;
}

export function isMigratable(driver: RuntimeDriver): driver is RuntimeDriver & MigratableRuntime {
  return typeof (driver as Partial<MigratableRuntime>).qmpSocket === 'function';
}
