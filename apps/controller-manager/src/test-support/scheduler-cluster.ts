/**
 * A scheduler test cluster: a real etcd, a real apiserver and the real shoal-controller-manager
 * process. Nodes are plain Node objects created through the API with their status written via
 * /status — no agent is needed to be scheduled onto.
 */
import { after } from 'node:test';
import type { Condition, Event, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { startCluster, waitForObject, type ControllerManagerProcess, type TestCluster } from '@shoal/testing';
import { everyObject, putBack, type ClusterObjects } from './shared-cluster.js';

export interface VmOpts {
  vcpus?: number;
  memoryMiB?: number;
  nodeSelector?: Record<string, string>;
  labels?: Record<string, string>;
  spec?: Partial<VirtualMachine['spec']>;
}

export interface Cluster {
  cluster: TestCluster;
  cm: ControllerManagerProcess;
  client: ShoalClient;
  metricsUrl: string;
}

export interface ClusterOptions {
  /** More flags for the apiserver (authentication, authorization). */
  apiserverArgs?: string[];
  /** The test client's bearer token (with --token-auth-file: an admin's). */
  token?: string;
  /** Runs before the controller-manager starts: a backlog it finds waiting, roles it runs with. */
  before?: (client: ShoalClient) => Promise<void>;
}

/**
 * A cluster per test as good as fresh, and its own controller-manager: Nodes are cluster-scoped,
 * so tests sharing one would see each other's. Without apiserver flags or a token, the file's
 * tests share one etcd and apiserver, put back as new between them: once a test's
 * controller-manager is stopped, and before the next test, whatever it made is deleted
 * (finalizers and all) and the objects the apiserver made at its start must be there unchanged
 * (shared-cluster.ts). A cluster that cannot be put back so is stopped, and the test gets a new one.
 */
export async function withCluster(fn: (c: Cluster) => Promise<void>, extraArgs: string[] = [], opts: ClusterOptions = {}): Promise<void> {
  if (opts.apiserverArgs?.length || opts.token) {
    const cluster = await startCluster({ apiserverArgs: opts.apiserverArgs, client: { token: opts.token } });
    try {
      await opts.before?.(cluster.client);
      const cm = await cluster.startControllerManager({ args: extraArgs });
      await fn({ cluster, cm, client: cluster.client, metricsUrl: cm.metricsUrl });
    } finally {
      await cluster.stop();
    }
    return;
  }
  const { cluster } = await sharedCluster();
  let cm: ControllerManagerProcess | undefined;
  try {
    await opts.before?.(cluster.client);
    cm = await cluster.startControllerManager({ args: extraArgs });
    await fn({ cluster, cm, client: cluster.client, metricsUrl: cm.metricsUrl });
  } finally {
    await cm?.stop();
    // Put back by the next test that wants it, if there is one.
    dirty = true;
  }
}

/** The file's shared cluster, and every object in it when it was new; `dirty` once a test has used it. */
let shared: Promise<{ cluster: TestCluster; baseline: ClusterObjects }> | undefined;
let dirty = false;

after(async () => {
  const s = shared;
  shared = undefined;
  await (await s?.catch(() => undefined))?.cluster.stop();
});

async function sharedCluster(): Promise<{ cluster: TestCluster; baseline: ClusterObjects }> {
  if (shared && dirty) {
    dirty = false;
    const s = await shared;
    try {
      await putBack(s.cluster.client, s.baseline);
    } catch (err) {
      // Not as it was: no test may use it again.
      shared = undefined;
      await s.cluster.stop();
      process.stderr.write(`scheduler-cluster: a new cluster: ${(err as Error).message}\n`);
    }
  }
  return (shared ??= startShared());
}

async function startShared(): Promise<{ cluster: TestCluster; baseline: ClusterObjects }> {
  const cluster = await startCluster();
  try {
    return { cluster, baseline: await everyObject(cluster.client) };
  } catch (err) {
    await cluster.stop();
    throw err;
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
  await client.create('node', { metadata: { name, labels: o.labels }, spec: { unschedulable: o.unschedulable ?? false } });
  const room = { vcpus: o.vcpus ?? 4, memoryMiB: o.memoryMiB ?? 4096 };
  const ready: Condition = {
    type: 'Ready',
    status: o.ready === false ? 'False' : 'True',
    reason: o.ready === false ? 'AgentNotReady' : 'AgentReady',
    lastTransitionTime: new Date().toISOString(),
  };
  await client.patch('node', name, { status: { capacity: room, allocatable: room, conditions: [ready] } }, { type: 'merge', status: true });
}

export async function addVm(client: ShoalClient, name: string, o: VmOpts = {}): Promise<VirtualMachine> {
  return client.create('vm', {
    metadata: { name, namespace: 'default', ...(o.labels ? { labels: o.labels } : {}) },
    spec: { resources: { vcpus: o.vcpus ?? 1, memoryMiB: o.memoryMiB ?? 256 }, ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}), ...o.spec },
  }) as Promise<VirtualMachine>;
}

export const getVm = (client: ShoalClient, name: string) => client.get<VirtualMachine>('vm', name, { namespace: 'default' });
export const scheduledCondition = (vm: VirtualMachine) => vm.status?.conditions?.find((c) => c.type === 'Scheduled');

export async function boundTo(client: ShoalClient, name: string): Promise<string> {
  const vm = await waitForObject(client, 'VirtualMachine', name, (v) => !!v.spec.nodeName, { namespace: 'default', message: 'bound to a node' });
  return vm.spec.nodeName!;
}

/** Waits until the VM says it is unschedulable with exactly this message. */
export async function pendingWith(client: ShoalClient, name: string, message: string | RegExp): Promise<VirtualMachine> {
  return waitForObject(
    client,
    'VirtualMachine',
    name,
    (vm) => {
      const c = scheduledCondition(vm);
      const matches = typeof message === 'string' ? c?.message === message : message.test(c?.message ?? '');
      return c?.status === 'False' && c.reason === 'Unschedulable' && matches;
    },
    { namespace: 'default', message: `Pending with "${message}"` },
  );
}

export async function eventsFor(client: ShoalClient, name: string, reason?: string): Promise<Event[]> {
  const list = await client.list<Event>('event', { namespace: 'default' });
  return list.items.filter((e) => e.involvedObject.name === name && (!reason || e.reason === reason));
}

export async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(url)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}
