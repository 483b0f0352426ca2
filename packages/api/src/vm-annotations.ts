/**
 * Annotations through which users ask a VirtualMachine's node agent for power changes
 * (`shoalctl start|stop|restart`); the agent reads them, the CLI writes them.
 */
/** runStrategy Manual: `Running` or `Stopped`. */
export const REQUESTED_STATE_ANNOTATION = 'shoal.dev/requested-state';
/** runStrategy Manual: a start request's time; an exited guest boots again when it is newer than its last boot. */
export const START_REQUESTED_ANNOTATION = 'shoal.dev/start-requested-at';
/** The strategy `stop` replaced by Halted, which `start` puts back. */
export const PREVIOUS_RUN_STRATEGY_ANNOTATION = 'shoal.dev/previous-run-strategy';
/** A restart request's time; the agent restarts the VM once when it is newer than the running boot. */
export const RESTART_REQUESTED_ANNOTATION = 'shoal.dev/restart-requested-at';

/**
 * An eviction request (preemption now, drain later) for a VM bound to a node, as JSON
 * (EvictionRequest). The VM's agent stops the guest — within `gracePeriodSeconds`, 0 meaning
 * kill at once — and only then unbinds it (spec.nodeName removed, this annotation removed,
 * status Pending/Stopped with the reason), so the room it held is free only once nothing runs
 * there. An unbound VM is placed again like any other; whether it runs follows its runStrategy.
 */
export const EVICTION_REQUESTED_ANNOTATION = 'shoal.dev/eviction-requested';

export interface EvictionRequest {
  /** Machine-readable cause: `Preempted`, `Drained`. */
  reason: string;
  /** Who asked, for people: `preempted by default/db (priority 900)`. */
  message: string;
  /** Grace for the guest's shutdown; 0 kills it at once. */
  gracePeriodSeconds: number;
  /** RFC 3339 time of the request. */
  requestedAt: string;
}

/** The eviction asked of this VM, or undefined (also for a value that is not a request). */
export function evictionRequestOf(metadata: { annotations?: Record<string, string> }): EvictionRequest | undefined {
  const raw = metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION];
  if (!raw) return undefined;
  try {
    const r = JSON.parse(raw) as Partial<EvictionRequest>;
    if (typeof r.reason !== 'string' || typeof r.gracePeriodSeconds !== 'number' || !(r.gracePeriodSeconds >= 0)) return undefined;
    return { reason: r.reason, message: String(r.message ?? r.reason), gracePeriodSeconds: r.gracePeriodSeconds, requestedAt: String(r.requestedAt ?? '') };
  } catch {
    return undefined;
  }
}

/**
 * On a VM that preempted others: the `namespace/name` of each VM evicted to make room for it,
 * comma-separated (the victims carry status.preemptedBy, the other side of the record).
 */
export const PREEMPTED_VICTIMS_ANNOTATION = 'shoal.dev/preempted-victims';
