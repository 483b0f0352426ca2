/**
 * Keeps a ClusterState in step with the shared informers for one controller (the scheduler
 * and the preemptor each keep their own: a controller rebuilt after it regains leadership
 * starts from a fresh one). The state is updated inside the controller's event handlers, before
 * they answer keys, so a reconcile always reads a state at least as new as the event that
 * queued it.
 *
 * The state is built with the rest of what reconcile reads, before the Controller; these
 * wrappers are used where the wiring is declared, after it:
 *
 *   const track = clusterTracking(state);
 *   controller.watch(policies, track.policy(h1)).watch(nodes, track.node(h2)).watch(vms, track.vm(h3));
 *
 * Policies, then nodes, then VMs — the order ClusterState.from takes them in — so the first
 * list of nodes gets its room from the policies and the first list of VMs finds their nodes.
 */
import { objectKey, type Node, type PlacementPolicy, type VirtualMachine } from '@shoal/api';
import type { EventHandler, ObjectChange } from '@shoal/controller-runtime';
import type { ClusterState } from '@shoal/scheduler';

export interface ClusterTracking {
  /** `handler`, called after the state has taken the VM change in. */
  vm(handler: EventHandler<VirtualMachine>): EventHandler<VirtualMachine>;
  node(handler: EventHandler<Node>): EventHandler<Node>;
  policy(handler: EventHandler<PlacementPolicy>): EventHandler<PlacementPolicy>;
}

export function clusterTracking(state: ClusterState): ClusterTracking {
  const first =
    <T extends VirtualMachine | Node | PlacementPolicy>(apply: (change: ObjectChange<T>) => void) =>
    (handler: EventHandler<T>): EventHandler<T> =>
    (change) => {
      apply(change);
      return handler(change);
    };
  return {
    vm: first<VirtualMachine>((c) => (c.type === 'delete' ? state.removeVm(objectKey(c.object.metadata)) : state.upsertVm(c.object))),
    node: first<Node>((c) => (c.type === 'delete' ? state.removeNode(c.object.metadata.name!) : state.upsertNode(c.object))),
    policy: first<PlacementPolicy>((c) => (c.type === 'delete' ? state.removePolicy(c.object.metadata.name!) : state.upsertPolicy(c.object))),
  };
}
