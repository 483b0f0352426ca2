/** Reads the metrics API (metrics.shoal.dev): what VMs and nodes use now, as `kubectl top` reads metrics.k8s.io. */
import { METRICS_API_VERSION, type NodeMetrics, type VirtualMachineMetrics } from '@shoal/api';
import type { ShoalClient } from './client.js';

export interface UsageQuery {
  /** One namespace's VMs; all namespaces when absent. Ignored for nodes. */
  namespace?: string;
  labelSelector?: string;
  signal?: AbortSignal;
}

const PREFIX = `/apis/${METRICS_API_VERSION}`;
const query = (q: UsageQuery) => (q.labelSelector ? { labelSelector: q.labelSelector } : {});

/** The usage of running VMs; a VM that is not running, or whose agent cannot be reached, is not in the list. */
export async function listVmMetrics(client: ShoalClient, q: UsageQuery = {}): Promise<VirtualMachineMetrics[]> {
  const path = q.namespace ? `${PREFIX}/namespaces/${encodeURIComponent(q.namespace)}/virtualmachines` : `${PREFIX}/virtualmachines`;
  return (await client.request<{ items: VirtualMachineMetrics[] }>('GET', path, { query: query(q), signal: q.signal })).items;
}

/** What the VMs on each node use; a node whose agent cannot be reached is not in the list. */
export async function listNodeMetrics(client: ShoalClient, q: UsageQuery = {}): Promise<NodeMetrics[]> {
  return (await client.request<{ items: NodeMetrics[] }>('GET', `${PREFIX}/nodes`, { query: query(q), signal: q.signal })).items;
}
