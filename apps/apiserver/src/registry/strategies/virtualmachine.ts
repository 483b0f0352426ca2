/**
 * VirtualMachines: the priority fields admission copied from the VM's PriorityClass at creation
 * never change (admission/priority.ts); and the `binding` subresource, as Kubernetes'
 * pods/binding, is how the scheduler assigns a VM to a node. One write sets spec.nodeName and
 * the Scheduled status together, so no watcher ever sees a VM bound without saying so (or the
 * other way round), and the compare-and-swap on the stored object (ResourceService.bind) makes
 * two schedulers racing for one VM bind it once.
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
  type VirtualMachine,
  type VirtualMachineSpec,
  type VirtualMachineStatus,
} from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';

const PRIORITY_FIELDS = ['priorityClassName', 'priority', 'preemptionPolicy'] as const;

const specOf = (o: KubeObject) => (o as VirtualMachine).spec;
const target = (kind: KindInfo, name: string) => ({ kind: kind.kind, group: kind.group, name });

export const virtualMachineStrategy: KindStrategy = {
  /** A priority field the update gives must be the stored one; one it leaves out is kept (canonicalizeUpdate). */
  validateUpdate(next, current) {
    const after = specOf(next);
    return immutableFieldChanges(specOf(current), after, PRIORITY_FIELDS.filter((f) => after[f] !== undefined));
  },

  /**
   * An update that leaves out a field admission set at creation keeps the stored value instead of
   * failing: a manifest re-applied with PUT (kubectl replace, an apply that never mentioned
   * priority) should not have to repeat what the server filled in.
   */
  canonicalizeUpdate(next, current) {
    const before = specOf(current);
    const after = specOf(next);
    const left = PRIORITY_FIELDS.filter((f) => after[f] === undefined && before[f] !== undefined);
    if (!left.length) return;
    const restored: Partial<VirtualMachineSpec> = Object.fromEntries(left.map((f) => [f, before[f]]));
    // Where they were: a patch that removed them and so changed nothing must store the very same
    // bytes, or it would be written (a new resourceVersion, a watch event).
    (next as VirtualMachine).spec = inKeyOrderOf(before, { ...after, ...restored });
  },

  bind: boundVm,
};

function inKeyOrderOf<T extends object>(model: T, obj: T): T {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(model)) if (Object.hasOwn(obj, k)) out[k] = obj[k as keyof T];
  for (const k of Object.keys(obj)) if (!Object.hasOwn(out, k)) out[k] = obj[k as keyof T];
  return out as T;
}

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
