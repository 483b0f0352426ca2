/**
 * The status the scheduler writes, computed on plain objects (STYLE.md 3): an unplaceable VM is
 * `Pending` with a `Scheduled=False/Unschedulable` condition saying why. (A bound VM's
 * `Scheduled` status comes with the bind itself: the apiserver's binding subresource writes
 * both at once.) Only the Scheduled condition is the scheduler's; others are kept.
 */
import { setCondition, type VirtualMachine, type VirtualMachineStatus } from '@shoal/api';

export const SCHEDULED = 'Scheduled';

export function unschedulableStatus(vm: VirtualMachine, message: string, now: string): Pick<VirtualMachineStatus, 'phase' | 'conditions'> {
  return {
    phase: 'Pending',
    conditions: setCondition(
      vm.status?.conditions,
      { type: SCHEDULED, status: 'False', reason: 'Unschedulable', message, observedGeneration: vm.metadata.generation },
      now,
    ),
  };
}

/** The VM already says exactly this: writing it again (and another Event) would be noise. */
export function saysUnschedulable(vm: VirtualMachine, message: string): boolean {
  const c = vm.status?.conditions?.find((x) => x.type === SCHEDULED);
  return vm.status?.phase === 'Pending' && c?.status === 'False' && c.reason === 'Unschedulable' && c.message === message;
}
