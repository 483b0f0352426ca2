/**
 * The status the scheduler writes, computed on plain objects (STYLE.md 3): of an unplaceable
 * VM, only its `Scheduled=False/Unschedulable` condition, saying why. The VM is Pending already
 * (the apiserver makes every unbound VM Pending); a bound VM's `Scheduled=True` comes with the
 * bind itself, from the binding subresource. Only the Scheduled condition is the scheduler's;
 * the others in the list are written back as they were (the write is pinned to the version read).
 */
import { findCondition, setCondition, type VirtualMachine, type VirtualMachineStatus } from '@shoal/api';

export const SCHEDULED = 'Scheduled';

export function unschedulableStatus(vm: VirtualMachine, message: string, now: string): Pick<VirtualMachineStatus, 'conditions'> {
  return {
    conditions: setCondition(
      vm.status?.conditions,
      { type: SCHEDULED, status: 'False', reason: 'Unschedulable', message, observedGeneration: vm.metadata.generation },
      now,
    ),
  };
}

/** The VM already says exactly this: writing it again (and another Event) would be noise. */
export function saysUnschedulable(vm: VirtualMachine, message: string): boolean {
  const c = findCondition(vm.status?.conditions, SCHEDULED);
  return c?.status === 'False' && c.reason === 'Unschedulable' && c.message === message;
}
