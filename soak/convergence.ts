/**
 * When is a VM in its declared state, and how long did it take to get there.
 *
 * A VM is converged when what the API says and what the machine runs agree with its spec:
 *
 *   runStrategy Always   phase Running on its node, and exactly one QEMU process for its uid,
 *                        on that node (its run dir is in that node's data dir), QMP `running`
 *   runStrategy Halted   no QEMU process for its uid anywhere, phase Stopped or Failed (a guest
 *                        that was fenced and then halted reports Failed/Fenced, which is stopped)
 *   deleted              gone from the API, and no QEMU process of any incarnation of its name
 *
 * A measurement starts at an acknowledged write of the VM (its declared state changed) or at
 * the end of a fault for each VM that was not converged then, and ends at the first sample (one
 * a second) that finds the VM converged; later writes and faults do not restart it, so a
 * measurement is the time the VM actually took, disturbances included. A write's measurement
 * ends only once the soak's own view of the API shows that write (`visible`): until then the VM
 * may look converged in the state from before it.
 */
import type { VirtualMachine } from '@shoal/api';
import type { VmTruth } from './vm-truth.js';

/** Why a VM is not converged (for the report), or undefined when it is. */
export function notConverged(vm: VirtualMachine | undefined, pastUids: readonly string[], truth: VmTruth): string | undefined {
  if (!vm) {
    const left = pastUids.flatMap((uid) => truth.byUid.get(uid) ?? []);
    return left.length ? `deleted, but QEMU still runs (pids ${left.map((q) => q.pid).join(', ')})` : undefined;
  }
  if (vm.metadata.deletionTimestamp) return 'being deleted';
  const procs = truth.byUid.get(vm.metadata.uid!) ?? [];
  const phase = vm.status?.phase;
  if (vm.spec.runStrategy === 'Halted') {
    if (procs.length) return `Halted, but ${procs.length} QEMU process(es) run (pids ${procs.map((q) => q.pid).join(', ')})`;
    return phase === 'Stopped' || phase === 'Failed' ? undefined : `Halted, no process, but phase ${phase}`;
  }
  const node = vm.spec.nodeName;
  if (phase !== 'Running') return `phase ${phase ?? '(none)'}${node ? ` on ${node}` : ', unbound'}`;
  if (procs.length !== 1) return `Running on ${node}, but ${procs.length} QEMU processes`;
  const q = procs[0]!;
  if (q.node !== node) return `Running on ${node}, but its QEMU runs on ${q.node}`;
  if (q.status !== 'running') return `Running on ${node}, QMP says ${q.status}`;
  return undefined;
}

export interface Measurement {
  vm: string;
  /** Whether the VM as the soak sees it already reflects the cause (a write); absent: always. */
  visible?: (vm: VirtualMachine | undefined) => boolean;
  /** What started the clock: `write w12 (stop)` or `fault #3 agent-freeze agent-soak-n1`. */
  cause: string;
  startMs: number;
  endMs?: number;
}

export class ConvergenceTracker {
  readonly measurements: Measurement[] = [];
  private readonly open = new Map<string, Measurement[]>();

  /** Starts the clock of `vm` (unless `cause` is already being timed for it). */
  start(vm: string, cause: string, atMs: number, visible?: Measurement['visible']): void {
    const list = this.open.get(vm) ?? [];
    if (list.some((m) => m.cause === cause)) return;
    const m: Measurement = { vm, cause, startMs: atMs, ...(visible ? { visible } : {}) };
    list.push(m);
    this.open.set(vm, list);
    this.measurements.push(m);
  }

  /** `name` was seen converged at `atMs`, as `vm`: every open measurement of it whose cause is visible ends. */
  converged(name: string, vm: VirtualMachine | undefined, atMs: number): void {
    const still: Measurement[] = [];
    for (const m of this.open.get(name) ?? []) {
      if (m.visible && !m.visible(vm)) still.push(m);
      else m.endMs = Math.max(m.startMs, atMs);
    }
    if (still.length) this.open.set(name, still);
    else this.open.delete(name);
  }

  openFor(vm: string): boolean {
    return (this.open.get(vm)?.length ?? 0) > 0;
  }

  durationsMs(): number[] {
    return this.measurements.filter((m) => m.endMs !== undefined).map((m) => m.endMs! - m.startMs);
  }

  stillOpen(): Measurement[] {
    return [...this.open.values()].flat();
  }
}
