/**
 * reconcile(ctx, nodeName) for the health controller (STYLE.md 1–3).
 *
 *   Node gone, or not run by an agent (no Lease, no status.fencing) → nothing to do
 *   lease renewed recently            → Ready=True, no unreachable taint; look again when it would expire
 *   (either of the next two)          → judged again on the Lease as the apiserver has it (a GET):
 *                                       a renewal a stalled watch did not bring counts from now
 *   lease expired                     → Ready=Unknown + unreachable taint; its VMs stay put (they may
 *                                       still run there); look again at the fence time
 *   lease expired + fence timeout     → Ready=Unknown (NodeFenced); every VM bound there is rescued
 *                                       (rescue.ts): unbound to run elsewhere, or finalized if deleting
 *
 * Without status.fencing (an agent that does not publish its fence timeout) a node is marked
 * NotReady but its VMs are never moved: without the timeout, moving them could run one twice.
 */
import {
  ignoreNotFound,
  NODE_LEASE_NAMESPACE,
  objectKey,
  timestamp,
  type Condition,
  type Lease,
  type Node,
  type NodeFencing,
  type VirtualMachine,
} from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder, Result } from '@shoal/controller-runtime';
import type { Logger } from 'pino';
import { nodeHealth, readyConditionFor, taintsFor, type NodeHealth, type NodeTiming } from './node-health.js';
import { NODE_LOST_REASON, rescueFromFencedNode } from './rescue.js';

/** When this controller saw each node's lease last renewed (see node-health.ts for why not renewTime). */
export class RenewalClock {
  private readonly seen = new Map<string, { renewTime?: string; resourceVersion?: string; at: number }>();
  constructor(private readonly now: () => number) {}

  /**
   * Notes the lease as observed now; answers when its current renewal was first seen. A copy
   * older than one seen already (the cache behind the apiserver's copy read before) changes nothing.
   */
  observe(nodeName: string, lease: Lease | undefined): number {
    const renewTime = lease?.spec.renewTime;
    const resourceVersion = lease?.metadata.resourceVersion;
    const before = this.seen.get(nodeName);
    if (before && (before.renewTime === renewTime || olderThan(resourceVersion, before.resourceVersion))) return before.at;
    const at = this.now();
    this.seen.set(nodeName, { renewTime, resourceVersion, at });
    return at;
  }

  forget(nodeName: string): void {
    this.seen.delete(nodeName);
  }
}

/** Whether resourceVersion a is older than b (both set): etcd revisions, ordered. */
function olderThan(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && BigInt(a) < BigInt(b);
}

export interface HealthContext {
  client: ShoalClient;
  nodes: Pick<Informer<Node>, 'get'>;
  leases: Pick<Informer<Lease>, 'get'>;
  vms: Pick<Informer<VirtualMachine>, 'list'>;
  clock: RenewalClock;
  recorder: EventRecorder;
  log: Logger;
  /** NotReady after this long without a renewal; 0: the lease's own duration. */
  gracePeriodMs: number;
  /** Nodes last judged not Ready: a VM bound to one of them wakes its node. */
  unhealthy: Set<string>;
  now: () => number;
}

export async function reconcile(ctx: HealthContext, nodeName: string): Promise<Result> {
  const node = ctx.nodes.get(nodeName);
  const lease = ctx.leases.get(`${NODE_LEASE_NAMESPACE}/${nodeName}`);
  const fencing: NodeFencing | undefined = node?.status?.fencing;
  if (!node || (!lease && !fencing)) {
    ctx.clock.forget(nodeName);
    ctx.unhealthy.delete(nodeName);
    return {};
  }
  const leaseDurationMs = 1000 * (lease?.spec.leaseDurationSeconds ?? fencing?.leaseDurationSeconds ?? 40);
  const timing: NodeTiming = {
    leaseDurationMs,
    fenceTimeoutMs: fencing?.fenceTimeoutSeconds !== undefined ? fencing.fenceTimeoutSeconds * 1000 : Infinity,
    graceMs: ctx.gracePeriodMs || leaseDurationMs,
  };
  const now = ctx.now();
  let health = nodeHealth(now, ctx.clock.observe(nodeName, lease), timing);
  if (health.state !== 'Ready') health = await confirmedOnApiserver(ctx, nodeName, health, now, timing);
  if (health.state === 'Ready') ctx.unhealthy.delete(nodeName);
  else ctx.unhealthy.add(nodeName);

  await reportHealth(ctx, node, health, timestamp(now));
  if (health.state === 'Fenced') await rescueVms(ctx, nodeName);

  const wakeAt = health.state === 'Ready' ? health.until : health.state === 'Unreachable' ? health.fencedAt : undefined;
  return wakeAt === undefined || !Number.isFinite(wakeAt) ? {} : { requeueAfterMs: Math.max(0, wakeAt - now) + 50 };
}

/**
 * A node judged silent on the cache is judged again on the apiserver's own copy of its Lease
 * (read from etcd) before anything is done about it: a lease watch that stalls — an apiserver
 * whose etcd watch lags — would show a live node as silent, and rescuing its VMs would run
 * them twice, the node's fence never firing. A renewal the cache missed counts from now.
 */
async function confirmedOnApiserver(ctx: HealthContext, nodeName: string, cached: NodeHealth, now: number, timing: NodeTiming): Promise<NodeHealth> {
  const live = await ignoreNotFound(ctx.client.get<Lease>('lease', nodeName, { namespace: NODE_LEASE_NAMESPACE }));
  if (!live) return cached;
  const health = nodeHealth(now, ctx.clock.observe(nodeName, live), timing);
  if (health.state === 'Ready') ctx.log.info({ node: nodeName }, 'the lease cache missed a renewal the apiserver has: the node is renewing');
  return health;
}

async function reportHealth(ctx: HealthContext, node: Node, health: NodeHealth, now: string): Promise<void> {
  const name = node.metadata.name!;
  const conditions = node.status?.conditions ?? [];
  const ready = readyConditionFor(
    conditions.find((c) => c.type === 'Ready'),
    health,
    now,
  );
  if (ready) {
    const next: Condition[] = [ready, ...conditions.filter((c) => c.type !== 'Ready')];
    await ignoreNotFound(
      ctx.client.patch(
        'node',
        name,
        { metadata: { resourceVersion: node.metadata.resourceVersion }, status: { conditions: next } },
        { type: 'merge', status: true },
      ),
    );
    if (health.state !== 'Ready') ctx.recorder.event(node, 'Warning', 'NodeNotReady', `node ${name} stopped renewing its lease`);
    else ctx.recorder.event(node, 'Normal', 'NodeReady', `node ${name} is renewing its lease again`);
    // The patch moved the resourceVersion; the taint patch follows on the next pass (the update requeues us).
    return;
  }
  const taints = taintsFor(node.spec.taints, health.state === 'Ready', now);
  if (taints)
    await ignoreNotFound(ctx.client.patch('node', name, { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { taints } }, { type: 'merge' }));
}

async function rescueVms(ctx: HealthContext, nodeName: string): Promise<void> {
  const bound = ctx.vms.list().filter((vm) => vm.spec.nodeName === nodeName);
  if (bound.length === 0) return;
  const now = timestamp(ctx.now());
  const moved: string[] = [];
  for (const vm of bound) {
    const { patch, message } = rescueFromFencedNode(vm, nodeName, now);
    const { name, namespace, resourceVersion } = vm.metadata;
    // Pinned to the version judged: a VM that changed meanwhile is judged again (409 → retry).
    const done = await ignoreNotFound(
      ctx.client.patch<VirtualMachine>('vm', name!, { ...patch, metadata: { ...patch.metadata, resourceVersion } }, { type: 'merge', namespace }),
    );
    if (!done) continue;
    moved.push(objectKey(vm.metadata));
    if (message) ctx.recorder.event(vm, 'Warning', NODE_LOST_REASON, message);
  }
  if (moved.length) {
    ctx.log.info({ node: nodeName, vms: moved }, 'rescued VMs from a fenced node');
    const node = ctx.nodes.get(nodeName);
    if (node)
      ctx.recorder.event(
        node,
        'Warning',
        'NodeFenced',
        `released ${moved.length} VM(s) bound to this node: ${moved.slice(0, 10).join(', ')}${moved.length > 10 ? ', …' : ''}`,
      );
  }
}
