/**
 * Placement rules end to end: a real etcd and apiserver, the real controller-manager, Node
 * objects created through the API, VMs created through the API — anti-affinity across zones,
 * topology spread within maxSkew, PlacementPolicy overcommit and spreading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ShoalClient } from '@shoal/client';
import { ZONE_LABEL, type PlacementPolicy } from '@shoal/api';
import { waitFor } from '@shoal/testing';
import { addNode, addVm, boundTo, getVm, pendingWith, withCluster } from './test-support/scheduler-cluster.js';

/** Three zones of two nodes each: a1 a2 b1 b2 c1 c2. */
async function addZonedNodes(client: ShoalClient, o: { vcpus?: number } = {}): Promise<void> {
  for (const zone of ['a', 'b', 'c'])
    for (const i of [1, 2]) await addNode(client, `${zone}${i}`, { vcpus: o.vcpus ?? 8, memoryMiB: 16384, labels: { [ZONE_LABEL]: `zone-${zone}` } });
}

const zoneOf = (nodeName: string) => `zone-${nodeName[0]}`;

async function allBound(client: ShoalClient, names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const n of names) out.set(n, await boundTo(client, n));
  return out;
}

test('required anti-affinity on the zone puts each replica in a different zone; one more replica than zones stays Pending and says why', async () => {
  await withCluster(async ({ client }) => {
    await addZonedNodes(client);
    const replica = (name: string) =>
      addVm(client, name, {
        labels: { app: 'db' },
        spec: { affinity: { vmAntiAffinity: { required: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: ZONE_LABEL }] } } },
      });
    // Created at once: concurrent decisions must still see each other (assumed placements).
    await Promise.all(['db-0', 'db-1', 'db-2'].map(replica));
    const placed = await allBound(client, ['db-0', 'db-1', 'db-2']);
    assert.deepEqual([...placed.values()].map(zoneOf).sort(), ['zone-a', 'zone-b', 'zone-c']);

    await replica('db-3');
    await pendingWith(client, 'db-3', "0/6 nodes are available: 6 node(s) didn't match VM anti-affinity rules.");
    // A VM of another app is not held back by the rule.
    await addVm(client, 'web', { labels: { app: 'web' } });
    await boundTo(client, 'web');
  });
});

test('topology spread with maxSkew 1 spreads 9 replicas 3/3/3 over the zones, where bin-packing alone would stack them', async () => {
  await withCluster(async ({ client }) => {
    await addZonedNodes(client, { vcpus: 32 });
    const names = Array.from({ length: 9 }, (_, i) => `api-${i}`);
    const spread = { maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'DoNotSchedule' as const, labelSelector: { matchLabels: { app: 'api' } } };
    await Promise.all(names.map((n) => addVm(client, n, { labels: { app: 'api' }, spec: { topologySpreadConstraints: [spread] } })));
    const placed = await allBound(client, names);
    const perZone = new Map<string, number>();
    for (const node of placed.values()) perZone.set(zoneOf(node), (perZone.get(zoneOf(node)) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries([...perZone].sort()), { 'zone-a': 3, 'zone-b': 3, 'zone-c': 3 });

    // Without the constraint the default BinPack policy puts them on one node.
    const plain = Array.from({ length: 3 }, (_, i) => `plain-${i}`);
    for (const n of plain) {
      await addVm(client, n, { labels: { app: 'plain' } });
      await boundTo(client, n);
    }
    const nodes = new Set((await allBound(client, plain)).values());
    assert.equal(nodes.size, 1, `bin-packed onto one node, got ${[...nodes].join(', ')}`);
  });
});

test('a PlacementPolicy overcommits vCPUs by its ratio and no further; a Spread policy spreads', async () => {
  await withCluster(async ({ client }) => {
    await client.create('placementpolicy', { metadata: { name: 'dense' }, spec: { nodeSelector: { pool: 'dense' }, overcommit: { vcpus: 2 } } });
    await addNode(client, 'dense-1', { vcpus: 4, memoryMiB: 65536, labels: { pool: 'dense' } });
    const names = Array.from({ length: 9 }, (_, i) => `vm-${i}`);
    await Promise.all(names.map((n) => addVm(client, n, { vcpus: 1, nodeSelector: { pool: 'dense' } })));
    const bound = await waitFor(async () => {
      const vms = await Promise.all(names.map((n) => getVm(client, n)));
      const b = vms.filter((v) => v.spec.nodeName);
      const pending = vms.filter((v) => v.status?.conditions?.some((c) => c.type === 'Scheduled' && c.reason === 'Unschedulable'));
      return b.length + pending.length === names.length ? b : undefined;
    });
    assert.equal(bound.length, 8, '4 vCPUs × 2 = 8 one-vCPU VMs');
    const left = names.find((n) => !bound.some((v) => v.metadata.name === n))!;
    await pendingWith(client, left, '0/1 nodes are available: 1 insufficient vcpus.');

    // Spread: a new policy for another pool sends VMs to the emptiest node.
    await client.create('placementpolicy', { metadata: { name: 'even' }, spec: { nodeSelector: { pool: 'even' }, scoring: 'Spread' } });
    for (const n of ['even-1', 'even-2', 'even-3']) await addNode(client, n, { vcpus: 8, labels: { pool: 'even' } });
    const evenVms = ['e-0', 'e-1', 'e-2'];
    for (const n of evenVms) {
      await addVm(client, n, { nodeSelector: { pool: 'even' } });
      await boundTo(client, n);
    }
    assert.deepEqual([...(await allBound(client, evenVms)).values()].sort(), ['even-1', 'even-2', 'even-3']);
  });
});

test('a VM already placed keeps its anti-affinity against newcomers that carry no rule themselves', async () => {
  await withCluster(async ({ client }) => {
    await addNode(client, 'n1', { labels: { [ZONE_LABEL]: 'z1' } });
    await addNode(client, 'n2', { labels: { [ZONE_LABEL]: 'z2' } });
    await addVm(client, 'loner', {
      labels: { app: 'loner' },
      spec: { affinity: { vmAntiAffinity: { required: [{ labelSelector: { matchLabels: { role: 'noisy' } }, topologyKey: ZONE_LABEL }] } } },
    });
    const lonerNode = await boundTo(client, 'loner');
    await addVm(client, 'noisy', { labels: { role: 'noisy' } });
    const noisyNode = await boundTo(client, 'noisy');
    // Bin-packing alone would have put it next to the loner.
    assert.notEqual(noisyNode, lonerNode);
  });
});
