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
  type EvictionRequest,
  type PriorityClass,
  type VirtualMachine,
} from '@shoal/api';
import { Informer, type ShoalClient } from '@shoal/client';
import { ExitError, UsageError } from '../../cli-errors.js';
import { connect } from '../../connect.js';
import { durationFlag } from '../../duration-flag.js';
import { setUnschedulable, type NodeArgs } from '../../node/schedulable.js';
import { waitWithProgress, WaitTimeoutError } from '../../output/wait-progress.js';

export interface DrainArgs extends NodeArgs {
  gracePeriod?: number;
  timeout: string;
}

const DEFAULT_GRACE_SECONDS = 30;

export async function drain(args: DrainArgs): Promise<void> {
  const timeoutMs = durationFlag('--timeout', args.timeout);
  if (args.gracePeriod !== undefined && !(Number.isInteger(args.gracePeriod) && args.gracePeriod >= 0))
    throw new UsageError('--grace-period must be a whole number of seconds ≥ 0');
  const { client } = await connect(args);
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

/** Resolves once no VM is bound to the node; reports each VM that leaves (stdout), and what is left (progress on stderr). */
async function waitUntilEmpty(onNode: Informer<VirtualMachine>, node: string, timeoutMs: number): Promise<void> {
  const left = () => onNode.list().map((v) => objectKey(v.metadata));
  const total = left().length;
  if (total === 0) return;
  try {
    await waitWithProgress({ subject: `draining node/${node}`, timeoutMs }, (progress, signal) => {
      const report = (keys: string[]) =>
        progress.update({ phase: `${keys.length} of ${total} VMs left`, detail: keys.join(', '), fraction: (total - keys.length) / total });
      return new Promise<void>((resolve, reject) => {
        const finish = (end: () => void) => {
          onNode.off('delete', onLeave);
          end();
        };
        const onLeave = (vm: VirtualMachine) => {
          progress.note(`virtualmachine/${objectKey(vm.metadata)} evicted`, process.stdout);
          const keys = left();
          if (keys.length === 0) finish(resolve);
          else report(keys);
        };
        signal.addEventListener('abort', () => finish(() => reject(signal.reason)), { once: true });
        onNode.on('delete', onLeave);
        report(left());
      });
    });
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    process.stderr.write(`error: ${err.message}; the evictions asked for go on\n`);
    throw new ExitError(1);
  }
}
