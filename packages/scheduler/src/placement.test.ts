/** PlacementPolicy (overcommit, bin-pack/spread), VM affinity, topology spread and preemption, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVICTION_REQUESTED_ANNOTATION, HOSTNAME_LABEL, ZONE_LABEL } from '@shoal/api';
import { ClusterState } from './cluster-state.js';
import { feasibleNodesToFind, normalizeMinMax, normalizeReverse, normalizeToMax, schedule } from './framework.js';
import { policyFor } from './placement-policy.js';
import { planPreemption } from './preemption.js';
import { defaultProfile } from './profile.js';
import { resourcesFit } from './plugins/resources-fit.js';
import { SPREAD_MISMATCH, SPREAD_MISSING_LABEL } from './plugins/topology-spread.js';
import { EXISTING_ANTI_AFFINITY, VM_AFFINITY_MISMATCH, VM_ANTI_AFFINITY_MISMATCH } from './plugins/vm-affinity.js';
import { check, node, policy, vm } from './test-support/fixtures.js';
import type { Node, VirtualMachine } from '@shoal/api';

/** Places `vms` one by one as the scheduler does (decide, then assume); answers the node of each, `-` for none. */
function placeAll(state: ClusterState, vms: VirtualMachine[]): string[] {
  for (const v of vms) state.upsertVm(v);
  return vms.map((v) => {
    const r = schedule(v, state, defaultProfile);
    if (!r.ok) return '-';
    state.assume(v, r.nodeName);
    return r.nodeName;
  });
}

const zoned = (name: string, zone: string, o: Parameters<typeof node>[1] = {}): Node => node(name, { ...o, labels: { [ZONE_LABEL]: zone, ...o.labels } });

test('a node follows the most specific matching PlacementPolicy; none means no overcommit and bin-packing', () => {
  const gpu = node('g', { labels: { pool: 'gpu', zone: 'a' } });
  const all = policy('all', { overcommit: { vcpus: 2 }, scoring: 'Spread' });
  const pool = policy('pool', { nodeSelector: { pool: 'gpu' }, overcommit: { vcpus: 4, memory: 1.5 } });
  const otherPool = policy('other', { nodeSelector: { pool: 'cpu' }, overcommit: { vcpus: 8 } });
  assert.deepEqual(policyFor(gpu, []), { vcpuOvercommit: 1, memoryOvercommit: 1, scoring: 'BinPack' });
  assert.equal(policyFor(gpu, [all]).name, 'all');
  assert.deepEqual(policyFor(gpu, [all, pool, otherPool]), { name: 'pool', vcpuOvercommit: 4, memoryOvercommit: 1.5, scoring: 'BinPack' });
  assert.equal(policyFor(node('plain'), [all, pool, otherPool]).name, 'all');
  assert.equal(policyFor(gpu, [policy('b', {}), policy('a', {})]).name, 'a', 'equal specificity: the earlier name');
});

test('overcommit ratios scale the room ResourcesFit allows, per resource', () => {
  const n = node('n', { vcpus: 4, memoryMiB: 1024 });
  const running = [vm('x', { nodeName: 'n', vcpus: 4, memoryMiB: 512, phase: 'Running' })];
  assert.deepEqual(
    check(resourcesFit, vm('a', { vcpus: 2, memoryMiB: 256 }), n, running),
    { ok: false, reason: 'insufficient vcpus' },
    'no policy: no overcommit',
  );
  const twice = [policy('p', { overcommit: { vcpus: 2 } })];
  assert.equal(check(resourcesFit, vm('a', { vcpus: 4, memoryMiB: 512 }), n, running, twice).ok, true, '8 vCPUs of room');
  assert.deepEqual(
    check(resourcesFit, vm('a', { vcpus: 4, memoryMiB: 513 }), n, running, twice),
    { ok: false, reason: 'insufficient memory' },
    'memory not overcommitted',
  );
  // A policy change re-computes the room of the nodes it governs.
  const state = ClusterState.from([n], running, twice);
  assert.deepEqual(state.nodeInfo('n')!.room, { vcpus: 8, memoryMiB: 1024 });
  state.removePolicy('p');
  assert.deepEqual(state.nodeInfo('n')!.room, { vcpus: 4, memoryMiB: 1024 });
});

test('BinPack fills the fullest node, Spread the emptiest', () => {
  const nodes = [node('a', { vcpus: 8, memoryMiB: 8192 }), node('b', { vcpus: 8, memoryMiB: 8192 }), node('c', { vcpus: 8, memoryMiB: 8192 })];
  const vms = Array.from({ length: 6 }, (_, i) => vm(`v${i}`, { vcpus: 1, memoryMiB: 1024 }));
  assert.deepEqual(placeAll(ClusterState.from(nodes, []), vms), ['a', 'a', 'a', 'a', 'a', 'a']);
  assert.deepEqual(placeAll(ClusterState.from(nodes, [], [policy('spread', { scoring: 'Spread' })]), vms), ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('normalisers map raw scores onto 0–100', () => {
  const a = [0, 5, 10];
  normalizeToMax(a);
  assert.deepEqual(a, [0, 50, 100]);
  const b = [-10, 0, 10];
  normalizeMinMax(b);
  assert.deepEqual(b, [0, 50, 100]);
  const c = [0, 1, 4];
  normalizeReverse(c);
  assert.deepEqual(c, [100, 75, 0]);
  const same = [3, 3];
  normalizeReverse(same);
  assert.deepEqual(same, [0, 0], 'no difference: no preference');
});

const web = (name: string, extra: Partial<VirtualMachine['spec']> = {}, labels = { app: 'web' }) =>
  vm(name, {
    labels,
    spec: { affinity: { vmAntiAffinity: { required: [{ labelSelector: { matchLabels: { app: 'web' } }, topologyKey: ZONE_LABEL }] } }, ...extra },
  });

test('required VM anti-affinity puts each replica in its own zone, and says why when zones run out', () => {
  const nodes = [zoned('a1', 'a'), zoned('a2', 'a'), zoned('b1', 'b'), zoned('c1', 'c')];
  const state = ClusterState.from(nodes, []);
  const placed = placeAll(state, [web('w0'), web('w1'), web('w2'), web('w3')]);
  assert.deepEqual(
    placed
      .slice(0, 3)
      .map((n) => n[0])
      .sort(),
    ['a', 'b', 'c'],
    'one per zone',
  );
  assert.equal(placed[3], '-');
  const r = schedule(web('w4'), state, defaultProfile);
  assert.equal(!r.ok && r.message, `0/4 nodes are available: 4 ${VM_ANTI_AFFINITY_MISMATCH}.`);
  // Other namespaces and other apps are not affected.
  assert.notEqual(placeAll(state, [vm('other', { labels: { app: 'web' }, namespace: 'ns2' })])[0], '-');
});

test('anti-affinity binds both ways: a VM the rule selects keeps out of the owner’s domain even without a rule of its own', () => {
  const state = ClusterState.from([zoned('a1', 'a'), zoned('b1', 'b')], [web('owner', { nodeName: 'a1' })]);
  const plain = vm('plain', { labels: { app: 'web' } });
  const r = schedule(plain, state, { ...defaultProfile }, { explain: true });
  assert.ok(r.ok);
  assert.equal(r.nodeName, 'b1');
  assert.deepEqual(
    r.verdicts!.find((v) => v.node === 'a1'),
    { node: 'a1', reason: EXISTING_ANTI_AFFINITY },
  );
});

test('anti-affinity per host uses shoal.dev/hostname, which every node has', () => {
  const perHost = (name: string) =>
    vm(name, {
      labels: { app: 'db' },
      spec: { affinity: { vmAntiAffinity: { required: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: HOSTNAME_LABEL }] } } },
    });
  const placed = placeAll(ClusterState.from([node('n1'), node('n2')], []), [perHost('d0'), perHost('d1'), perHost('d2')]);
  assert.deepEqual(placed, ['n1', 'n2', '-']);
});

test('required VM affinity follows the group; the first of a group that selects itself may go anywhere', () => {
  const nodes = [zoned('a1', 'a', { vcpus: 16 }), zoned('b1', 'b', { vcpus: 16 }), node('bare', { vcpus: 16 })];
  const follower = (name: string) =>
    vm(name, {
      labels: { app: 'cache' },
      spec: { affinity: { vmAffinity: { required: [{ labelSelector: { matchLabels: { app: 'cache' } }, topologyKey: ZONE_LABEL }] } } },
    });
  const state = ClusterState.from(nodes, [vm('db', { labels: { app: 'db' }, nodeName: 'b1' })]);
  const placed = placeAll(state, [follower('c0'), follower('c1')]);
  assert.equal(placed[0] !== 'bare', true, 'a node without the zone label is no domain');
  assert.equal(placed[1], placed[0], 'the second joins the first');
  const nearDb = vm('near-db', {
    spec: { affinity: { vmAffinity: { required: [{ labelSelector: { matchLabels: { app: 'db' } }, topologyKey: ZONE_LABEL }] } } },
  });
  assert.deepEqual(placeAll(state, [nearDb]), ['b1']);
  const lonely = vm('lonely', {
    spec: { affinity: { vmAffinity: { required: [{ labelSelector: { matchLabels: { app: 'none' } }, topologyKey: ZONE_LABEL }] } } },
  });
  const r = schedule(lonely, state, defaultProfile);
  assert.equal(!r.ok && r.reasons[VM_AFFINITY_MISMATCH], 3, 'selects nothing and is not of the group itself');
});

test('preferred VM affinity and anti-affinity steer the score', () => {
  const state = ClusterState.from([zoned('a1', 'a'), zoned('b1', 'b')], [vm('db', { labels: { app: 'db' }, nodeName: 'b1' })]);
  const likes = vm('likes', {
    spec: { affinity: { vmAffinity: { preferred: [{ weight: 50, labelSelector: { matchLabels: { app: 'db' } }, topologyKey: ZONE_LABEL }] } } },
  });
  const avoids = vm('avoids', {
    spec: { affinity: { vmAntiAffinity: { preferred: [{ weight: 50, labelSelector: { matchLabels: { app: 'db' } }, topologyKey: ZONE_LABEL }] } } },
  });
  assert.equal((schedule(likes, state, defaultProfile) as { nodeName: string }).nodeName, 'b1');
  assert.equal((schedule(avoids, state, defaultProfile) as { nodeName: string }).nodeName, 'a1');
});

test('topology spread keeps maxSkew across zones, counting empty zones, and refuses nodes without the label', () => {
  const nodes = [zoned('a1', 'a', { vcpus: 64 }), zoned('b1', 'b', { vcpus: 64 }), zoned('c1', 'c', { vcpus: 64 }), node('bare', { vcpus: 64 })];
  const spread = (name: string, maxSkew = 1) =>
    vm(name, {
      labels: { app: 'api' },
      memoryMiB: 32,
      spec: {
        topologySpreadConstraints: [{ maxSkew, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'api' } } }],
      },
    });
  const state = ClusterState.from(nodes, []);
  const placed = placeAll(
    state,
    Array.from({ length: 9 }, (_, i) => spread(`s${i}`)),
  );
  const perZone = (z: string) => placed.filter((n) => n.startsWith(z)).length;
  assert.deepEqual([perZone('a'), perZone('b'), perZone('c'), perZone('bare')], [3, 3, 3, 0]);
  // Bin-packing alone would stack them; the constraint is what spreads them. With a bigger skew they may pile up to it.
  const loose = ClusterState.from(nodes, []);
  const piled = placeAll(
    loose,
    Array.from({ length: 3 }, (_, i) => spread(`l${i}`, 2)),
  );
  assert.deepEqual(piled, ['a1', 'a1', 'b1']);
  const r = schedule(spread('x'), ClusterState.from(nodes, [vm('p', { labels: { app: 'api' }, nodeName: 'a1' })]), defaultProfile, { explain: true });
  assert.deepEqual(
    r.verdicts!.find((v) => v.node === 'a1'),
    { node: 'a1', reason: SPREAD_MISMATCH },
  );
  assert.deepEqual(
    r.verdicts!.find((v) => v.node === 'bare'),
    { node: 'bare', reason: SPREAD_MISSING_LABEL },
  );
});

test('a nominated VM keeps its room against VMs of lower priority, not against higher ones', () => {
  const n = node('n', { vcpus: 4, memoryMiB: 4096 });
  const nominee = vm('big', { vcpus: 4, priority: 500, status: { nominatedNodeName: 'n' } });
  const state = ClusterState.from([n], [nominee]);
  assert.equal(schedule(vm('low', { priority: 100 }), state, defaultProfile).ok, false);
  assert.equal(schedule(vm('high', { priority: 900 }), state, defaultProfile).ok, true);
  assert.equal(schedule(nominee, state, defaultProfile).ok, true, 'its own nomination is room for itself');
});

test('preemption evicts the fewest, least important VMs strictly below the gap, never equal or higher priority', () => {
  const nodes = [node('a', { vcpus: 4, memoryMiB: 8192 }), node('b', { vcpus: 4, memoryMiB: 8192 })];
  const bound = [
    vm('a-low', { nodeName: 'a', vcpus: 2, priority: 100 }),
    vm('a-mid', { nodeName: 'a', vcpus: 2, priority: 400 }),
    vm('b-low1', { nodeName: 'b', vcpus: 1, priority: 100 }),
    vm('b-low2', { nodeName: 'b', vcpus: 1, priority: 100 }),
    vm('b-eq', { nodeName: 'b', vcpus: 2, priority: 500 }),
  ];
  const state = ClusterState.from(nodes, bound);
  const want = vm('want', { vcpus: 2, priority: 500 });
  assert.equal(schedule(want, state, defaultProfile).ok, false);
  const r = planPreemption(want, state, defaultProfile, { minPriorityGap: 1 });
  assert.ok(r.ok);
  // a: evict a-low (100). b: evict b-low1 + b-low2 (100+100). Same top priority; a's sum is lower.
  assert.equal(r.plan.nodeName, 'a');
  assert.deepEqual(
    r.plan.victims.map((v) => v.key),
    ['default/a-low'],
  );

  // A gap of 450 leaves only priority ≤ 50: nothing to evict anywhere.
  assert.equal(planPreemption(want, state, defaultProfile, { minPriorityGap: 450 }).ok, false);
  // Equal priority is never a victim: a VM of priority 100 cannot evict the 100s.
  assert.equal(planPreemption(vm('peer', { vcpus: 2, priority: 100 }), state, defaultProfile, { minPriorityGap: 1 }).ok, false);
  // preemptionPolicy Never.
  const polite = vm('polite', { vcpus: 2, priority: 900, spec: { preemptionPolicy: 'Never' } });
  assert.equal(planPreemption(polite, state, defaultProfile, { minPriorityGap: 1 }).ok, false);
});

test('preemption keeps the more important victims when fewer make room, and counts VMs already leaving as gone', () => {
  const n = node('n', { vcpus: 4, memoryMiB: 8192 });
  const bound = [
    vm('v100', { nodeName: 'n', vcpus: 1, priority: 100 }),
    vm('v200', { nodeName: 'n', vcpus: 1, priority: 200 }),
    vm('v300', { nodeName: 'n', vcpus: 2, priority: 300 }),
  ];
  const state = ClusterState.from([n], bound);
  const r = planPreemption(vm('want', { vcpus: 2, priority: 900 }), state, defaultProfile, { minPriorityGap: 10 });
  assert.ok(r.ok);
  assert.deepEqual(
    r.plan.victims.map((v) => v.key),
    ['default/v100', 'default/v200'],
    'v300 is reprieved',
  );

  const leaving = vm('v300', { nodeName: 'n', vcpus: 2, priority: 300 });
  leaving.metadata.annotations = {
    [EVICTION_REQUESTED_ANNOTATION]: JSON.stringify({ reason: 'Preempted', message: 'x', gracePeriodSeconds: 0, requestedAt: '' }),
  };
  state.upsertVm(leaving);
  const again = planPreemption(vm('want', { vcpus: 2, priority: 900 }), state, defaultProfile, { minPriorityGap: 10 });
  assert.ok(again.ok);
  assert.deepEqual(again.plan.victims, [], 'the VM being evicted already makes room');
});

test('preemption only frees room: a node another filter rules out is no candidate', () => {
  const state = ClusterState.from([node('n', { vcpus: 2, unschedulable: true })], [vm('low', { nodeName: 'n', vcpus: 2, priority: 0 })]);
  assert.equal(planPreemption(vm('want', { vcpus: 2, priority: 900 }), state, defaultProfile, { minPriorityGap: 1 }).ok, false);
});

test('in a big cluster a decision stops after enough feasible nodes, starting where the last one stopped', () => {
  assert.equal(feasibleNodesToFind(50), 50, 'small clusters: every node');
  assert.equal(feasibleNodesToFind(1000), 420, '42 % of 1,000');
  assert.equal(feasibleNodesToFind(5000), 500, '10 % of 5,000');
  assert.equal(feasibleNodesToFind(200), 100, 'never under 100 nodes');
  const nodes = Array.from({ length: 300 }, (_, i) => node(`n${String(i).padStart(3, '0')}`));
  const state = ClusterState.from(nodes, []);
  const first = schedule(vm('a'), state, defaultProfile, { sample: { feasibleNodesToFind: 100, startIndex: 0 } });
  assert.ok(first.ok);
  assert.equal(first.evaluated, 100);
  assert.equal(first.nodeName, 'n000');
  const next = schedule(vm('b'), state, defaultProfile, { sample: { feasibleNodesToFind: 100, startIndex: 250 } });
  assert.equal(next.evaluated, 100, 'wraps round: n250..n299, n000..n049');
  assert.equal(next.ok && next.nodeName, 'n000', 'ties still go to the earlier name');
  const explained = schedule(vm('c'), state, defaultProfile, { explain: true, sample: { feasibleNodesToFind: 100, startIndex: 7 } });
  assert.equal(explained.evaluated, 300, 'an explanation judges every node');
});
