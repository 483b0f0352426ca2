/**
 * What becomes of a VM bound to a fenced node (pure). Its guest is known to be stopped (the
 * node fenced itself), so the VM is unbound and placed again like any other, in one merge patch:
 *
 *   being deleted               → only the dead agent's finalizer is removed: the delete completes
 *   runStrategy Always,
 *   RerunOnFailure              → unbound: the scheduler places it, it runs elsewhere
 *   Manual                      → unbound, requested state Stopped: it runs again when someone
 *                                 starts it (Manual VMs never restart on their own)
 *   Halted                      → unbound: placed again, and stays stopped there
 *
 * The health controller writes no VM status: the unbind carries why the VM left as an eviction
 * request (reason NodeLost), which the apiserver completes in the same write — it makes the VM
 * Pending with that reason and drops what the lost node had reported (the VM strategy's
 * unbinding rule). evictionStrategy LiveMigrate cannot apply: there is no running source left
 * to migrate from.
 */
import { AGENT_FINALIZER, EVICTION_REQUESTED_ANNOTATION, REQUESTED_STATE_ANNOTATION, type EvictionRequest, type VirtualMachine } from '@shoal/api';

/** The eviction reason of VMs moved off a fenced node, for their status and their Event. */
export const NODE_LOST_REASON = 'NodeLost';

export interface Rescue {
  /** Merge patch of the VM: unbind and/or finalizers. */
  patch: { metadata: { finalizers: string[] | null; annotations?: Record<string, string> }; spec?: { nodeName: null } };
  /** Why the VM left its node, for people (its status message and Event); undefined when it was only finalized. */
  message?: string;
}

export function rescueFromFencedNode(vm: VirtualMachine, nodeName: string, now: string): Rescue {
  const finalizers = (vm.metadata.finalizers ?? []).filter((f) => f !== AGENT_FINALIZER);
  const metadata = { finalizers: finalizers.length ? finalizers : null };
  if (vm.metadata.deletionTimestamp) return { patch: { metadata } };

  const strategy = vm.spec.runStrategy;
  const runsAgain = strategy === 'Always' || strategy === 'RerunOnFailure';
  const message = runsAgain
    ? `node ${nodeName} was lost (fenced); rescheduling`
    : `node ${nodeName} was lost (fenced); runStrategy ${strategy} keeps it stopped`;
  const request: EvictionRequest = { reason: NODE_LOST_REASON, message, gracePeriodSeconds: 0, requestedAt: now };
  return {
    patch: {
      metadata: {
        ...metadata,
        annotations: {
          [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request),
          ...(strategy === 'Manual' ? { [REQUESTED_STATE_ANNOTATION]: 'Stopped' } : {}),
        },
      },
      spec: { nodeName: null },
    },
    message,
  };
}
