/**
 * A scheduler test cluster: a real etcd, a real apiserver and the real shoal-controller-manager
 * process. Nodes are plain Node objects created through the API with their status written via
 * /status — no agent is needed to be scheduled onto.
 */
import type { Condition, KubeObject } from '@shoal/api';
import { ShoalClient } from '@shoal/client';
import { startCluster, startProcess, waitFor, type TestCluster, type ShoalProcess } from '@shoal/testing';
import type { Node, VirtualMachine } from '@shoal/scheduler';

export interface VmOpts {
  vcpus?: number;
  memoryMiB?: number;
  nodeSelector?: Record<string, string>;
  labels?: Record<string, string>;
  spec?: Partial<VirtualMachine['spec']>;
}

export interface Cluster {
  cp: TestCluster;
  cm: ShoalProcess & { readyLine: string };
  client: ShoalClient;
  metricsUrl: string;
}

/** A fresh cluster per test: Nodes are cluster-scoped, so tests sharing one would see each other's. */
export async function withCluster(fn: (c: Cluster) => Promise<void>, extraArgs: string[] = []): Promise<void> {
  const cp = await startCluster();
  let cm: Cluster['cm'] | undefined;
  const client = new ShoalClient({ server: cp.url });
  try {
    cm = await startProcess('shoal-controller-manager', ['--server', cp.url, '--port', '0', ...extraArgs], { ready: /ready on/ });
    const metricsUrl = `${/ready on (http:\/\/\S+)/.exec(cm.readyLine)![1]}/metrics`;
    await fn({ cp, cm, client, metricsUrl });
  } finally {
    await client.close();
    await cm?.stop();
    await cp.stop();
  }
}

export interface NodeOpts {
  vcpus?: number;
  memoryMiB?: number;
  ready?: boolean;
  unschedulable?: boolean;
  labels?: Record<string, string>;
}

export async function addNode(client: ShoalClient, name: string, o: NodeOpts = {}): Promise<void> {
  await client.create<Node>('node', { metadata: { name, labels: o.labels }, spec: { unschedulable: o.unschedulable ?? false } });
  const room = { vcpus: o.vcpus ?? 4, memoryMiB: o.memoryMiB ?? 4096 };
  const ready: Condition = { type: 'Ready', status: o.ready === false ? 'False' : 'True', reason: o.ready === false ? 'AgentNotReady' : 'AgentReady', lastTransitionTime: new Date().toISOString() };
  await client.patch('node', name, { status: { capacity: room, allocatable: room, conditions: [ready] } }, { type: 'merge', status: true });
}

export async function addVm(client: ShoalClient, name: string, o: VmOpts = {}): Promise<VirtualMachine> {
  return client.create<VirtualMachine>('vm', {
    metadata: { name, namespace: 'default', ...(o.labels ? { labels: o.labels } : {}) },
    spec: { resources: { vcpus: o.vcpus ?? 1, memoryMiB: o.memoryMiB ?? 256 }, ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}), ...o.spec },
  });
}

export const getVm = (client: ShoalClient, name: string) => client.get<VirtualMachine>('vm', name, { namespace: 'default' });
export const scheduledCondition = (vm: VirtualMachine) => vm.status?.conditions?.find((c) => c.type === 'Scheduled');

export async function boundTo(client: ShoalClient, name: string): Promise<string> {
  return waitFor(async () => (await getVm(client, name)).spec.nodeName, { timeoutMs: 15_000, message: `VM ${name} to be bound` });
}

/** Waits until the VM says it is unschedulable with exactly this message. */
export async function pendingWith(client: ShoalClient, name: string, message: string | RegExp): Promise<VirtualMachine> {
  return waitFor(
    async () => {
      const vm = await getVm(client, name);
      const c = scheduledCondition(vm);
      const matches = typeof message === 'string' ? c?.message === message : message.test(c?.message ?? '');
      return vm.status?.phase === 'Pending' && c?.status === 'False' && c.reason === 'Unschedulable' && matches ? vm : undefined;
    },
    { timeoutMs: 15_000, message: `VM ${name} to be Pending with "${message}"` },
  );
}

export interface EventObj extends KubeObject {
  involvedObject: { kind: string; name: string; namespace?: string; uid?: string };
  reason: string;
  message: string;
  type: string;
  count: number;
  source?: { component?: string };
}

export async function eventsFor(client: ShoalClient, name: string, reason?: string): Promise<EventObj[]> {
  const list = await client.list<EventObj>('event', { namespace: 'default' });
  return list.items.filter((e) => e.involvedObject.name === name && (!reason || e.reason === reason));
}

export async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(url)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}
