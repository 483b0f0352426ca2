/**
 * Registers this host as a Node and reports what it offers; re-run whenever that changes. The
 * agent owns these status fields of its Node: capacity, allocatable, agentAddress,
 * overlayAddress, runtime and fencing. Whether the node is Ready is the health controller's to say, from the agent's Lease
 * renewals (its Ready condition), so a restarted agent never declares a node Ready by itself.
 */
import { ApiError } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import type { Capacity, RuntimeInfo } from './runtime/driver.js';
import type { FencingTiming } from './fencing/timing.js';

export interface NodeRegistration {
  nodeName: string;
  labels: Record<string, string>;
  capacity: Capacity;
  runtime: RuntimeInfo;
  agentAddress: string;
  /** Where the other nodes reach this one's end of the VM networks' overlay; undefined when it attaches no VM to Networks. */
  overlayAddress?: string;
  /** Published as status.fencing: the health controller moves this node's VMs only after lease expiry + fence timeout. */
  fencing: FencingTiming;
}

export async function registerNode(client: ShoalClient, r: NodeRegistration): Promise<void> {
  try {
    await client.create('node', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name: r.nodeName, labels: r.labels }, spec: {} });
  } catch (err) {
    if (!(err instanceof ApiError && err.reason === 'AlreadyExists')) throw err;
    // Labels from the agent's configuration win; labels others added stay.
    await client.patch('node', r.nodeName, { metadata: { labels: r.labels } }, { type: 'merge' });
  }
  await client.patch(
    'node',
    r.nodeName,
    {
      status: {
        capacity: r.capacity,
        allocatable: r.capacity,
        agentAddress: r.agentAddress,
        overlayAddress: r.overlayAddress ?? null,
        runtime: r.runtime,
        fencing: r.fencing,
      },
    },
    { type: 'merge', status: true },
  );
}

/** Publishes a changed fence timeout alone (status.fencing); resolves once the apiserver has it. */
export async function publishFencing(client: ShoalClient, nodeName: string, fencing: FencingTiming): Promise<void> {
  await client.patch('node', nodeName, { status: { fencing } }, { type: 'merge', status: true });
}
