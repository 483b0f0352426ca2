/**
 * VirtualMachines. The server's part of a VM's life, beside what its writers own (the README's
 * table of status owners):
 *  - a new VM is Pending: nothing has placed it yet (as kube-apiserver makes a new pod Pending);
 *  - the `binding` subresource, as Kubernetes' pods/binding, is how the scheduler assigns a VM
 *    to a node: one write sets spec.nodeName, the Scheduled condition and the agent's
 *    finalizer, so no watcher ever sees a VM bound without saying so, and the compare-and-swap
 *    on the stored object (ResourceService.bind) makes two schedulers racing for one VM bind it
 *    once. From then on the node's agent reports the VM's phase;
 *  - a move (an update from one node to another: the migration controller at a live migration's
 *    switchover) keeps what the guest is — phase, address, boot time — and says where it runs
 *    now; the new node's agent reports from then on;
 *  - unbinding (an update that takes spec.nodeName away: an agent after an eviction, the health
 *    controller after its node was lost) ends that: what the node reported about its guest goes
 *    in the same write, the VM is Pending again, and its eviction request, if it has one, is
 *    done — its reason becomes the status's reason and the request is removed;
 *  - the priority fields admission copied from the VM's PriorityClass at creation never change
 *    (admission/priority-admission.ts).
 */
import {
  AGENT_FINALIZER,
  conflict,
  EVICTION_REQUESTED_ANNOTATION,
  evictionRequestOf,
  removeCondition,
  setCondition,
  timestamp,
  type EvictionRequest,
  type KindInfo,
  type KubeObject,
  type StatusCause,
  type VirtualMachine,
  type VirtualMachineSpec,
  type VirtualMachineStatus,
} from '@shoal/api';
import type { KindStrategy } from '../strategy.js';
import { immutableFieldChanges } from './immutable-fields.js';
import { vmVolumeCauses } from './vm-volumes.js';

const PRIORITY_FIELDS = ['priorityClassName', 'priority', 'preemptionPolicy'] as const;

const specOf = (o: KubeObject) => (o as VirtualMachine).spec;
const target = (kind: KindInfo, name: string) => ({ kind: kind.kind, group: kind.group, name });

export const virtualMachineStrategy: KindStrategy = {
  prepareForCreate(object) {
    (object as VirtualMachine).status = { phase: 'Pending' };
  },

  validate(object) {
    return [...vmVolumeCauses(object as VirtualMachine), ...portCauses(object as VirtualMachine)];
  },

  prepareForUpdate(next, current) {
    const node = specOf(current)?.nodeName;
    const to = specOf(next)?.nodeName;
    if (!node || to === node) return;
    const vm = next as VirtualMachine;
    if (to) {
      // A move (a live migration's switchover): the same guest, running on.
      vm.status = movedStatus((current as VirtualMachine).status, node, to, new Date());
    } else {
      const request = evictionRequestOf(vm.metadata) ?? evictionRequestOf(current.metadata);
      vm.status = unboundStatus((current as VirtualMachine).status, node, request);
    }
    // Either way the VM has left the node: an eviction request from it is done.
    if (vm.metadata.annotations?.[EVICTION_REQUESTED_ANNOTATION] !== undefined) {
      const { [EVICTION_REQUESTED_ANNOTATION]: _, ...others } = vm.metadata.annotations;
      vm.metadata.annotations = others;
    }
  },

  /** A priority field the update gives must be the stored one; one it leaves out is kept (canonicalizeUpdate). */
  validateUpdate(next, current) {
    const after = specOf(next);
    const before = specOf(current);
    return [
      ...immutableFieldChanges(
        before,
        after,
        PRIORITY_FIELDS.filter((f) => after[f] !== undefined),
      ),
      // The scheduler placed the VM where its host ports were free: a change could clash there.
      ...(JSON.stringify(before.ports ?? []) === JSON.stringify(after.ports ?? [])
        ? []
        : [
            {
              field: 'spec.ports',
              type: 'FieldValueInvalid',
              message: `Invalid value: ${JSON.stringify(after.ports ?? [])}: field is immutable (it was ${JSON.stringify(before.ports ?? [])})`,
            },
          ]),
    ];
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

/** A host port and protocol published twice by one VM. */
function portCauses(vm: VirtualMachine): StatusCause[] {
  const seen = new Set<string>();
  const causes: StatusCause[] = [];
  for (const [i, p] of (vm.spec.ports ?? []).entries()) {
    const key = `${p.protocol}/${p.hostPort}`;
    if (seen.has(key))
      causes.push({ field: `spec.ports[${i}].hostPort`, type: 'FieldValueDuplicate', message: `Duplicate value: ${p.hostPort} (${p.protocol})` });
    seen.add(key);
  }
  return causes;
}

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

  // The nomination (the preemptor's) is used up by the bind.
  const { nominatedNodeName: _, ...kept } = vm.status ?? {};
  const status: VirtualMachineStatus = {
    ...kept,
    conditions: setCondition(kept.conditions, { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: `assigned to ${nodeName}` }, timestamp(now)),
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

/** What the node reported about its guest: it describes a guest that is not there any more once the VM leaves the node. */
const NODE_REPORTED = ['nodeName', 'ip', 'pid', 'bootedAt', 'nextRestartAt', 'phase', 'reason', 'message'] as const;

/**
 * The status of a VM whose guest moved from `from` to `to` while running: its node, the
 * Scheduled condition and no pid (a process of the old node's) say where it is now; phase, IP and
 * boot time carry on, as the guest does.
 */
export function movedStatus(status: VirtualMachineStatus | undefined, from: string, to: string, now: Date): VirtualMachineStatus {
  const { pid: _, ...kept } = status ?? {};
  return {
    ...kept,
    nodeName: to,
    conditions: setCondition(
      kept.conditions,
      { type: 'Scheduled', status: 'True', reason: 'Migrated', message: `moved from ${from} to ${to}` },
      timestamp(now),
    ),
  };
}

/**
 * The status of a VM that has just left `node`: Pending, without what the node reported (its
 * Ready condition included) and without the Scheduled condition of the bind that no longer
 * holds; why it left, from its eviction request when it has one. The rest (restarts, the
 * preemptor's preemptedBy, other conditions) is kept.
 */
export function unboundStatus(status: VirtualMachineStatus | undefined, node: string, request: EvictionRequest | undefined): VirtualMachineStatus {
  const kept: VirtualMachineStatus = { ...status };
  for (const field of NODE_REPORTED) delete kept[field];
  const conditions = removeCondition(removeCondition(kept.conditions, 'Ready'), 'Scheduled');
  delete kept.conditions;
  return {
    phase: 'Pending',
    reason: request?.reason ?? 'Unbound',
    message: request?.message ?? `unbound from node ${node}`,
    ...kept,
    ...(conditions.length ? { conditions } : {}),
  };
}
