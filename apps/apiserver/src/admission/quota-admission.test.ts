/**
 * ResourceQuota against a real etcd and a real apiserver process: the kind, enforcement on
 * create and on raised resources with Kubernetes' message, freed quota after deletes, status.used
 * converging (kept by the controller-manager's resourcequota controller, run here as a real
 * process), and many creates racing for the last slots of a quota.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { VirtualMachine } from '@shoal/api';
import { http, startCluster, waitFor, type TestCluster } from '@shoal/testing';

const API = '/apis/shoal.dev/v1alpha1';
const MERGE = { 'content-type': 'application/merge-patch+json' };
const vms = (ns: string) => `${API}/namespaces/${ns}/virtualmachines`;
const quotas = (ns: string) => `${API}/namespaces/${ns}/resourcequotas`;

let cp: TestCluster;
const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => http(cp.url, method, path, body, headers);

const vm = (name: string, vcpus = 1, memoryMiB = 128) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { resources: { vcpus, memoryMiB } },
});
const quota = (name: string, hard: object) => ({ apiVersion: 'shoal.dev/v1alpha1', kind: 'ResourceQuota', metadata: { name }, spec: { hard } });

async function namespace(name: string): Promise<void> {
  const r = await api('POST', `${API}/namespaces`, { metadata: { name } });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

async function create(path: string, body: object): Promise<any> {
  const r = await api('POST', path, body);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

const usedOf = async (ns: string, name: string) => (await api('GET', `${quotas(ns)}/${name}`)).body.status?.used;
const waitForUsed = (ns: string, name: string, want: object) =>
  waitFor(async () => JSON.stringify(await usedOf(ns, name)) === JSON.stringify(want), { message: `${ns}/${name} status.used = ${JSON.stringify(want)}` });

before(async () => {
  // status.used is kept by the controller-manager's resourcequota controller.
  cp = await startCluster({ controllerManager: { controllers: ['resourcequota'] } });
});
after(() => cp?.stop());

test('ResourceQuota: namespaced, short name quota, hard limits validated, columns', async () => {
  await namespace('q-kind');
  const discovery = (await api('GET', API)).body.resources.find((r: { name: string }) => r.name === 'resourcequotas');
  assert.deepEqual(
    { namespaced: discovery.namespaced, shortNames: discovery.shortNames, kind: discovery.kind },
    { namespaced: true, shortNames: ['quota'], kind: 'ResourceQuota' },
  );

  const bad = await api('POST', quotas('q-kind'), quota('bad', { vcpus: -1, memoryMiB: 1.5 }));
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.details.causes.map((c: { field: string }) => c.field).sort(), ['spec.hard.memoryMiB', 'spec.hard.vcpus']);
  const unknown = await api('POST', quotas('q-kind'), quota('unknown', { gpus: 1 }));
  assert.equal(unknown.status, 400);

  await create(quotas('q-kind'), quota('compute', { vcpus: 4, virtualmachines: 2 }));
  await create(vms('q-kind'), vm('one', 2));
  await waitForUsed('q-kind', 'compute', { vcpus: 2, virtualmachines: 1 });
  const table = await api('GET', quotas('q-kind'), undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  assert.deepEqual(
    table.body.columnDefinitions.map((c: { name: string }) => c.name),
    ['Name', 'vCPUs', 'vCPU-Limit', 'Memory', 'Memory-Limit', 'VMs', 'VM-Limit', 'Age'],
  );
  assert.deepEqual(table.body.rows[0].cells.slice(0, 7), ['compute', 2, 4, null, null, 1, 2]);
});

test('a VM over a hard limit is refused with 403 naming the quota, and refused VMs change nothing', async () => {
  await namespace('q-limit');
  await create(quotas('q-limit'), quota('compute', { vcpus: 8, memoryMiB: 1024, virtualmachines: 3 }));
  await create(vms('q-limit'), vm('a', 2));
  await create(vms('q-limit'), vm('b', 4));

  const over = await api('POST', vms('q-limit'), vm('c', 4));
  assert.equal(over.status, 403);
  assert.equal(over.body.reason, 'Forbidden');
  assert.equal(over.body.message, 'virtualmachines "c" is forbidden: exceeded quota: compute, requested: vcpus=4, used: vcpus=6, limited: vcpus=8');
  assert.deepEqual(
    over.body.details.causes.map((c: { field: string }) => c.field),
    ['spec.resources.vcpus'],
  );
  assert.equal((await api('GET', `${vms('q-limit')}/c`)).status, 404);

  const both = await api('POST', vms('q-limit'), vm('d', 3, 1000));
  assert.equal(
    both.body.message,
    'virtualmachines "d" is forbidden: exceeded quota: compute, requested: memoryMiB=1000,vcpus=3, used: memoryMiB=256,vcpus=6, limited: memoryMiB=1024,vcpus=8',
  );
  assert.deepEqual(
    both.body.details.causes.map((c: { field: string }) => c.field),
    ['spec.resources.memoryMiB', 'spec.resources.vcpus'],
  );

  await create(vms('q-limit'), vm('e', 2));
  const count = await api('POST', vms('q-limit'), vm('f', 1, 32));
  assert.equal(count.status, 403);
  assert.match(
    count.body.message,
    /exceeded quota: compute, requested: vcpus=1,virtualmachines=1, used: vcpus=8,virtualmachines=3, limited: vcpus=8,virtualmachines=3$/,
  );

  // A dry run is checked the same way.
  assert.equal((await api('POST', `${vms('q-limit')}?dryRun=All`, vm('g', 1))).status, 403);

  // Deleting a VM frees its share.
  assert.equal((await api('DELETE', `${vms('q-limit')}/b`)).status, 200);
  await create(vms('q-limit'), vm('h', 4));
  await waitForUsed('q-limit', 'compute', { memoryMiB: 384, vcpus: 8, virtualmachines: 3 });
});

test("raising a VM's resources is checked; lowering them is not", async () => {
  await namespace('q-update');
  await create(quotas('q-update'), quota('cpu', { vcpus: 4 }));
  await create(vms('q-update'), vm('a', 2));
  await create(vms('q-update'), vm('b', 1));
  const raised = await api('PATCH', `${vms('q-update')}/a`, { spec: { resources: { vcpus: 4 } } }, MERGE);
  assert.equal(raised.status, 403);
  assert.equal(raised.body.message, 'virtualmachines "a" is forbidden: exceeded quota: cpu, requested: vcpus=2, used: vcpus=3, limited: vcpus=4');
  assert.equal((await api('GET', `${vms('q-update')}/a`)).body.spec.resources.vcpus, 2);
  assert.equal((await api('PATCH', `${vms('q-update')}/a`, { spec: { resources: { vcpus: 3 } } }, MERGE)).status, 200);
  assert.equal((await api('PATCH', `${vms('q-update')}/b`, { spec: { resources: { vcpus: 1, memoryMiB: 64 } } }, MERGE)).status, 200);
  assert.equal((await api('PATCH', `${vms('q-update')}/a`, { spec: { resources: { vcpus: 1 } } }, MERGE)).status, 200);
  await waitForUsed('q-update', 'cpu', { vcpus: 2 });
});

test('a quota applies from the moment it is created; namespaces without one are not limited', async () => {
  await namespace('q-fresh');
  await namespace('q-free');
  await create(quotas('q-fresh'), quota('none', { virtualmachines: 0 }));
  const refused = await api('POST', vms('q-fresh'), vm('a'));
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  for (let n = 0; n < 5; n++) await create(vms('q-free'), vm(`free-${n}`, 8));
  await waitForUsed('q-fresh', 'none', { virtualmachines: 0 });
});

test('status.used follows creates and deletes, and a quota with a new limit reports it', async () => {
  await namespace('q-status');
  await create(quotas('q-status'), quota('all', { vcpus: 100, memoryMiB: 100000, virtualmachines: 100 }));
  await waitForUsed('q-status', 'all', { memoryMiB: 0, vcpus: 0, virtualmachines: 0 });
  await Promise.all(Array.from({ length: 10 }, (_, n) => create(vms('q-status'), vm(`s-${n}`, 2, 256))));
  await waitForUsed('q-status', 'all', { memoryMiB: 2560, vcpus: 20, virtualmachines: 10 });
  await Promise.all(Array.from({ length: 4 }, (_, n) => api('DELETE', `${vms('q-status')}/s-${n}`)));
  await waitForUsed('q-status', 'all', { memoryMiB: 1536, vcpus: 12, virtualmachines: 6 });
  assert.equal((await api('PATCH', `${quotas('q-status')}/all`, { spec: { hard: { vcpus: 50, memoryMiB: null, virtualmachines: null } } }, MERGE)).status, 200);
  await waitForUsed('q-status', 'all', { vcpus: 12 });
});

test('creates racing for a quota: exactly the allowed number get in', async () => {
  await namespace('q-race');
  await create(quotas('q-race'), quota('five', { virtualmachines: 5 }));
  const answers = await Promise.all(Array.from({ length: 40 }, (_, n) => api('POST', vms('q-race'), vm(`r-${n}`))));
  const codes = answers.map((a) => a.status);
  assert.equal(codes.filter((c) => c === 201).length, 5, JSON.stringify(codes));
  assert.equal(codes.filter((c) => c === 403).length, 35, JSON.stringify(answers.find((a) => a.status !== 201 && a.status !== 403)?.body));
  assert.equal((await api('GET', vms('q-race'))).body.items.length, 5);

  // By vCPUs too, with VMs of different sizes: the sum never passes the limit.
  await create(quotas('q-race'), quota('cpu', { vcpus: 20 }));
  await api('DELETE', `${quotas('q-race')}/five`);
  const sized = await Promise.all(Array.from({ length: 30 }, (_, n) => api('POST', vms('q-race'), vm(`v-${n}`, 1 + (n % 3)))));
  assert.deepEqual(new Set(sized.map((a) => a.status)), new Set([201, 403]));
  const items = (await api('GET', vms('q-race'))).body.items as VirtualMachine[];
  const total = items.reduce((sum, v) => sum + v.spec.resources.vcpus, 0);
  assert.ok(total <= 20, `vcpus in use: ${total}`);
  // Every refused VM really did not fit when it was refused: at least one vCPU short at the end.
  const smallestRefused = Math.min(...sized.map((a, n) => (a.status === 403 ? 1 + (n % 3) : Infinity)));
  assert.ok(total + smallestRefused > 20, `${total} used, yet a ${smallestRefused}-vCPU VM was refused`);
  await waitForUsed('q-race', 'cpu', { vcpus: total });
});

test('two apiservers racing for one quota: the write guard alone keeps the limit', async () => {
  const second = await cp.startApiserver();
  try {
    await namespace('q-two');
    await create(quotas('q-two'), quota('six', { virtualmachines: 6 }));
    // Both apiservers serve the quota (a consistent list: the second one's cache has it).
    assert.equal((await http(second.url, 'GET', quotas('q-two'))).body.items.length, 1);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, n) => http(n % 2 ? second.url : cp.url, 'POST', vms('q-two'), vm(`t-${n}`))));
    const codes = answers.map((a) => a.status);
    const created = codes.filter((c) => c === 201).length;
    // A create that kept losing the race to the other server may be told to retry (409); none may exceed the quota.
    assert.deepEqual(
      [...new Set(codes)].filter((c) => c !== 201 && c !== 403 && c !== 409),
      [],
      JSON.stringify(answers.find((a) => ![201, 403, 409].includes(a.status))?.body),
    );
    assert.equal((await api('GET', vms('q-two'))).body.items.length, created);
    assert.ok(created <= 6, `${created} VMs created against a quota of 6`);
    assert.equal(created, 6, `codes: ${JSON.stringify(codes)}`);
  } finally {
    await second.stop();
  }
});
