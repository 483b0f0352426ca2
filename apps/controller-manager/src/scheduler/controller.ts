/**
 * The scheduler's wiring, in one place (STYLE.md 4): which informers it reads, which changes
 * wake which VMs, the queue policy and the worker count.
 *
 *   VM added/updated, unbound                 → that VM
 *   VM bound by us, shown bound or deleted    → that VM (ends its room reservation)
 *   VM deleted, or stops holding room on a node → every unbound VM (room may be free now)
 *   Node added/deleted, or changed in a way    → every unbound VM
 *   filters read (labels, cordon, Ready, room)
 *
 * Leader election wraps the whole controller (see manager.ts): with --leader-elect it runs only
 * while this process holds shoal-system/shoal-controller-manager-scheduler, and is built anew
 * (empty queue, empty assume cache) each time the process wins leadership again.
 */
import { objectKey } from '@shoal/api';
import { Controller, type EventHandler } from '@shoal/controller-runtime';
import { AssumeCache, allocatableOf, firstFitProfile, holdsResources, type Node, type VirtualMachine } from '@shoal/scheduler';
import type { ControllerEnv } from '../controllers.js';
import { SchedulerMetrics } from './metrics.js';
import { reconcile, type SchedulerContext } from './reconcile.js';

export const SCHEDULER_NAME = 'scheduler';
/** Events say who placed the VM, as Kubernetes' `default-scheduler`. */
export const SCHEDULER_COMPONENT = 'shoal-scheduler';
const UNSCHEDULABLE_RETRY_MS = 30_000;
/**
 * Decisions are synchronous and reserve room before any await, so workers only overlap the API
 * calls (bind, status) of different VMs; they never race on a node's room.
 */
const WORKERS = 8;

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
  const assumed = new AssumeCache();
  const ctx: SchedulerContext = {
    client: env.client,
    vms,
    nodes,
    assumed,
    profile: firstFitProfile,
    recorder: env.recorder(SCHEDULER_COMPONENT),
    log: env.log.child({ controller: SCHEDULER_NAME }),
    metrics: new SchedulerMetrics(env.registry),
    unschedulableRetryMs: UNSCHEDULABLE_RETRY_MS,
  };
  const controller = new Controller({
    name: SCHEDULER_NAME,
    workers: WORKERS,
    registry: env.registry,
    log: ctx.log,
    reconcile: (key) => reconcile(ctx, key),
  });

  const everyWaitingVm = () => vms.list().filter(waitsForNode).map((vm) => objectKey(vm.metadata));

  const onVm: EventHandler<VirtualMachine> = function* (change) {
    const vm = change.object;
    const key = objectKey(vm.metadata);
    if (change.type !== 'delete' ? waitsForNode(vm) || assumed.get(key) : assumed.get(key)) yield key;
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

  return controller.watch(vms, onVm).watch(nodes, onNode);
}
