/**
 * What this package's integration tests need besides startCluster (@shoal/testing: a real etcd
 * and a real apiserver — no mocks: revisions, watches and conflicts only mean something against
 * the real thing): objects to write, and the two etcd calls tests need that the API does not
 * offer: the current revision, and compaction (to make the server answer 410 Expired on purpose).
 */
import type { EtcdMember } from '@shoal/testing';
import type { KubeObject } from '@shoal/api';
import type { ShoalClient } from '../client.js';

export async function createNamespace(client: ShoalClient, name: string): Promise<void> {
  await client.create('Namespace', { apiVersion: 'shoal.dev/v1alpha1', kind: 'Namespace', metadata: { name } });
}

export function vm(name: string, namespace: string, extra: { labels?: Record<string, string>; vcpus?: number } = {}): KubeObject {
  return {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: { resources: { vcpus: extra.vcpus ?? 1 } },
  };
}

/** etcd's gRPC gateway (the JSON face of its v3 API). */
async function etcdCall(etcd: EtcdMember, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${etcd.endpoint}${path}`, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

export async function etcdRevision(etcd: EtcdMember): Promise<number> {
  const r = await etcdCall(etcd, '/v3/kv/range', { key: Buffer.from('/').toString('base64'), limit: 1 });
  return Number((r.header as { revision: string }).revision);
}

/** Forgets all history before the current revision: watches from older versions now get 410. */
export async function compactEtcd(etcd: EtcdMember): Promise<number> {
  const revision = await etcdRevision(etcd);
  await etcdCall(etcd, '/v3/kv/compaction', { revision: String(revision), physical: true });
  return revision;
}
