/**
 * Keeps a ClusterState in step with the shared informers for one controller (the scheduler
 * and the preemptor each keep their own: a controller rebuilt after it regains leadership
 * starts from a fresh one). The state is updated inside the controller's event handlers, before
 * they answer keys, so a reconcile always reads a state at least as new as the event that
 * queued it.
 */
import { objectKey, type Node, type PlacementPolicy, type VirtualMachine } from '@shoal/api';
import type { Controller, EventHandler, InformerFactory, ObjectChange } from '@shoal/controller-runtime';
import { ClusterState } from '@shoal/scheduler';

export interface ClusterHandlers {
  vm: EventHandler<VirtualMachine>;
  node: EventHandler<Node>;
  policy: EventHandler<PlacementPolicy>;
}

/**
 * Watches VMs, Nodes and PlacementPolicies with `handlers`, each called after the state has
 * taken the change in.
 */
export function trackCluster(controller: Controller, informers: InformerFactory, handlers: ClusterHandlers): ClusterState {
  const state = new ClusterState();
  const withState =
    <T extends VirtualMachine | Node | PlacementPolicy>(apply: (change: ObjectChange<T>) => void, handler: EventHandler<T>): EventHandler<T> =>
    (change) => {
      apply(change);
      return handler(change);
    };
  controller.watch(
    informers.informer<PlacementPolicy>('placementpolicy'),
    withState<PlacementPolicy>((c) => (c.type === 'delete' ? state.removePolicy(c.object.metadata.name!) : state.upsertPolicy(c.object)), handlers.policy),
  );
  controller.watch(
    informers.informer<Node>('node'),
    withState<Node>((c) => (c.type === 'delete' ? state.removeNode(c.object.metadata.name!) : state.upsertNode(c.object)), handlers.node),
  );
  controller.watch(
    informers.informer<VirtualMachine>('vm'),
    withState<VirtualMachine>((c) => (c.type === 'delete' ? state.removeVm(objectKey(c.object.metadata)) : state.upsertVm(c.object)), handlers.vm),
  );
  return state;
}
