/**
 * The VM lifecycle as pure functions: from a VirtualMachine and what the runtime reports, what
 * the agent should do next and what the status should say. Everything here is tested on plain
 * objects; the reconciler only carries the decisions out.
 */
import {
  EVICTION_REQUESTED_ANNOTATION,
  evictionRequestOf,
  REQUESTED_STATE_ANNOTATION,
  RESTART_REQUESTED_ANNOTATION,
  setCondition,
  START_REQUESTED_ANNOTATION,
  type Condition,
  type EvictionRequest,
  type VirtualMachine,
  type VirtualMachineStatus,
} from '@shoal/api';
import { FENCED_REASON, type InstanceState } from '../runtime/driver.js';
import { backoffMessage, CRASH_LOOP_BACK_OFF_REASON, type RestartBackoff } from './restart-backoff.js';

export type Action =
  | { type: 'start'; restart: boolean }
  | { type: 'stop'; reason: string }
  /** Stop (if needed) and start again, at the user's request. */
  | { type: 'restart' }
  /**
   * Leave this node at an eviction request: stop the guest if one still runs (within graceMs,
   * 0 = kill), forget the instance if there is one, then report Pending and unbind. Which steps
   * remain depends only on the instance, so a restarted agent picks up wherever it stopped.
   */
  | { type: 'evict'; request: EvictionRequest; graceMs: number; stop: boolean; remove: boolean }
  | { type: 'none' };

/** Should a guest be running now? `exited` is the instance that last ran, if it has exited. */
export function shouldRun(vm: VirtualMachine, exited?: InstanceState['exit']): boolean {
  switch (vm.spec.runStrategy) {
    case 'Halted':
      return false;
    case 'Always':
      return true;
    case 'RerunOnFailure':
      return !exited?.success;
    case 'Manual':
      // Manual VMs run when asked to and are never restarted on their own.
      return vm.metadata.annotations?.[REQUESTED_STATE_ANNOTATION] === 'Running' && !exited;
  }
}

/** A request (an annotation holding a time) made after this instance was launched. */
function requestedSince(vm: VirtualMachine, annotation: string, instance: InstanceState): boolean {
  const at = vm.metadata.annotations?.[annotation];
  return !!at && Date.parse(at) > Date.parse(instance.startedAt);
}

const restartRequested = (vm: VirtualMachine, instance: InstanceState) => requestedSince(vm, RESTART_REQUESTED_ANNOTATION, instance);

/**
 * Whether the guest exited because the agent asked it to stop (requestStop: its VM was stopped,
 * the agent stopped its guests on its way out, a cold migration took it down for the copy) —
 * not on its own, nor killed by the agent for a failure (kill: no boot within the timeout),
 * nor fenced. Such an exit says nothing about the guest: booting it again is a start, not a
 * restart after a crash, so it neither counts as one nor waits a crash-loop back-off.
 */
export function stoppedOnRequest(instance: InstanceState): boolean {
  return instance.phase === 'exited' && !!instance.stopDeadline && !instance.killed && instance.exit?.reason !== FENCED_REASON;
}

/**
 * The eviction annotation's value when it is there but not a request the agent can act on, so
 * the reconciler can say so (once) instead of silently ignoring it.
 */
export function invalidEvictionRequest(vm: VirtualMachine): string | undefined {
  const raw = vm.metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION];
  return raw !== undefined && !evictionRequestOf(vm.metadata) ? raw : undefined;
}

/**
 * What to do for a live (not being deleted) VM bound to this node. Deletion is the caller's
 * first check, so a VM both deleted and evicted follows the deletion path.
 */
export function nextAction(vm: VirtualMachine, instance: InstanceState | undefined): Action {
  const eviction = evictionRequestOf(vm.metadata);
  // Before anything else: an evicted VM never starts or restarts here again, whatever its runStrategy.
  if (eviction) {
    const live = !!instance && instance.phase !== 'exited';
    return { type: 'evict', request: eviction, graceMs: eviction.gracePeriodSeconds * 1000, stop: live, remove: !!instance };
  }
  if (!instance) return shouldRun(vm) ? { type: 'start', restart: false } : { type: 'none' };
  if (instance.phase === 'exited') {
    if (restartRequested(vm, instance)) return { type: 'restart' };
    // Manual: a start request newer than the guest that exited boots it again.
    if (vm.spec.runStrategy === 'Manual' && shouldRun(vm) && requestedSince(vm, START_REQUESTED_ANNOTATION, instance)) return { type: 'start', restart: false };
    // `stop` then `start` (Halted, then Always or RerunOnFailure again): the strategy decides as
    // for a VM with nothing here. Manual keeps its own rule: only a start request boots it.
    if (vm.spec.runStrategy !== 'Manual' && stoppedOnRequest(instance)) return shouldRun(vm) ? { type: 'start', restart: false } : { type: 'none' };
    return shouldRun(vm, instance.exit) ? { type: 'start', restart: true } : { type: 'none' };
  }
  if (!shouldRun(vm)) return instance.phase === 'stopping' ? { type: 'none' } : { type: 'stop', reason: `runStrategy is ${vm.spec.runStrategy}` };
  if (restartRequested(vm, instance)) return { type: 'restart' };
  return { type: 'none' };
}

/** The condition of `type`, True when ok, with its lastTransitionTime kept while the status holds. */
function condition(type: string, ok: boolean, reason: string, message: string, previous: Condition[] | undefined, now: string): Condition {
  return setCondition(
    previous?.filter((c) => c.type === type),
    { type, status: ok ? 'True' : 'False', reason, message },
    now,
  )[0]!;
}

/** What status says of a guest that exited. */
export function exitMessage(node: string, exit: NonNullable<InstanceState['exit']>): string {
  return exit.reason === FENCED_REASON
    ? `fenced: ${node} went longer than its fence timeout without renewing its lease, so the guest was stopped`
    : exit.code !== undefined
      ? `the guest's command exited with code ${exit.code}`
      : `the guest stopped (${exit.reason})`;
}

/**
 * The status this VM should have, given what runs (or ran) for it here. `backoff`: the step
 * of a crash loop whose wait is not over (the instance has exited): the phase stays what the
 * exit makes it, the reason says CrashLoopBackOff and nextRestartAt when it restarts.
 */
/** Why a VM that should run cannot start yet (its disks: volumes/attach.ts). */
export interface StartBlocked {
  reason: string;
  message: string;
}

export function computeStatus(
  vm: VirtualMachine,
  node: string,
  instance: InstanceState | undefined,
  deleting: boolean,
  now = new Date().toISOString(),
  backoff?: RestartBackoff,
  blocked?: StartBlocked,
): VirtualMachineStatus {
  const prev = vm.status ?? {};
  const base: VirtualMachineStatus = {
    nodeName: node,
    restarts: prev.restarts ?? 0,
    observedGeneration: vm.metadata.generation,
  };
  let phase: VirtualMachineStatus['phase'];
  let reason: string;
  let message: string;
  if (deleting) {
    phase = instance && instance.phase !== 'exited' ? 'Stopping' : 'Stopped';
    reason = 'Deleting';
    message = 'the VM is being deleted';
  } else if (!instance) {
    const runs = shouldRun(vm);
    phase = runs ? 'Scheduled' : 'Stopped';
    reason = runs ? 'Launching' : vm.spec.runStrategy === 'Manual' ? 'NotRequested' : 'Halted';
    message = runs ? `starting on ${node}` : vm.spec.runStrategy === 'Manual' ? 'runStrategy Manual: waiting for a start request' : 'runStrategy is Halted';
    if (runs && blocked) ({ reason, message } = blocked);
  } else {
    switch (instance.phase) {
      case 'starting':
        phase = 'Starting';
        reason = 'Booting';
        message = 'the guest is booting';
        break;
      case 'running':
        phase = 'Running';
        reason = 'Booted';
        message = 'the guest reported its boot marker';
        break;
      case 'stopping':
        phase = 'Stopping';
        reason = 'ShuttingDown';
        message = 'the guest is shutting down';
        break;
      case 'exited': {
        const exit = instance.exit!;
        phase = exit.success ? 'Stopped' : 'Failed';
        reason = backoff ? CRASH_LOOP_BACK_OFF_REASON : exit.reason;
        message = backoff ? backoffMessage(backoff, base.restarts!, exitMessage(node, exit)) : exitMessage(node, exit);
        break;
      }
    }
  }
  const running = phase === 'Running';
  return {
    ...base,
    phase,
    reason,
    message,
    ...(instance?.pid && instance.phase !== 'exited' ? { pid: instance.pid } : {}),
    ...(instance?.bootedAt ? { bootedAt: instance.bootedAt } : prev.bootedAt ? { bootedAt: prev.bootedAt } : {}),
    ...(running && instance?.ip ? { ip: instance.ip } : {}),
    ...(backoff && instance?.phase === 'exited' && !deleting ? { nextRestartAt: backoff.nextRestartAt } : {}),
    conditions: [condition('Ready', running, reason, message, prev.conditions, now), ...(prev.conditions ?? []).filter((c) => c.type !== 'Ready')],
  };
}

/**
 * The status of a VM whose guest is being stopped here for an eviction: Stopping, with the
 * request's reason, not Ready. Once the guest is gone the agent writes no more status of the VM:
 * it unbinds it, and the apiserver makes it Pending with the request's reason in that same
 * write, dropping what this node reported (the VM strategy's unbinding rule).
 */
export function evictionStatus(
  vm: VirtualMachine,
  node: string,
  instance: InstanceState,
  request: EvictionRequest,
  now = new Date().toISOString(),
): VirtualMachineStatus {
  const prev = vm.status ?? {};
  const { reason, message } = request;
  return {
    phase: 'Stopping',
    nodeName: node,
    ...(instance.pid ? { pid: instance.pid } : {}),
    ...(instance.bootedAt ? { bootedAt: instance.bootedAt } : prev.bootedAt ? { bootedAt: prev.bootedAt } : {}),
    restarts: prev.restarts ?? 0,
    observedGeneration: vm.metadata.generation,
    reason,
    message,
    conditions: setCondition(prev.conditions, { type: 'Ready', status: 'False', reason, message }, now),
  };
}

/**
 * The status fields the agent reports. Others belong to other writers (the scheduler's
 * nominatedNodeName, the preemptor's preemptedBy) and are never removed by the agent's patches.
 */
const AGENT_STATUS_FIELDS: ReadonlySet<string> = new Set<keyof VirtualMachineStatus>([
  'phase',
  'nodeName',
  'ip',
  'bootedAt',
  'restarts',
  'nextRestartAt',
  'pid',
  'reason',
  'message',
  'observedGeneration',
  'conditions',
]);

/** A merge patch turning status `a` into `b` (null removes a field of the agent's), or undefined when they agree. */
export function statusPatch(a: VirtualMachineStatus | undefined, b: VirtualMachineStatus): Record<string, unknown> | undefined {
  const before = (a ?? {}) as Record<string, unknown>;
  const after = b as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(after)) if (JSON.stringify(v) !== JSON.stringify(before[k])) patch[k] = v;
  for (const k of Object.keys(before)) if (!(k in after) && AGENT_STATUS_FIELDS.has(k)) patch[k] = null;
  return Object.keys(patch).length ? patch : undefined;
}
