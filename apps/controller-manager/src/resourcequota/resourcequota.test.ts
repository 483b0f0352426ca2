/**
 * The resourcequota controller end to end: a real etcd, apiserver and controller-manager
 * process (only `--controllers resourcequota`). The apiserver enforces quotas at admission; this
 * controller keeps status.used, through the API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuotaResources, ResourceQuota, VirtualMachine } from '@shoal/api';
import type { ShoalClient } from '@shoal/client';
import { waitFor } from '@shoal/testing';
import { refusals, withSystemCluster } from '../test-support/system-cluster.js';

const vm = (name: string, vcpus: number, memoryMiB = 128): VirtualMachine =>
  ({ metadata: { name }, spec: { runStrategy: 'Halted', resources: { vcpus, memoryMiB } } }) as VirtualMachine;

async function quota(client: ShoalClient, ns: string, name: string, hard: QuotaResources): Promise<void> {
  await client.create<ResourceQuota>('resourcequota', { metadata: { name }, spec: { hard } } as ResourceQuota, { namespace: ns });
}

/** Waits until the quota's status.used is exactly `want`. */
function usedIs(client: ShoalClient, ns: string, name: string, want: QuotaResources): Promise<QuotaResources> {
  return waitFor(
    async () => {
      const used = (await client.get<ResourceQuota>('resourcequota', name, { namespace: ns })).status?.used;
      return JSON.stringify(used) === JSON.stringify(want) ? used : undefined;
    },
    { message: `${ns}/${name} status.used = ${JSON.stringify(want)}` },
  );
}

const resize = (client: ShoalClient, ns: string, name: string, vcpus: number, memoryMiB: number) =>
  client.patch('vm', name, { spec: { resources: { vcpus, memoryMiB } } }, { type: 'merge', namespace: ns });

test('status.used converges after creates, deletes and resizes, per quota, for only the resources each limits, and only its own namespace counts', async () => {
  await withSystemCluster({ controllers: ['resourcequota'] }, async ({ client, cm }) => {
    await client.create('namespace', { metadata: { name: 'team' }, spec: {} });
    await client.create('namespace', { metadata: { name: 'other' }, spec: {} });
    await quota(client, 'team', 'all', { vcpus: 64, memoryMiB: 65536, virtualmachines: 20 });
    await quota(client, 'team', 'count', { virtualmachines: 20 });
    await usedIs(client, 'team', 'all', { memoryMiB: 0, vcpus: 0, virtualmachines: 0 });
    await usedIs(client, 'team', 'count', { virtualmachines: 0 });

    await Promise.all(Array.from({ length: 8 }, (_, n) => client.create('vm', vm(`v-${n}`, 2, 256), { namespace: 'team' })));
    await client.create('vm', vm('elsewhere', 16, 4096), { namespace: 'other' });
    await usedIs(client, 'team', 'all', { memoryMiB: 2048, vcpus: 16, virtualmachines: 8 });
    await usedIs(client, 'team', 'count', { virtualmachines: 8 });

    await Promise.all([0, 1, 2].map((n) => client.delete('vm', `v-${n}`, { namespace: 'team' })));
    await resize(client, 'team', 'v-3', 6, 1024);
    await resize(client, 'team', 'v-4', 1, 64);
    // 5 VMs: v-3 6/1024, v-4 1/64, three of 2/256.
    await usedIs(client, 'team', 'all', { memoryMiB: 1856, vcpus: 13, virtualmachines: 5 });
    await usedIs(client, 'team', 'count', { virtualmachines: 5 });

    // A quota's limits change: it reports what it limits now.
    await client.patch('resourcequota', 'all', { spec: { hard: { vcpus: 64, memoryMiB: null, virtualmachines: null } } }, { type: 'merge', namespace: 'team' });
    await usedIs(client, 'team', 'all', { vcpus: 13 });
    // A quota created later starts right; one in a namespace without VMs says 0.
    await quota(client, 'team', 'late', { memoryMiB: 8192 });
    await usedIs(client, 'team', 'late', { memoryMiB: 1856 });
    await quota(client, 'other', 'mem', { memoryMiB: 8192 });
    await usedIs(client, 'other', 'mem', { memoryMiB: 4096 });
    // status.used is the controller's: a stray write is put right.
    await client.patch('resourcequota', 'late', { status: { used: { memoryMiB: 1 } } }, { type: 'merge', status: true, namespace: 'team' });
    await usedIs(client, 'team', 'late', { memoryMiB: 1856 });
    assert.deepEqual(refusals(cm!), []);
  });
});

test('the controller killed mid-way catches up, once back, with what changed while it was down', async () => {
  await withSystemCluster({ controllers: ['resourcequota'] }, async (c) => {
    const { client } = c;
    await client.create('namespace', { metadata: { name: 'team' }, spec: {} });
    await quota(client, 'team', 'cpu', { vcpus: 32 });
    await client.create('vm', vm('a', 4), { namespace: 'team' });
    await usedIs(client, 'team', 'cpu', { vcpus: 4 });

    await c.cm!.kill();
    await client.create('vm', vm('b', 2), { namespace: 'team' });
    await resize(client, 'team', 'a', 8, 128);
    await quota(client, 'team', 'count', { virtualmachines: 10 });
    // Nobody else keeps status.used: it still says what it said.
    assert.deepEqual((await client.get<ResourceQuota>('resourcequota', 'cpu', { namespace: 'team' })).status?.used, { vcpus: 4 });

    await c.startControllerManager();
    await usedIs(client, 'team', 'cpu', { vcpus: 10 });
    await usedIs(client, 'team', 'count', { virtualmachines: 2 });
  });
});

test('run as system:shoal:resourcequota (--controller-tokens-dir), its status writes are authorized and audited under that name, and are its only writes', async () => {
  await withSystemCluster({ controllers: ['resourcequota'], secured: true }, async ({ client, cm, audit }) => {
    await client.create('namespace', { metadata: { name: 'team' }, spec: {} });
    await quota(client, 'team', 'cpu', { vcpus: 32 });
    await client.create('vm', vm('a', 3), { namespace: 'team' });
    await usedIs(client, 'team', 'cpu', { vcpus: 3 });

    const mine = await waitFor(
      async () => {
        const entries = (await audit()).filter((e) => e.user === 'system:shoal:resourcequota');
        return entries.length ? entries : undefined;
      },
      { message: "the resourcequota controller's writes in the audit log" },
    );
    // Its only writes are status patches of the quota (a 409 would be a stale version, retried).
    assert.deepEqual(
      [...new Set(mine.map((e) => `${e.verb} ${e.resource}/${e.subresource} ${e.namespace}/${e.name}`))],
      ['patch resourcequotas/status team/cpu'],
    );
    assert.ok(mine.some((e) => e.code === 200));
    assert.deepEqual(
      mine.filter((e) => e.code === 401 || e.code === 403),
      [],
      'nothing it asked for was refused',
    );
    assert.deepEqual(refusals(cm!), [], 'its role allows all it does');
  });
});
