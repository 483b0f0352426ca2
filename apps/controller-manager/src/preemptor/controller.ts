/**
 * The preemptor's wiring (STYLE.md 4). It shares nothing with the scheduler but the informers:
 * the scheduler says a VM is Unschedulable, the preemptor evicts lower-priority VMs for it and
 * nominates a node, the agents stop the victims and unbind them, and the scheduler places the
 * VM once the room is free (the nomination keeps that room from the victims, who wait pending
 * again). One worker: plans are made one at a time on one state, so two preemptors never
 * pick the same victims or count the same freed room twice.
 *
 *   VM added/updated, Unschedulable, may preempt → that VM
 *   a victim leaves its node (unbound, deleted)  → the VM that preempted it
 */
import { objectKey, type Node, type PlacementPolicy, type PriorityClass, type VirtualMachine } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import { ClusterState, defaultProfile } from '@shoal/scheduler';
import type { ControllerEnv } from '../controller-env.js';
import { storageInformers } from '../placement/storage-lookup.js';
import { clusterTracking } from '../placement/cluster-tracking.js';
import { isUnschedulable, reconcile, type PreemptorContext } from './reconcile.js';

export const PREEMPTOR_NAME = 'preemptor';
export const PREEMPTOR_COMPONENT = 'shoal-preemptor';
const WAIT_FOR_VICTIMS_MS = 2_000;

export function preemptorController(env: ControllerEnv): Controller {
  const vms = env.informers.informer<VirtualMachine>('vm');
  const nodes = env.informers.informer<Node>('node');
  const policies = env.informers.informer<PlacementPolicy>('placementpolicy');
  const log = env.log.child({ controller: PREEMPTOR_NAME });
  const state = new ClusterState();
  const storage = storageInformers(env);
  state.storage = storage.lookup;
  const ctx: PreemptorContext = {
    client: env.client,
    state,
    priorityClasses: env.informers.informer<PriorityClass>('priorityclass'),
    profile: defaultProfile,
    recorder: env.recorder(PREEMPTOR_COMPONENT),
    log,
    // Read at each reconcile: a reload of the config file changes it.
    get minPriorityGap() {
      return env.settings.preemptionMinPriorityGap;
    },
    waitForVictimsMs: WAIT_FOR_VICTIMS_MS,
  };
  const controller = new Controller({ name: PREEMPTOR_NAME, workers: 1, registry: env.registry, log, reconcile: (key) => reconcile(ctx, key) });

  const onVm: EventHandler<VirtualMachine> = function* (change) {
    const vm = change.object;
    if (change.type !== 'delete' && isUnschedulable(vm) && vm.spec.preemptionPolicy !== 'Never') yield objectKey(vm.metadata);
    const before = change.type === 'update' ? change.old : change.type === 'delete' ? change.object : undefined;
    const by = before?.status?.preemptedBy;
    if (by && before.spec.nodeName && (change.type === 'delete' || !vm.spec.nodeName)) yield by;
  };
  // Nodes and policies only keep the state current: a VM waits for the scheduler to say it is Unschedulable.
  const nothing = () => [];
  const track = clusterTracking(state);
  return controller
    .watch(storage.volumes, nothing)
    .watch(storage.pools, nothing)
    .watch(policies, track.policy(nothing))
    .watch(nodes, track.node(nothing))
    .watch(vms, track.vm(onVm));
}
