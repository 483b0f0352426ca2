/**
 * Filters a decision leaves out (`skips`: nothing to check for this VM) and what NodeInfo reads
 * once from a node: neither may change a decision, a reason or a verdict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOSTNAME_LABEL, ZONE_LABEL, type Node, type Taint, type VirtualMachine } from '@shoal/api';
import { ClusterState } from './cluster-state.js';
import { CycleState, schedule, type Profile } from './framework.js';
import { planPreemption } from './preemption.js';
import { defaultProfile } from './profile.js';
import { node, vm } from './test-support/fixtures.js';

const tainted = (n: Node, taints: Taint[]): Node => ({ ...n, spec: { ...n.spec, taints } });
const labelled = (name: string, zone: string, o: Parameters<typeof node>[1] = {}) =>
  node(name, { vcpus: 8, memoryMiB: 8192, ...o, labels: { [ZONE_LABEL]: zone, [HOSTNAME_LABEL]: name, ...o.labels } });

/** Nodes that every filter has something to say about: not ready, cordoned, tainted, small, labelled apart. */
const nodes: Node[] = [
  labelled('a1', 'a'),
  labelled('a2', 'a', { labels: { pool: 'gpu' } }),
  labelled('a3', 'a', { ready: 'False' }),
  labelled('b1', 'b', { unschedulable: true }),
  tainted(labelled('b2', 'b'), [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }]),
  tainted(labelled('b3', 'b'), [{ key: 'spot', effect: 'PreferNoSchedule' }]),
  labelled('c1', 'c', { vcpus: 1, memoryMiB: 512 }),
  labelled('c2', 'c', { ready: null, labels: { pool: 'gpu' } }),
  labelled('c3', 'c'),
];

/** Placed already: a VM that keeps `app=lonely` VMs out of its zone, one that publishes port 80, members of groups. */
const placed: VirtualMachine[] = [
  vm('guard', {
    nodeName: 'c3',
    phase: 'Running',
    spec: { affinity: { vmAntiAffinity: { required: [{ topologyKey: ZONE_LABEL, labelSelector: { matchLabels: { app: 'lonely' } } }] } } },
  }),
  vm('web-0', { nodeName: 'a1', phase: 'Running', labels: { app: 'web' }, spec: { ports: [{ guestPort: 80, hostPort: 8080 }] } }),
  vm('spread-0', { nodeName: 'a1', phase: 'Running', labels: { app: 'spread' } }),
  vm('spread-1', { nodeName: 'a2', phase: 'Running', labels: { app: 'spread' } }),
];

/** One VM of each kind the filters know, including ones that fit nowhere. */
const incoming: VirtualMachine[] = [
  vm('plain'),
  vm('big', { vcpus: 6 }),
  vm('huge', { vcpus: 64 }),
  vm('selected', { selector: { pool: 'gpu' } }),
  vm('affine', { spec: { affinity: { nodeAffinity: { required: [{ matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: ['b', 'c'] }] }] } } } }),
  vm('port-clash', { spec: { ports: [{ guestPort: 80, hostPort: 8080 }] } }),
  vm('tolerant', { spec: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' }] } }),
  vm('lonely', { labels: { app: 'lonely' } }),
  vm('near-web', {
    spec: { affinity: { vmAffinity: { required: [{ topologyKey: HOSTNAME_LABEL, labelSelector: { matchLabels: { app: 'web' } } }] } } },
  }),
  vm('away-from-web', {
    labels: { app: 'web' },
    spec: { affinity: { vmAntiAffinity: { required: [{ topologyKey: ZONE_LABEL, labelSelector: { matchLabels: { app: 'web' } } }] } } },
  }),
  vm('spread-2', {
    labels: { app: 'spread' },
    spec: {
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'spread' } } },
      ],
    },
  }),
  vm('spread-soft', {
    labels: { app: 'spread' },
    spec: {
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'spread' } } },
      ],
    },
  }),
  vm('with-disk', { spec: { volumes: [{ name: 'data', volumeName: 'missing' }] } }),
];

/** The default profile as if no filter could be skipped. */
const withoutSkips: Profile = { ...defaultProfile, filters: defaultProfile.filters.map(({ skips: _, ...f }) => f) };

test('a filter a decision skips passes every node for that VM, and skipping changes no decision, reason, verdict or preemption plan', () => {
  const state = ClusterState.from(nodes, placed);
  let skipped = 0;
  for (const v of incoming) {
    state.upsertVm(v);
    const name = v.metadata.name!;
    for (const f of defaultProfile.filters) {
      if (!f.skips?.(v, new CycleState(state))) continue;
      skipped++;
      for (const info of state.nodeInfos())
        assert.deepEqual(f.filter(v, info, new CycleState(state)), { ok: true }, `${f.name} skips ${name} but refuses ${info.name}`);
    }
    for (const opts of [{}, { explain: true }, { sample: { feasibleNodesToFind: 2, startIndex: 4 } }])
      assert.deepEqual(schedule(v, state, defaultProfile, opts), schedule(v, state, withoutSkips, opts), `${name} ${JSON.stringify(opts)}`);
    // The preemptor's search walks the nodes with the same filters left out: as important, the placed VMs evictable.
    const important: VirtualMachine = { ...v, spec: { ...v.spec, priority: 1000 } };
    const preempt = (profile: Profile) => planPreemption(important, state, profile, { minPriorityGap: 1 });
    assert.deepEqual(preempt(defaultProfile), preempt(withoutSkips), `preempting for ${name}`);
  }
  assert.ok(skipped > incoming.length, 'most VMs leave several filters out');
  // The cluster above says no in every way the filters can: the comparison covered each reason.
  const reasons = new Set(incoming.flatMap((v) => Object.keys((schedule(v, state, defaultProfile) as { reasons?: object }).reasons ?? {})));
  for (const reason of ['node(s) not ready', 'node(s) were unschedulable', 'node(s) had untolerated taint {dedicated: db}', 'insufficient vcpus'])
    assert.ok(reasons.has(reason), `no VM was refused for "${reason}": ${[...reasons].join('; ')}`);
});

test('a node read again when it changes: Ready, cordoned and tainted as it now says, not as it was first seen', () => {
  const n = labelled('n', 'a');
  const state = ClusterState.from([n], []);
  const v = vm('v');
  state.upsertVm(v);
  const verdict = () => {
    const r = schedule(v, state, defaultProfile);
    return r.ok ? r.nodeName : Object.keys(r.reasons).join(', ');
  };
  assert.equal(verdict(), 'n');
  state.upsertNode(labelled('n', 'a', { ready: 'Unknown' }));
  assert.equal(verdict(), 'node(s) not ready');
  state.upsertNode(labelled('n', 'a', { unschedulable: true }));
  assert.equal(verdict(), 'node(s) were unschedulable');
  state.upsertNode(tainted(labelled('n', 'a'), [{ key: 'maintenance', effect: 'NoExecute' }]));
  assert.equal(verdict(), 'node(s) had untolerated taint {maintenance: }');
  state.upsertNode(n);
  assert.equal(verdict(), 'n');
});
