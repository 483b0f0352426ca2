/**
 * What becomes of a VM bound to a fenced node (pure). Its guest is known to be stopped (the
 * node fenced itself), so the VM is unbound and placed again like any other:
 *
 *   being deleted               → only the dead agent's finalizer is removed: the delete completes
 *   runStrategy Always,
 *   RerunOnFailure              → unbound, Pending: the scheduler places it, it runs elsewhere
 *   Manual                      → unbound, Stopped, requested state Stopped: it runs again when
 *                                 someone starts it (Manual VMs never restart on their own)
 *   Halted                      → unbound, Stopped
 *
 * evictionStrategy LiveMigrate cannot apply: there is no running source left to migrate from.
 */
import { AGENT_FINALIZER, REQUESTED_STATE_ANNOTATION, type VirtualMachine } from '@shoal/api';

export interface Rescue {
  /** Merge patch of the VM's status (written first, while still bound); undefined for none. */
  status?: Record<string, unknown>;
  /** Merge patch of the VM itself: unbind and/or finalizers. */
  object: Record<string, unknown>;
}

export function rescueFromFencedNode(vm: VirtualMachine, nodeName: string, now: string): Rescue {
  const finalizers = (vm.metadata.finalizers ?? []).filter((f) => f !== AGENT_FINALIZER);
  const finalizerPatch = { finalizers: finalizers.length ? finalizers : null };
  if (vm.metadata.deletionTimestamp) return { object: { metadata: finalizerPatch } };

  const strategy = vm.spec.runStrategy;
  const runsAgain = strategy === 'Always' || strategy === 'RerunOnFailure';
  const message = runsAgain ? `node ${nodeName} was lost (fenced); rescheduling` : `node ${nodeName} was lost (fenced); runStrategy ${strategy} keeps it stopped`;
  return {
    status: {
      phase: runsAgain ? 'Pending' : 'Stopped',
      nodeName: null,
      pid: null,
      ip: null,
      reason: 'NodeLost',
      message,
      conditions: [{ type: 'Ready', status: 'False', reason: 'NodeLost', message, lastTransitionTime: now }, ...(vm.status?.conditions ?? []).filter((c) => c.type !== 'Ready')],
    },
    object: {
      metadata: { ...finalizerPatch, ...(strategy === 'Manual' ? { annotations: { [REQUESTED_STATE_ANNOTATION]: 'Stopped' } } : {}) },
      spec: { nodeName: null },
    },
  };
}
