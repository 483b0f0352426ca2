/**
 * The `binding` subresource of VirtualMachines, as Kubernetes' pods/binding: how the scheduler
 * assigns a VM to a node. One write sets spec.nodeName and the Scheduled status together, so no
 * watcher ever sees a VM bound without saying so (or the other way round), and the
 * compare-and-swap on the stored object makes two schedulers racing for one VM bind it once.
 * Pure functions here; ResourceService.bind does the read-modify-write.
 */
import {
  AGENT_FINALIZER,
  conflict,
  findCondition,
  removeCondition,
  setCondition,
  timestamp,
  type KindInfo,
  type KubeObject,
  type Status,
  type VirtualMachine,
  type VirtualMachineStatus,
} from '@shoal/api';

const target = (kind: KindInfo, name: string) => ({ kind: kind.kind, group: kind.group, name });

/**
 * The VM bound to `nodeName`: a new object, or undefined when it is already bound there (a
 * retried bind succeeds without writing, so a status the agent has moved on since is kept).
 * 409 when it is bound elsewhere or being deleted.
 */
export function boundVm(kind: KindInfo, current: KubeObject, nodeName: string, now: Date): VirtualMachine | undefined {
  const vm = current as VirtualMachine;
  const name = vm.metadata.name!;
  if (vm.metadata.deletionTimestamp) throw conflict(target(kind, name), `${kind.singular} ${name} is being deleted`);
  if (vm.spec.nodeName === nodeName) return undefined;
  if (vm.spec.nodeName) throw conflict(target(kind, name), `${kind.singular} ${name} is already bound to node ${vm.spec.nodeName}`);

  const message = `assigned to ${nodeName}`;
  const { nominatedNodeName: _, ...kept } = vm.status ?? {};
  const conditions = setCondition(kept.conditions, { type: 'Scheduled', status: 'True', reason: 'Scheduled', message }, timestamp(now));
  const status: VirtualMachineStatus = {
    ...kept,
    phase: 'Scheduled',
    nodeName,
    reason: 'Scheduled',
    message,
    // Scheduled goes last, where the bind has always written it.
    conditions: [...removeCondition(conditions, 'Scheduled'), findCondition(conditions, 'Scheduled')!],
  };
  // The node agent's finalizer goes on with the bind, in the same write: from the moment a VM
  // is bound, deleting it waits for the agent to stop its guest — there is no window in which
  // a delete could complete while the agent is starting it — and the agent saves a write.
  const finalizers = vm.metadata.finalizers ?? [];
  // spec.nodeName is the spec: a new generation, as any spec change is.
  return {
    ...vm,
    metadata: {
      ...vm.metadata,
      generation: (vm.metadata.generation ?? 0) + 1,
      finalizers: finalizers.includes(AGENT_FINALIZER) ? finalizers : [...finalizers, AGENT_FINALIZER],
    },
    spec: { ...vm.spec, nodeName },
    status,
  };
}

/** What a successful bind answers, as Kubernetes does for pods/binding: 201 and a Status, not the object. */
export function bindingSucceeded(): Omit<Status, 'message'> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
