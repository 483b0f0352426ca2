/**
 * `drain`: cordon the node, ask the node's agent to evict every VM bound there (the eviction
 * request the preemptor uses too: the agent shuts the guest down, then unbinds the VM, and the
 * scheduler places it elsewhere), and wait until no VM is bound to the node. A VM with
 * evictionStrategy LiveMigrate gets the same request, and the migration controller moves it
 * running to another node instead (its agent shuts it down only when that fails).
 */
import {
  ApiError,
  EVICTION_REQUESTED_ANNOTATION,
  evictionRequestOf,
  objectKey,
  parseDuration,
  type EvictionRequest,
  type PriorityClass,
  type VirtualMachine,
} from '@shoal/api';
import { Informer, type ShoalClient } from '@shoal/client';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import { setUnschedulable, type NodeArgs } from '../../node/schedulable.js';

export interface DrainArgs extends NodeArgs {
  gracePeriod?: number;
  timeout: string;
}

const DEFAULT_GRACE_SECONDS = 30;

export async function drain(args: DrainArgs): Promise<void> {
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(args.timeout);
  } catch (err) {
    throw new UsageError(`--timeout: ${(err as Error).message}`);
  }
  if (args.gracePeriod !== undefined && !(Number.isInteger(args.gracePeriod) && args.gracePeriod >= 0))
    throw new UsageError('--grace-period must be a whole number of seconds ≥ 0');
  const { client } = connect(args);
  const onNode = new Informer<VirtualMachine>(client, 'vm', { fieldSelector: `spec.nodeName=${args.node}` });
  try {
    const changed = await setUnschedulable(client, args.node, true);
    process.stdout.write(`node/${args.node} ${changed ? 'cordoned' : 'already cordoned'}\n`);

    onNode.start();
    await onNode.waitForSync({ timeoutMs: 30_000 });
    for (const vm of onNode.list()) await evict(client, args, vm);
    await waitUntilEmpty(onNode, args.node, timeoutMs);
    process.stdout.write(`node/${args.node} drained\n`);
  } finally {
    await onNode.stop();
    await client.close();
  }
}

async function evict(client: ShoalClient, args: DrainArgs, vm: VirtualMachine): Promise<void> {
  const key = objectKey(vm.metadata);
  if (vm.metadata.deletionTimestamp || evictionRequestOf(vm.metadata)) return; // already leaving
  const request: EvictionRequest = {
    reason: 'Drained',
    message: `node ${args.node} is being drained`,
    gracePeriodSeconds: args.gracePeriod ?? (await classGrace(client, vm.spec.priorityClassName)),
    requestedAt: new Date().toISOString(),
  };
  try {
    // Pinned to the version listed: a VM that moved meanwhile must not be evicted from its new node.
    await client.patch(
      'vm',
      vm.metadata.name!,
      { metadata: { resourceVersion: vm.metadata.resourceVersion, annotations: { [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify(request) } } },
      { type: 'merge', namespace: vm.metadata.namespace },
    );
    // LiveMigrate: the migration controller moves it (the node's agent shuts it down only if that fails).
    process.stdout.write(`${vm.spec.evictionStrategy === 'LiveMigrate' ? 'migrating' : 'evicting'} virtualmachine/${key}\n`);
  } catch (err) {
    if (!(err instanceof ApiError && (err.code === 404 || err.code === 409))) throw err;
    // Gone or changed: if it is still here, the informer shows the newer version and we try again.
    const newer = await client.get<VirtualMachine>('vm', vm.metadata.name!, { namespace: vm.metadata.namespace }).catch(() => undefined);
    if (newer?.spec.nodeName === args.node) await evict(client, args, newer);
  }
}

async function classGrace(client: ShoalClient, className: string | undefined): Promise<number> {
  if (!className) return DEFAULT_GRACE_SECONDS;
  const pc = await client.get<PriorityClass>('priorityclass', className).catch(() => undefined);
  return pc?.spec.evictionGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
}

/** Resolves once no VM is bound to the node; reports each VM that leaves. */
function waitUntilEmpty(onNode: Informer<VirtualMachine>, node: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const left = () => onNode.list().map((v) => objectKey(v.metadata));
    const done = () => {
      clearTimeout(timer);
      onNode.off('delete', onLeave);
      resolve();
    };
    const onLeave = (vm: VirtualMachine) => {
      process.stdout.write(`virtualmachine/${objectKey(vm.metadata)} evicted\n`);
      if (left().length === 0) done();
    };
    const timer = setTimeout(() => {
      onNode.off('delete', onLeave);
      process.stderr.write(`error: timed out after ${timeoutMs / 1000} s waiting for node ${node} to be drained; still there: ${left().join(', ')}\n`);
      reject(new ExitError(1));
    }, timeoutMs);
    onNode.on('delete', onLeave);
    if (left().length === 0) done();
    else process.stderr.write(`waiting for ${left().length} VM(s) to leave node ${node}…\n`);
  });
}
