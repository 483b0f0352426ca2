/**
 * The migration controller's decisions, pure (STYLE.md 3): from a Migration, its VM, the nodes
 * and the clock, the one next step. reconcile.ts reads the world, calls decide() and carries the
 * step out; nothing here does I/O.
 *
 *   ended (Succeeded, Failed, Aborted)   → its finalizer off, if it has it
 *   new                                  → the finalizer on, first (a delete then waits for an ending)
 *   the VM moved already                 → Succeeded once the target's agent says the guest runs
 *                                          there (downtime computed); until then Running, saying
 *                                          so — never Failed or Aborted, even when deleted
 *   being deleted (VM not moved)         → Aborted, reason Deleted: the VM stays at its source
 *   Pending                              → Failed: VMNotFound, VMNotRunning, AlreadyMigrating;
 *                                          else Scheduling, with the VM's uid,
 *                                          its node as the source, and the mode
 *   Scheduling                           → PreparingTarget on the chosen node, or Failed:
 *                                          TargetNotEligible, NoTargetNode (placement.ts)
 *   PreparingTarget → TargetReady        → when the target's agent says it is ready (readyAt)
 *   TargetReady → Running                → when the source's agent says the transfer began (startedAt)
 *   Running                              → the move (switchover) once the source's agent says the
 *                                          transfer is complete (completedAt)
 *   any of the three, before the move    → Failed: an agent's failure (its reason), VMChanged,
 *                                          TargetNodeNotReady, SourceNodeNotReady, TargetNotReady
 *                                          (PreparingTarget, TargetReady too long),
 *                                          TransferTimedOut (Running too long); otherwise wait,
 *                                          looking again at the deadline
 *   a Live failure there, when allowed    → Scheduling again as Cold (spec.allowColdFallback): a
 *                                          new attempt, the Live one's reports set aside
 *
 * The one rule everything else bends to: a VM is moved at most once and a Migration that moved
 * its VM never fails, while one that failed never moves it. Whether the move happened is read
 * from the world each time — the VM bound to the target (with the Migration's `Moved` condition
 * as the record of it, for a VM gone since) — never remembered in memory.
 */
import {
  findCondition,
  isTerminalMigrationPhase,
  migrationIsActive,
  MIGRATION_PROTECTION_FINALIZER,
  type Migration,
  type MigrationFailure,
  type MigrationMode,
  type MigrationPhase,
  type Node,
  type VirtualMachine,
} from '@shoal/api';
import type { Placement } from './placement.js';

export const VM_NOT_FOUND = 'VMNotFound';
export const VM_NOT_RUNNING = 'VMNotRunning';
export const ALREADY_MIGRATING = 'AlreadyMigrating';
export const VM_CHANGED = 'VMChanged';
export const TARGET_NODE_NOT_READY = 'TargetNodeNotReady';
export const SOURCE_NODE_NOT_READY = 'SourceNodeNotReady';
export const TARGET_NOT_READY = 'TargetNotReady';
export const TRANSFER_TIMED_OUT = 'TransferTimedOut';
export const DELETED = 'Deleted';

/** The condition that records the switchover: True from the moment the VM was moved to the target. */
export const MOVED_CONDITION = 'Moved';

/** The Migration's spec default: seconds of transfer allowed per GiB of memory and local disks. */
export const DEFAULT_COMPLETION_TIMEOUT_PER_GIB_SECONDS = 150;

export interface Limits {
  /** The transfer's deadline is never shorter than this (60 s by default). */
  minCompletionTimeoutMs: number;
  /** PreparingTarget, then TargetReady, may each last this long (60 s by default). */
  targetReadyTimeoutMs: number;
}

export interface Observed {
  migration: Migration;
  /** The VirtualMachine spec.vmName names, in the Migration's namespace, if there is one. */
  vm?: VirtualMachine;
  node(name: string): Node | undefined;
  /** The other Migrations of the same VM (same namespace, same spec.vmName). */
  others: readonly Migration[];
  /** Another Migration this controller already let past Pending for the VM, if one is still active. */
  claimedBy?: string;
  /** Where the VM may go; needed in Scheduling only. */
  placement?: Placement;
  /** GiB of the VM's disks in local pools (copied with its memory). */
  localDiskGiB: number;
  now: number;
  limits: Limits;
}

export type Step =
  | { type: 'none'; requeueAfterMs?: number }
  | { type: 'addFinalizer' }
  | { type: 'removeFinalizer' }
  | { type: 'transition'; to: Transition }
  | { type: 'move'; vm: VirtualMachine; from: string; to: string }
  /** A status message (and the Moved condition) without a new phase: written when it differs from what is there. */
  | { type: 'note'; message: string; moved: boolean };

export interface Transition {
  phase: MigrationPhase;
  /**
   * A new attempt, Cold, after the Live one failed with this: the agents' reports, the target
   * node and the byte counts of the Live attempt are cleared.
   */
  fallBackFrom?: { reason: string; message: string };
  /** Set on Failed and Aborted only. */
  reason?: string;
  message: string;
  /** Fields set on entering the phase. */
  set?: { vmUID?: string; sourceNode?: string; mode?: MigrationMode; targetNode?: string; downtimeMs?: number };
}

const NOTHING: Step = { type: 'none' };

export function decide(o: Observed): Step {
  const m = o.migration;
  const status = m.status ?? {};
  const phase = status.phase ?? 'Pending';
  const protectedNow = (m.metadata.finalizers ?? []).includes(MIGRATION_PROTECTION_FINALIZER);
  if (isTerminalMigrationPhase(phase)) return protectedNow ? { type: 'removeFinalizer' } : NOTHING;
  // Deleted before we took it: nothing was started, it just goes.
  if (!protectedNow) return m.metadata.deletionTimestamp ? NOTHING : { type: 'addFinalizer' };

  if (moved(o)) return afterMove(o);
  if (m.metadata.deletionTimestamp) {
    const where = status.sourceNode ? ` on node ${status.sourceNode}` : '';
    return fail(DELETED, `deleted before the switchover: VirtualMachine ${m.spec.vmName} stays${where}`, 'Aborted');
  }
  switch (phase) {
    case 'Pending':
      return pending(o);
    case 'Scheduling':
      return scheduling(o);
    default:
      return fallBackIfAllowed(o, inFlight(o, phase));
  }
}

/**
 * Failures a cold migration would not get past: the VM itself changed, its source cannot shut
 * it down and copy its disks, or the nodes have no credentials to talk to each other.
 */
const NO_FALLBACK = new Set([VM_CHANGED, SOURCE_NODE_NOT_READY, 'MigrationCredentialsMissing', 'MigrationUnsupported']);

/** A Live attempt's failure becomes a Cold attempt when the Migration allows it. */
function fallBackIfAllowed(o: Observed, step: Step): Step {
  const m = o.migration;
  if (step.type !== 'transition' || step.to.phase !== 'Failed' || !m.spec.allowColdFallback || m.status?.mode !== 'Live') return step;
  const { reason, message } = step.to;
  if (!reason || NO_FALLBACK.has(reason)) return step;
  return {
    type: 'transition',
    to: {
      phase: 'Scheduling',
      message: `the live migration failed (${reason}): ${message}; falling back to a cold migration: choosing a node to move VirtualMachine ${m.spec.vmName} to from node ${m.status.sourceNode}`,
      set: { mode: 'Cold' },
      fallBackFrom: { reason, message },
    },
  };
}

/** Whether the step, taken in `phase`, cannot be undone and must be decided again on the apiserver's state first. */
export function isIrreversible(step: Step, phase: MigrationPhase | undefined): boolean {
  if (step.type === 'move') return true;
  // Failing, aborting or starting over once the transfer runs: the VM might have moved meanwhile (a stale cache).
  return step.type === 'transition' && phase === 'Running' && (step.to.phase === 'Failed' || step.to.phase === 'Aborted' || !!step.to.fallBackFrom);
}

function pending(o: Observed): Step {
  const m = o.migration;
  const name = m.spec.vmName;
  const vm = o.vm;
  if (!vm) return fail(VM_NOT_FOUND, `VirtualMachine ${name} does not exist in namespace ${m.metadata.namespace}`);
  if (vm.metadata.deletionTimestamp) return fail(VM_NOT_RUNNING, `VirtualMachine ${name} is being deleted`);
  if (!vm.spec.nodeName) return fail(VM_NOT_RUNNING, `VirtualMachine ${name} is not running: it is not bound to a node`);
  if (vm.status?.phase !== 'Running')
    return fail(VM_NOT_RUNNING, `VirtualMachine ${name} is not running: it is ${vm.status?.phase ?? 'without a phase'} on node ${vm.spec.nodeName}`);
  const blocker = blockingMigration(o);
  if (blocker) return fail(ALREADY_MIGRATING, `VirtualMachine ${name} is already being moved by Migration ${blocker}`);
  const mode = m.spec.mode ?? 'Live';
  return {
    type: 'transition',
    to: {
      phase: 'Scheduling',
      message: `choosing a node to move VirtualMachine ${name} to from node ${vm.spec.nodeName}`,
      set: { vmUID: vm.metadata.uid, sourceNode: vm.spec.nodeName, mode },
    },
  };
}

/** The older, or already started, active Migration of the same VM, if there is one. */
function blockingMigration(o: Observed): string | undefined {
  const m = o.migration;
  if (o.claimedBy) return o.claimedBy;
  const blockers = o.others
    .filter((other) => other.metadata.uid !== m.metadata.uid && migrationIsActive(other))
    // One deleted before it was taken never starts.
    .filter((other) => !other.metadata.deletionTimestamp || other.metadata.finalizers?.includes(MIGRATION_PROTECTION_FINALIZER))
    .filter((other) => (other.status?.phase ?? 'Pending') !== 'Pending' || olderFirst(other, m) < 0)
    .sort(olderFirst);
  return blockers[0]?.metadata.name;
}

/** Creation order, then name: the order Migrations of one VM are served in. */
export function olderFirst(a: Migration, b: Migration): number {
  return (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
}

function scheduling(o: Observed): Step {
  const changed = vmChange(o);
  if (changed) return fail(VM_CHANGED, changed);
  const p = o.placement;
  if (!p) throw new Error('decide: a Migration in Scheduling needs its placement');
  if (!p.ok) return fail(p.reason, p.message);
  const source = o.migration.status!.sourceNode!;
  return {
    type: 'transition',
    to: {
      phase: 'PreparingTarget',
      message: `moving to ${p.message}: waiting for node ${p.nodeName}'s agent to get ready to receive the guest from node ${source}`,
      set: { targetNode: p.nodeName },
    },
  };
}

function inFlight(o: Observed, phase: MigrationPhase): Step {
  const status = o.migration.status!;
  const source = status.sourceNode!;
  const target = status.targetNode!;
  // The side that acts in this phase first: the target gets ready, then the source sends.
  const sides: [string, string, MigrationFailure | undefined][] =
    phase === 'PreparingTarget'
      ? [
          ['target', target, status.target?.failure],
          ['source', source, status.source?.failure],
        ]
      : [
          ['source', source, status.source?.failure],
          ['target', target, status.target?.failure],
        ];
  for (const [side, node, failure] of sides)
    if (failure)
      return fail(
        failure.reason,
        `node ${node} (${side}): ${failure.message ?? failure.reason}; VirtualMachine ${o.migration.spec.vmName} stays on node ${source}`,
      );
  const changed = vmChange(o);
  if (changed) return fail(VM_CHANGED, changed);
  const targetDown = notReady(o.node(target));
  if (targetDown) return fail(TARGET_NODE_NOT_READY, `target node ${target} ${targetDown}; VirtualMachine ${o.migration.spec.vmName} stays on node ${source}`);
  const sourceDown = notReady(o.node(source));
  if (sourceDown) return fail(SOURCE_NODE_NOT_READY, `source node ${source} ${sourceDown}`);

  const since = phaseStart(o.migration, phase);
  const readyTimeout = o.limits.targetReadyTimeoutMs;
  switch (phase) {
    case 'PreparingTarget':
      if (status.target?.readyAt)
        return {
          type: 'transition',
          to: { phase: 'TargetReady', message: `node ${target} is ready: waiting for node ${source}'s agent to start the transfer` },
        };
      return deadline(
        o,
        since + readyTimeout,
        TARGET_NOT_READY,
        `node ${target}'s agent did not get ready to receive the guest within ${seconds(readyTimeout)}`,
      );
    case 'TargetReady':
      if (status.source?.startedAt)
        return { type: 'transition', to: { phase: 'Running', message: `transferring the guest from node ${source} to node ${target}` } };
      return deadline(
        o,
        since + readyTimeout,
        TARGET_NOT_READY,
        `node ${source}'s agent did not start the transfer within ${seconds(readyTimeout)} of node ${target} being ready`,
      );
    case 'Running': {
      if (status.source?.completedAt) return { type: 'move', vm: o.vm!, from: source, to: target };
      const { timeoutMs, gib, perGiB } = completionTimeout(o);
      return deadline(
        o,
        since + timeoutMs,
        TRANSFER_TIMED_OUT,
        `the transfer did not complete within ${seconds(timeoutMs)} (${perGiB} s per GiB of memory and local disks: ${round(gib)} GiB, at least ${seconds(o.limits.minCompletionTimeoutMs)}); VirtualMachine ${o.migration.spec.vmName} stays on node ${source}`,
      );
    }
    default:
      throw new Error(`decide: unexpected phase ${phase}`);
  }
}

/** How long the transfer may run: completionTimeoutPerGiBSeconds × (memory + local disks), at least the minimum. */
export function completionTimeout(o: Pick<Observed, 'migration' | 'vm' | 'localDiskGiB' | 'limits'>): { timeoutMs: number; gib: number; perGiB: number } {
  const perGiB = o.migration.spec.policy?.completionTimeoutPerGiBSeconds ?? DEFAULT_COMPLETION_TIMEOUT_PER_GIB_SECONDS;
  const gib = (o.vm?.spec.resources.memoryMiB ?? 0) / 1024 + o.localDiskGiB;
  return { timeoutMs: Math.max(o.limits.minCompletionTimeoutMs, Math.round(perGiB * gib * 1000)), gib, perGiB };
}

function deadline(o: Observed, at: number, reason: string, message: string): Step {
  if (o.now >= at) return fail(reason, message);
  return { type: 'none', requeueAfterMs: at - o.now };
}

/** The switchover happened: the Moved condition says so, or the VM (same uid) is bound to the target after the transfer completed. */
export function moved(o: Pick<Observed, 'migration' | 'vm'>): boolean {
  const status = o.migration.status ?? {};
  if (status.phase !== 'Running') return false;
  if (findCondition(status.conditions, MOVED_CONDITION)?.status === 'True') return true;
  const vm = o.vm;
  return Boolean(status.source?.completedAt && status.targetNode && vm?.metadata.uid === status.vmUID && vm?.spec.nodeName === status.targetNode);
}

function afterMove(o: Observed): Step {
  const m = o.migration;
  const status = m.status!;
  const { sourceNode: from, targetNode: to } = status;
  const name = m.spec.vmName;
  const resumedAt = status.target?.resumedAt;
  if (resumedAt) {
    const completedAt = Date.parse(status.source?.completedAt ?? '');
    const resumed = Date.parse(resumedAt);
    // Two nodes' clocks: a switchover never takes less than nothing.
    const switchoverMs = Number.isFinite(completedAt) && Number.isFinite(resumed) ? Math.max(0, resumed - completedAt) : 0;
    const downtimeMs = switchoverMs + (status.source?.qemuDowntimeMs ?? 0);
    const startedAt = Date.parse(status.source?.startedAt ?? '') || phaseStart(m, 'Running');
    const tookMs = Math.max(0, resumed - startedAt);
    return {
      type: 'transition',
      to: {
        phase: 'Succeeded',
        message: `moved from ${from} to ${to} in ${tookMs} ms, guest ${status.mode === 'Cold' ? 'down' : 'paused'} ${downtimeMs} ms`,
        set: { downtimeMs },
      },
    };
  }
  const vm = o.vm;
  const gone =
    !vm || vm.metadata.uid !== status.vmUID
      ? 'was deleted'
      : vm.metadata.deletionTimestamp
        ? 'is being deleted'
        : vm.spec.nodeName !== to
          ? vm.spec.nodeName
            ? `was moved on to node ${vm.spec.nodeName}`
            : `was unbound from node ${to}`
          : undefined;
  // The move is done, and what became of the VM since is no longer this Migration's to wait for.
  if (gone)
    return {
      type: 'transition',
      to: { phase: 'Succeeded', message: `moved from ${from} to ${to}; VirtualMachine ${name} ${gone} before node ${to}'s agent reported the guest running` },
    };
  const failure = status.target?.failure;
  const said = failure ? ` (it reported ${failure.reason}${failure.message ? `: ${failure.message}` : ''})` : '';
  return { type: 'note', moved: true, message: `VirtualMachine ${name} moved to node ${to}: waiting for node ${to}'s agent to resume the guest${said}` };
}

/** What happened to the VM behind the Migration's back, if anything: deleted, replaced, moved or unbound. */
function vmChange(o: Observed): string | undefined {
  const status = o.migration.status!;
  const name = o.migration.spec.vmName;
  const vm = o.vm;
  if (!vm) return `VirtualMachine ${name} was deleted`;
  if (vm.metadata.uid !== status.vmUID) return `VirtualMachine ${name} was deleted and created again`;
  if (vm.metadata.deletionTimestamp) return `VirtualMachine ${name} is being deleted`;
  if (vm.spec.nodeName !== status.sourceNode)
    return vm.spec.nodeName
      ? `VirtualMachine ${name} was moved to node ${vm.spec.nodeName} by someone else`
      : `VirtualMachine ${name} was unbound from node ${status.sourceNode}`;
  return undefined;
}

/** Why a node cannot take part, or undefined when it is Ready. */
function notReady(node: Node | undefined): string | undefined {
  if (!node) return 'no longer exists';
  const ready = findCondition(node.status?.conditions, 'Ready');
  if (ready?.status === 'True') return undefined;
  const detail = ready ? `Ready=${ready.status}${ready.reason ? ` (${ready.reason})` : ''}` : 'no Ready condition';
  return `is not Ready: ${detail}`;
}

/** When the Migration entered `phase` (its last transition into it), in ms; its creation when that is not recorded. */
export function phaseStart(m: Migration, phase: MigrationPhase): number {
  const entered = [...(m.status?.phaseTransitions ?? [])].reverse().find((t) => t.phase === phase);
  const at = Date.parse(entered?.time ?? m.metadata.creationTimestamp ?? '');
  return Number.isFinite(at) ? at : 0;
}

function fail(reason: string, message: string, phase: 'Failed' | 'Aborted' = 'Failed'): Step {
  return { type: 'transition', to: { phase, reason, message } };
}

const round = (n: number) => Math.round(n * 100) / 100;
const seconds = (ms: number) => `${round(ms / 1000)} s`;
