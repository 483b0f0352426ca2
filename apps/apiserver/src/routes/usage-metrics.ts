/**
 * The metrics API, `metrics.shoal.dev/v1alpha1`: what VMs and nodes use now, for `shoalctl top`
 * and the web console, as metrics.k8s.io serves `kubectl top`. Nothing is stored: each request
 * lists the VMs or Nodes asked for from the watch cache, asks the agents that run them for their
 * latest samples (agent-usage.ts) and answers in the shape metrics-server does.
 *
 *   GET .../nodes[/{name}]                                  NodeMetrics: the sum over the node's VMs
 *   GET .../virtualmachines                                 VirtualMachineMetrics of every namespace
 *   GET .../namespaces/{ns}/virtualmachines[/{name}]        of one namespace, or one VM
 *
 * `labelSelector` filters the objects measured. Authorization is RBAC's on the metrics.shoal.dev
 * resources `nodes` and `virtualmachines` (get, list), so reading usage can be granted apart from
 * reading the objects. An agent that cannot answer leaves its VMs out of a list, as metrics-server
 * does (logged, and counted by node in shoal_apiserver_usage_agent_errors_total); a request for
 * one object whose agent cannot answer gets that agent's error.
 */
import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import {
  ApiError,
  cpuQuantity,
  memoryQuantity,
  METRICS_API_VERSION,
  METRICS_GROUP,
  parseLabelSelector,
  windowDuration,
  type KindInfo,
  type KubeObject,
  type Node,
  type NodeMetrics,
  type VirtualMachine,
  type VirtualMachineMetrics,
  type VmUsage,
} from '@shoal/api';
import type { ResourceService } from '../registry/resource-service.js';
import { AgentConnections, type AgentTlsOptions } from './agent-connection.js';
import { AgentUsageReader } from './agent-usage.js';

export interface UsageMetricsRoutesOptions {
  kinds: KindInfo[];
  service: Pick<ResourceService, 'list' | 'get'>;
  agentTls?: AgentTlsOptions;
  /** How long an agent may take to answer (default 5 s). */
  agentTimeoutMs?: number;
}

/** Agents asked at once: a big cluster's `top nodes` must not open a thousand connections together. */
const AGENTS_AT_ONCE = 32;
const PREFIX = `/apis/${METRICS_API_VERSION}`;

const agentErrors = new Counter({
  name: 'shoal_apiserver_usage_agent_errors_total',
  help: 'Requests of the metrics API to node agents that got no usable answer, by node.',
  labelNames: ['node'],
});

interface Query {
  labelSelector?: string;
}

export async function usageMetricsRoutes(app: FastifyInstance, opts: UsageMetricsRoutesOptions): Promise<void> {
  const vmKind = opts.kinds.find((k) => k.kind === 'VirtualMachine')!;
  const nodeKind = opts.kinds.find((k) => k.kind === 'Node')!;
  const timeoutMs = opts.agentTimeoutMs ?? 5_000;
  const agents = new AgentConnections(opts.agentTls, timeoutMs);
  app.addHook('onClose', async () => agents.close());
  const reader = new AgentUsageReader(agents, opts.agentTls, timeoutMs);
  const list = async <T extends KubeObject>(kind: KindInfo, namespace: string | undefined, labelSelector: string | undefined) =>
    (await opts.service.list(kind, { namespace, labels: parseLabelSelector(labelSelector), fields: [], resourceVersion: '0' })).items as T[];

  /** Each node's samples; a node whose agent failed maps to its error. */
  const usageByNode = async (nodes: Node[]): Promise<Map<string, VmUsage[] | ApiError>> => {
    const out = new Map<string, VmUsage[] | ApiError>();
    await forEachLimited(nodes, AGENTS_AT_ONCE, async (node) => {
      try {
        out.set(node.metadata.name!, await reader.read(node));
      } catch (err) {
        const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
        agentErrors.inc({ node: node.metadata.name! });
        app.log.debug({ node: node.metadata.name, err: e.message }, 'no usage from the agent');
        out.set(node.metadata.name!, e);
      }
    });
    return out;
  };

  const vmMetrics = async (vms: VirtualMachine[]): Promise<{ items: VirtualMachineMetrics[]; errors: Map<string, ApiError> }> => {
    const nodeNames = new Set(vms.map((vm) => vm.spec.nodeName).filter((n): n is string => Boolean(n)));
    const nodes = (await list<Node>(nodeKind, undefined, undefined)).filter((n) => nodeNames.has(n.metadata.name!));
    const byNode = await usageByNode(nodes);
    const samples = new Map<string, VmUsage>();
    const errors = new Map<string, ApiError>();
    for (const [node, usage] of byNode) {
      if (usage instanceof ApiError) errors.set(node, usage);
      else for (const u of usage) samples.set(u.uid, u);
    }
    const items: VirtualMachineMetrics[] = [];
    for (const vm of vms) {
      const u = samples.get(vm.metadata.uid!);
      if (u && u.namespace === vm.metadata.namespace && u.name === vm.metadata.name) items.push(vmMetricsOf(vm, u));
    }
    return { items, errors };
  };

  const config = (resource: string, verb: 'get' | 'list') => ({ resource: `${resource}.${METRICS_GROUP}`, verb });
  const metricsList = (kind: string, items: unknown[]) => ({ kind, apiVersion: METRICS_API_VERSION, metadata: {}, items });

  app.get<{ Querystring: Query }>(`${PREFIX}/nodes`, { config: config('nodes', 'list'), schema: { hide: true } }, async (req) => {
    const nodes = await list<Node>(nodeKind, undefined, req.query.labelSelector);
    const byNode = await usageByNode(nodes);
    const items = nodes.flatMap((n) => {
      const usage = byNode.get(n.metadata.name!);
      return usage instanceof ApiError || usage === undefined ? [] : [nodeMetricsOf(n, usage)];
    });
    return metricsList('NodeMetricsList', items);
  });
  app.get<{ Params: { name: string } }>(`${PREFIX}/nodes/:name`, { config: config('nodes', 'get'), schema: { hide: true } }, async (req) => {
    const node = (await opts.service.get({ kind: nodeKind, name: req.params.name })) as Node;
    const usage = (await usageByNode([node])).get(node.metadata.name!)!;
    if (usage instanceof ApiError) throw usage;
    return nodeMetricsOf(node, usage);
  });
  const vmList = async (namespace: string | undefined, labelSelector: string | undefined) =>
    metricsList('VirtualMachineMetricsList', (await vmMetrics(await list<VirtualMachine>(vmKind, namespace, labelSelector))).items);
  app.get<{ Querystring: Query }>(`${PREFIX}/virtualmachines`, { config: config('virtualmachines', 'list'), schema: { hide: true } }, async (req) =>
    vmList(undefined, req.query.labelSelector),
  );
  app.get<{ Params: { namespace: string }; Querystring: Query }>(
    `${PREFIX}/namespaces/:namespace/virtualmachines`,
    { config: config('virtualmachines', 'list'), schema: { hide: true } },
    async (req) => vmList(req.params.namespace, req.query.labelSelector),
  );
  app.get<{ Params: { namespace: string; name: string } }>(
    `${PREFIX}/namespaces/:namespace/virtualmachines/:name`,
    { config: config('virtualmachines', 'get'), schema: { hide: true } },
    async (req) => {
      const { namespace, name } = req.params;
      const vm = (await opts.service.get({ kind: vmKind, namespace, name })) as VirtualMachine;
      const { items, errors } = await vmMetrics([vm]);
      if (items[0]) return items[0];
      const agentError = vm.spec.nodeName && errors.get(vm.spec.nodeName);
      if (agentError) throw agentError;
      throw new ApiError(404, 'NotFound', `virtualmachinemetrics.${METRICS_GROUP} "${name}" not found: the virtualmachine is not running`, {
        name,
        group: METRICS_GROUP,
        kind: 'virtualmachinemetrics',
      });
    },
  );
}

function vmMetricsOf(vm: VirtualMachine, u: VmUsage): VirtualMachineMetrics {
  return {
    apiVersion: METRICS_API_VERSION,
    kind: 'VirtualMachineMetrics',
    metadata: { name: vm.metadata.name!, namespace: vm.metadata.namespace, creationTimestamp: new Date().toISOString(), labels: vm.metadata.labels },
    timestamp: u.timestamp,
    window: windowDuration(u.windowSeconds),
    node: vm.spec.nodeName,
    usage: { cpu: cpuQuantity(u.cpuCores), memory: memoryQuantity(u.memoryBytes) },
  };
}

function nodeMetricsOf(node: Node, usage: VmUsage[]): NodeMetrics {
  const now = new Date().toISOString();
  const newest = usage.reduce((t, u) => (u.timestamp > t ? u.timestamp : t), '');
  return {
    apiVersion: METRICS_API_VERSION,
    kind: 'NodeMetrics',
    metadata: { name: node.metadata.name!, creationTimestamp: now, labels: node.metadata.labels },
    timestamp: newest || now,
    window: windowDuration(Math.max(0, ...usage.map((u) => u.windowSeconds))),
    usage: {
      cpu: cpuQuantity(usage.reduce((s, u) => s + u.cpuCores, 0)),
      memory: memoryQuantity(usage.reduce((s, u) => s + u.memoryBytes, 0)),
    },
    vms: usage.length,
  };
}

/** Runs `fn` over every item, at most `limit` at a time. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
