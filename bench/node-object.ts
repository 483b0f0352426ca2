/**
 * The Nodes the benchmark writes when it needs no agents behind them: what an agent registers
 * (labels of its place in the topology, then capacity, address and fencing in its status).
 */
import type { Pool } from 'undici';
import { call } from './http-client.js';

const NODES = '/apis/shoal.dev/v1alpha1/nodes';

/** Node `i` as its agent would register it: created with its labels, then its status. */
export async function registerNode(pool: Pool, i: number): Promise<void> {
  const name = `bench-node-${String(i).padStart(5, '0')}`;
  const labels = { 'topology.kubernetes.io/zone': `zone-${i % 9}`, 'shoal.dev/rack': `rack-${i % 36}`, 'kubernetes.io/hostname': name };
  await call(pool, 'POST', NODES, { body: { apiVersion: 'shoal.dev/v1alpha1', kind: 'Node', metadata: { name, labels }, spec: {} } });
  const capacity = { vcpus: 32, memoryMiB: 131072 };
  await call(pool, 'PATCH', `${NODES}/${name}/status`, {
    contentType: 'application/merge-patch+json',
    expect: 200,
    body: {
      status: {
        capacity,
        allocatable: capacity,
        agentAddress: `https://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:10250`,
        runtime: 'simulated',
        fencing: { leaseDurationSeconds: 4, fenceTimeoutSeconds: 5 },
      },
    },
  });
}
