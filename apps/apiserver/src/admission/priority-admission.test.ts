/**
 * Priority admission and the PriorityClass / PlacementPolicy kinds, against a real etcd: first
 * through a real apiserver process as clients see it, then in-process with a watch cache made
 * to lag, to show the write guards send admission back to etcd when the cache was wrong.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { ApiError, kinds as loadKinds, type VirtualMachine } from '@shoal/api';
import { http, startCluster, type TestCluster } from '@shoal/testing';
import { ObjectStore } from '../storage/object-store.js';
import { WatchCache } from '../storage/watch-cache.js';
import { ResourceService } from '../registry/resource-service.js';
import { AdmissionChain } from './admission-chain.js';
import { PriorityAdmission } from './priority-admission.js';
import { storedPriorityClasses, type ClassSnapshot } from './priority-classes.js';

const API = '/apis/shoal.dev/v1alpha1';
const VMS = `${API}/namespaces/default/virtualmachines`;
const PCS = `${API}/priorityclasses`;
const PPS = `${API}/placementpolicies`;
const MERGE = { 'content-type': 'application/merge-patch+json' };

let cp: TestCluster;
let api: <T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => ReturnType<typeof http<T>>;

const vm = (name: string, spec: object = {}) => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'VirtualMachine',
  metadata: { name },
  spec: { resources: { vcpus: 1, memoryMiB: 128 }, ...spec },
});
const pc = (name: string, spec: object) => ({ apiVersion: 'shoal.dev/v1alpha1', kind: 'PriorityClass', metadata: { name }, spec });
const causes = (body: any): string[] => (body.details?.causes ?? []).map((c: { field: string }) => c.field);

before(async () => {
  cp = await startCluster();
  api = (method, path, body, headers) => http(cp.url, method, path, body, headers);
});
after(() => cp?.stop());

/** Every PriorityClass and VM, for proving that a refused request changed nothing. */
async function keyspace(): Promise<string> {
  const all = await Promise.all([PCS, `${API}/virtualmachines`].map((p) => api('GET', p)));
  return JSON.stringify(all.map((r) => r.body.items));
}

test('a PriorityClass gets its defaults and prints Value, PreemptionPolicy and GlobalDefault', async () => {
  const created = await api('POST', PCS, pc('batch', { value: 10 }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.metadata.namespace, undefined);
  const got = await api('GET', `${PCS}/batch`);
  assert.deepEqual(got.body.spec, { value: 10, preemptionPolicy: 'PreemptLowerPriority', globalDefault: false, evictionGracePeriodSeconds: 30 });

  const table = await api('GET', PCS, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  assert.deepEqual(
    table.body.columnDefinitions.map((c: { name: string }) => c.name),
    ['Name', 'Value', 'PreemptionPolicy', 'GlobalDefault', 'Age'],
  );
  const row = table.body.rows.find((r: { cells: unknown[] }) => r.cells[0] === 'batch');
  assert.deepEqual(row.cells.slice(0, 4), ['batch', 10, 'PreemptLowerPriority', false]);

  const discovery = (await api('GET', API)).body.resources.find((r: { name: string }) => r.name === 'priorityclasses');
  assert.deepEqual(
    { namespaced: discovery.namespaced, shortNames: discovery.shortNames, kind: discovery.kind },
    { namespaced: false, shortNames: ['pc'], kind: 'PriorityClass' },
  );
});

test('a PriorityClass needs spec.value in 0..1000, and refusals change nothing', async () => {
  const before = await keyspace();
  assert.deepEqual(causes((await api('POST', PCS, { metadata: { name: 'nospec' } })).body), ['spec']);
  assert.deepEqual(causes((await api('POST', PCS, pc('novalue', {}))).body), ['spec.value']);
  const high = await api('POST', PCS, pc('high', { value: 1001, preemptionPolicy: 'Sometimes', evictionGracePeriodSeconds: -1 }));
  assert.equal(high.status, 422);
  assert.deepEqual(causes(high.body).sort(), ['spec.evictionGracePeriodSeconds', 'spec.preemptionPolicy', 'spec.value']);
  assert.equal(await keyspace(), before);
});

test('spec.value of a PriorityClass cannot change; its other fields can', async () => {
  await api('POST', PCS, pc('fixed', { value: 20, description: 'first' }));
  const changed = await api('PATCH', `${PCS}/fixed`, { spec: { value: 21 } }, MERGE);
  assert.equal(changed.status, 422);
  assert.deepEqual(causes(changed.body), ['spec.value']);
  assert.match(changed.body.message, /immutable/);
  const described = await api('PATCH', `${PCS}/fixed`, { spec: { description: 'second', preemptionPolicy: 'Never' } }, MERGE);
  assert.equal(described.status, 200);
  assert.equal(described.body.spec.value, 20);
  assert.equal(described.body.metadata.generation, 2);
  assert.equal((await api('DELETE', `${PCS}/fixed`)).status, 200);
  assert.equal((await api('GET', `${PCS}/fixed`)).status, 404);
});

test('a VM naming a class gets its value and preemptionPolicy', async () => {
  await api('POST', PCS, pc('gold', { value: 900, preemptionPolicy: 'Never' }));
  const created = await api('POST', VMS, vm('golden', { priorityClassName: 'gold' }));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.spec.priority, 900);
  assert.equal(created.body.spec.preemptionPolicy, 'Never');
  assert.equal(created.body.spec.priorityClassName, 'gold');
  assert.deepEqual((await api('GET', `${VMS}/golden`)).body.spec, created.body.spec);
  // Stating the class's own values is allowed; they are what admission would set.
  assert.equal((await api('POST', VMS, vm('golden2', { priorityClassName: 'gold', priority: 900, preemptionPolicy: 'Never' }))).status, 201);
});

test('an unknown class is 422 on spec.priorityClassName, also on a dry run, and nothing is written', async () => {
  const before = await keyspace();
  for (const path of [VMS, `${VMS}?dryRun=All`]) {
    const res = await api('POST', path, vm('classless', { priorityClassName: 'platinum' }));
    assert.equal(res.status, 422);
    assert.equal(res.body.reason, 'Invalid');
    assert.deepEqual(causes(res.body), ['spec.priorityClassName']);
    assert.match(res.body.message, /no PriorityClass named platinum/);
  }
  assert.equal(await keyspace(), before);
  const dry = await api('POST', `${VMS}?dryRun=All`, vm('dry', { priorityClassName: 'gold' }));
  assert.equal(dry.status, 201);
  assert.equal(dry.body.spec.priority, 900, 'a dry run is admitted like a create');
  assert.equal((await api('GET', `${VMS}/dry`)).status, 404);
});

test('a spec.priority or preemptionPolicy that disagrees with the class is 422 on that field', async () => {
  const res = await api('POST', VMS, vm('liar', { priorityClassName: 'gold', priority: 1000, preemptionPolicy: 'PreemptLowerPriority' }));
  assert.equal(res.status, 422);
  assert.deepEqual(causes(res.body).sort(), ['spec.preemptionPolicy', 'spec.priority']);
  const noClass = await api('POST', VMS, vm('liar2', { priority: 5 }));
  assert.equal(noClass.status, 422);
  assert.deepEqual(causes(noClass.body), ['spec.priority']);
  assert.equal((await api('GET', `${VMS}/liar`)).status, 404);
});

test('without a class name: priority 0 until a global default exists, then the default; a second default is refused', async () => {
  const plain = (await api('POST', VMS, vm('plain'))).body;
  assert.equal(plain.spec.priority, 0);
  assert.equal(plain.spec.preemptionPolicy, 'PreemptLowerPriority');
  assert.equal(plain.spec.priorityClassName, undefined);
  const emptyName = (await api('POST', VMS, vm('empty-name', { priorityClassName: '' }))).body;
  assert.deepEqual([emptyName.spec.priorityClassName, emptyName.spec.priority], [undefined, 0], 'an empty class name is no class name');

  assert.equal((await api('POST', PCS, pc('standard', { value: 100, globalDefault: true, preemptionPolicy: 'Never' }))).status, 201);
  const defaulted = (await api('POST', VMS, vm('defaulted'))).body;
  assert.equal(defaulted.spec.priorityClassName, 'standard');
  assert.equal(defaulted.spec.priority, 100);
  assert.equal(defaulted.spec.preemptionPolicy, 'Never');

  const before = await keyspace();
  const second = await api('POST', PCS, pc('also-default', { value: 5, globalDefault: true }));
  assert.equal(second.status, 422);
  assert.deepEqual(causes(second.body), ['spec.globalDefault']);
  assert.match(second.body.message, /standard is already the global default/);
  // Turning an existing class into a second default is refused the same way.
  const promoted = await api('PATCH', `${PCS}/batch`, { spec: { globalDefault: true } }, MERGE);
  assert.equal(promoted.status, 422);
  assert.deepEqual(causes(promoted.body), ['spec.globalDefault']);
  assert.equal(await keyspace(), before);

  // Handing the default over: off on one, then on on the other.
  assert.equal((await api('PATCH', `${PCS}/standard`, { spec: { globalDefault: false } }, MERGE)).status, 200);
  assert.equal((await api('PATCH', `${PCS}/batch`, { spec: { globalDefault: true } }, MERGE)).status, 200);
  assert.equal((await api('POST', VMS, vm('handed-over'))).body.spec.priority, 10);
  // The VM admitted earlier keeps the priority it was given.
  assert.equal((await api('GET', `${VMS}/defaulted`)).body.spec.priority, 100);
  await api('PATCH', `${PCS}/batch`, { spec: { globalDefault: false } }, MERGE);
});

test('two classes racing to become the global default: exactly one wins', async () => {
  const results = await Promise.all(['race-a', 'race-b', 'race-c'].map((n) => api('POST', PCS, pc(n, { value: 1, globalDefault: true }))));
  assert.deepEqual(results.map((r) => r.status).sort(), [201, 422, 422], JSON.stringify(results.map((r) => r.body.message)));
  const defaults = (await api('GET', PCS)).body.items.filter((c: any) => c.spec.globalDefault);
  assert.equal(defaults.length, 1);
  for (const n of ['race-a', 'race-b', 'race-c']) await api('DELETE', `${PCS}/${n}`);
});

test('spec.priorityClassName, priority and preemptionPolicy cannot change; an update that leaves them out keeps them', async () => {
  const created = (await api('POST', VMS, vm('steady', { priorityClassName: 'gold' }))).body;
  for (const [field, value] of [
    ['priorityClassName', 'batch'],
    ['priority', 10],
    ['preemptionPolicy', 'PreemptLowerPriority'],
  ] as const) {
    const res = await api('PATCH', `${VMS}/steady`, { spec: { [field]: value } }, MERGE);
    assert.equal(res.status, 422, `${field}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(causes(res.body), [`spec.${field}`]);
    assert.match(res.body.message, /immutable/);
  }

  // A PUT of the manifest as first written (kubectl replace, an apply that never had these fields).
  const manifest = vm('steady', { priorityClassName: 'gold', resources: { vcpus: 2, memoryMiB: 128 } });
  const replaced = await api('PUT', `${VMS}/steady`, { ...manifest, metadata: { name: 'steady', resourceVersion: created.metadata.resourceVersion } });
  assert.equal(replaced.status, 200, JSON.stringify(replaced.body));
  assert.equal(replaced.body.spec.priority, 900);
  assert.equal(replaced.body.spec.preemptionPolicy, 'Never');
  assert.equal(replaced.body.metadata.generation, 2, 'the vCPU change is a new generation');

  // Leaving out the same fields again is no change at all: no write, no new generation.
  const same = await api('PUT', `${VMS}/steady`, { ...manifest, metadata: { name: 'steady', resourceVersion: replaced.body.metadata.resourceVersion } });
  assert.equal(same.status, 200);
  assert.equal(same.body.metadata.resourceVersion, replaced.body.metadata.resourceVersion);
  assert.equal(same.body.metadata.generation, 2);

  // Even the class set from the global default is kept when an update leaves it out.
  await api('POST', PCS, pc('house', { value: 50, globalDefault: true }));
  const housed = (await api('POST', VMS, vm('housed'))).body;
  assert.equal(housed.spec.priorityClassName, 'house');
  const relabelled = await api('PUT', `${VMS}/housed`, {
    ...vm('housed'),
    metadata: { name: 'housed', labels: { a: 'b' }, resourceVersion: housed.metadata.resourceVersion },
  });
  assert.equal(relabelled.status, 200, JSON.stringify(relabelled.body));
  assert.deepEqual([relabelled.body.spec.priorityClassName, relabelled.body.spec.priority, relabelled.body.metadata.generation], ['house', 50, 1]);
  await api('DELETE', `${PCS}/house`);
});

test('a PlacementPolicy gets its defaults, refuses ratios out of range and prints its columns', async () => {
  const created = await api('POST', PPS, { apiVersion: 'shoal.dev/v1alpha1', kind: 'PlacementPolicy', metadata: { name: 'everywhere' } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual((await api('GET', `${PPS}/everywhere`)).body.spec, { overcommit: { vcpus: 1, memory: 1 }, scoring: 'BinPack' });

  const dense = await api('POST', PPS, {
    metadata: { name: 'dense' },
    spec: { nodeSelector: { 'shoal.dev/pool': 'batch' }, overcommit: { vcpus: 4.5 }, scoring: 'Spread' },
  });
  assert.equal(dense.status, 201);
  assert.deepEqual(dense.body.spec, { nodeSelector: { 'shoal.dev/pool': 'batch' }, overcommit: { vcpus: 4.5, memory: 1 }, scoring: 'Spread' });

  const before = await api('GET', PPS);
  const bad = await api('POST', PPS, { metadata: { name: 'bad' }, spec: { overcommit: { vcpus: 17, memory: 0.5 }, scoring: 'Random' } });
  assert.equal(bad.status, 422);
  assert.deepEqual(causes(bad.body).sort(), ['spec.overcommit.memory', 'spec.overcommit.vcpus', 'spec.scoring']);
  assert.equal((await api('PATCH', `${PPS}/dense`, { spec: { overcommit: { memory: 5 } } }, MERGE)).status, 422);
  assert.deepEqual((await api('GET', PPS)).body.items, before.body.items);

  const table = await api('GET', PPS, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  assert.deepEqual(
    table.body.columnDefinitions.map((c: { name: string }) => c.name),
    ['Name', 'Scoring', 'vCPU overcommit', 'Memory overcommit', 'Age'],
  );
  assert.deepEqual(table.body.rows.find((r: { cells: unknown[] }) => r.cells[0] === 'dense').cells.slice(0, 4), ['dense', 'Spread', 4.5, 1]);
  const updated = await api('PATCH', `${PPS}/dense`, { spec: { scoring: 'BinPack' } }, MERGE);
  assert.equal(updated.body.metadata.generation, 2);
  assert.equal((await api('DELETE', `${PPS}/dense`)).status, 200);
  const discovery = (await api('GET', API)).body.resources.find((r: { name: string }) => r.name === 'placementpolicies');
  assert.deepEqual({ namespaced: discovery.namespaced, shortNames: discovery.shortNames }, { namespaced: false, shortNames: ['pp'] });
});

test('admission from a lagging cache: the write guard fails and admission reads etcd instead', async () => {
  const kinds = loadKinds();
  const [vmKind, pcKind] = [kinds.find('vm')!, kinds.find('PriorityClass')!];
  const etcd = new Etcd3({ hosts: cp.etcd.endpoint });
  const store = new ObjectStore(etcd);
  const cache = new WatchCache(etcd, store, kinds.all, { windowSize: 100 });
  await cache.start();
  try {
    const real = storedPriorityClasses(store, cache, pcKind);
    // Frozen before the classes below exist: what a cache that has not caught up would say.
    const stale: ClassSnapshot = await real.snapshot(true);
    const fresh: boolean[] = [];
    const lagging = { ...real, snapshot: async (f: boolean) => (fresh.push(f), f ? real.snapshot(true) : stale) };
    const service = new ResourceService(store, cache, new AdmissionChain([new PriorityAdmission(lagging)]));
    const strict = { fieldValidation: 'Strict' as const, dryRun: false };

    await api('POST', PCS, pc('late-default', { value: 77, globalDefault: true }));
    await api('POST', PCS, pc('late-named', { value: 33 }));

    const defaulted = (await service.create(vmKind, 'default', vm('lag-default'), strict)).object as VirtualMachine;
    assert.equal(defaulted.spec.priority, 77, 'the stale "no default" was not written');
    assert.equal(defaulted.spec.priorityClassName, 'late-default');
    assert.deepEqual(fresh, [false, true], 'one pass from the cache, refused by etcd, then one from etcd');

    fresh.length = 0;
    const named = (await service.create(vmKind, 'default', vm('lag-named', { priorityClassName: 'late-named' }), strict)).object as VirtualMachine;
    assert.equal(named.spec.priority, 33, 'a class the cache has not seen yet is looked up in etcd');
    assert.deepEqual(fresh, [false, true]);

    const missing = await service.create(vmKind, 'default', vm('lag-missing', { priorityClassName: 'nope' }), strict).catch((e: unknown) => e);
    assert.ok(missing instanceof ApiError && missing.code === 422, String(missing));
    await api('DELETE', `${PCS}/late-default`);
  } finally {
    await cache.stop();
    etcd.close();
  }
});
