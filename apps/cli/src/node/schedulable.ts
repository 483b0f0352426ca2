/** Cordon and uncordon: whether the scheduler may place new VMs on a node (spec.unschedulable). */
import { ApiError, type Node } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { UsageError } from '../cli-errors.js';
import { connect } from '../connect.js';
import type { GlobalArgs } from '../global-options.js';

export interface NodeArgs extends GlobalArgs {
  node: string;
}

/** Sets spec.unschedulable; answers whether it changed anything. */
export async function setUnschedulable(client: ShoalClient, node: string, unschedulable: boolean): Promise<boolean> {
  let current: Node;
  try {
    current = await client.get<Node>('node', node);
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) throw new UsageError(`node "${node}" not found`);
    throw err;
  }
  if ((current.spec?.unschedulable ?? false) === unschedulable) return false;
  await client.patch('node', node, { spec: { unschedulable } }, { type: 'merge' });
  return true;
}

/** `cordon NODE` / `uncordon NODE`, with kubectl's wording. */
export async function changeSchedulable(args: NodeArgs, unschedulable: boolean): Promise<void> {
  const { client } = await connect(args);
  try {
    const changed = await setUnschedulable(client, args.node, unschedulable);
    const verb = unschedulable ? 'cordoned' : 'uncordoned';
    process.stdout.write(`node/${args.node} ${changed ? verb : `already ${verb}`}\n`);
  } finally {
    await client.close();
  }
}
