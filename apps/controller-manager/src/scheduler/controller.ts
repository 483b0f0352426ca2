/**
 * The scheduler's wiring, in one place (STYLE.md 4): which informers it reads, which changes
 * wake which VMs, the queue policy and the worker count.
 *
 *   VM added/updated, unbound                 → that VM
 *   VM bound by us, shown bound or deleted    → that VM (ends its room reservation)
 *   VM deleted, or stops holding room on a node → every unbound VM (room may be free now)
 *   Node added/deleted, or changed in a way    → every unbound VM
 *   filters read (labels, cordon, Ready, room)
 *   PlacementPolicy changed                    → every unbound VM (room and ranking changed)
 *   Volume or StoragePool changed              → every unbound VM (where its disks are, VolumePlacement)
 *
 * Every change also goes into the scheduler's ClusterState first (placement/cluster-tracking.ts),
 * so a decision reads node usage kept up to date incrementally, never rebuilt from all VMs.
 *
 * Queue policy: higher spec.priority first, first come first served among equals (as the
 * VirtualMachine schema promises, and as kube-scheduler's activeQ orders pods), with the
 * default backoff. The queue is built first because the Binder requeues failed binds
 * through it (binder.ts).
 *
 * Leader election wraps the whole controller (see manager.ts): with --leader-elect it runs only
 * while this process holds shoal-system/shoal-controller-manager-scheduler, and is built anew
 * (empty queue, fresh cluster state) each time the process wins leadership again.
 */
import { objectKey, type Node, type PlacementPolicy, type VirtualMachine } from '@shoal/api';
import { Controller, controllerQueue, type EventHandler } from '@shoal/controller-runtime';
import { allocatableOf, ClusterState, defaultProfile, holdsResources, priorityOf } from '@shoal/scheduler';
import type { ControllerEnv } from '../controller-env.js';
import { clusterTracking } from '../placement/cluster-tracking.js';
import { storageInformers } from '../placement/storage-lookup.js';
import { Binder } from './binder.js';
import { SchedulerMetrics } from './metrics.js';
import { reconcile, type SchedulerContext } from './reconcile.js';

export const SCHEDULER_NAME = 'scheduler';
/** Events say who placed the VM, as Kubernetes' `default-scheduler`. */
export const SCHEDULER_COMPONENT = 'shoal-scheduler';
const UNSCHEDULABLE_RETRY_MS = 30_000;
/**
 * Decisions are synchronous and reserve room before any await, so workers never race on a
 * node's room; binds run in the background (binder.ts), so workers only wait on the API for
 * status writes of VMs that fit nowhere.
 */
const WORKERS = 8;
/** Binds under way at once (in two requests of up to half as many): enough to keep the apiserver busy, few enough to keep its latency low. */
const MAX_BINDS_IN_FLIGHT = 512;

const waitsForNode = (vm: VirtualMachine) => !vm.spec.nodeName && !vm.metadata.deletionTimestamp;

/** The node holding room for this VM, if any (a bound VM that has not stopped for good). */
const roomHeldOn = (vm: VirtualMachine) => (vm.spec.nodeName && holdsResources(vm) ? vm.spec.nodeName : undefined);

/** What the filters read of a node; a change to anything else (a heartbeat, the runtime version) cannot help a waiting VM. */
function schedulingView(node: Node): string {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return JSON.stringify([node.metadata.labels ?? {}, node.spec ?? {}, allocatableOf(node), ready]);
}

export function schedulerController(env: ControllerEnv): Controller {
  const vms = env.informers.informer<VirtualMachine>('vm');
  const nodes = env.informers.informer<Node>('node');
  const policies = env.informers.informer<PlacementPolicy>('placementpolicy');
  const log = env.log.child({ controller: SCHEDULER_NAME });
  const queue = controllerQueue({
    name: SCHEDULER_NAME,
    registry: env.registry,
    // Read as a key joins the queue; a VM gone by then sorts as 0 and its reconcile finds nothing to do.
    priorityOf: (key) => {
      const vm = vms.get(key);
      return vm ? priorityOf(vm) : 0;
    },
  });
  const state = new ClusterState();
  const storage = storageInformers(env);
  state.storage = storage.lookup;
  const recorder = env.recorder(SCHEDULER_COMPONENT);
  const metrics = new SchedulerMetrics(env.registry);
  const binder = new Binder({
    client: env.client,
    state,
    recorder,
    log,
    metrics,
    requeue: (key) => queue.addRateLimited(key),
    maxInFlight: MAX_BINDS_IN_FLIGHT,
  });
  const ctx: SchedulerContext = {
    client: env.client,
    vms,
    state,
    binder,
    nextStartIndex: 0,
    profile: defaultProfile,
    recorder,
    log,
    metrics,
    unschedulableRetryMs: UNSCHEDULABLE_RETRY_MS,
  };
  const controller = new Controller({ name: SCHEDULER_NAME, workers: WORKERS, registry: env.registry, log, queue, reconcile: (key) => reconcile(ctx, key) });

  const everyWaitingVm = () =>
    vms
      .list()
      .filter(waitsForNode)
      .map((vm) => objectKey(vm.metadata));

  const onVm: EventHandler<VirtualMachine> = function* (change) {
    const vm = change.object;
    const key = objectKey(vm.metadata);
    const assumed = state.assumed.get(key);
    if (change.type !== 'delete' ? waitsForNode(vm) || assumed : assumed) yield key;
    if (change.type === 'delete') yield* everyWaitingVm();
    else if (change.type === 'update') {
      const heldBefore = roomHeldOn(change.old);
      if (heldBefore && heldBefore !== roomHeldOn(vm)) yield* everyWaitingVm();
    }
  };

  const onNode: EventHandler<Node> = (change) => {
    if (change.type === 'update' && schedulingView(change.old) === schedulingView(change.object)) return [];
    return everyWaitingVm();
  };

  const track = clusterTracking(state);
  // A Volume made (its node now known), or a pool's reach changed: waiting VMs may fit now.
  return controller
    .watch(storage.volumes, everyWaitingVm)
    .watch(storage.pools, everyWaitingVm)
    .watch(policies, track.policy(everyWaitingVm))
    .watch(nodes, track.node(onNode))
    .watch(vms, track.vm(onVm));
}
