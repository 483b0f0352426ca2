/** TaintToleration and NodeAffinity, alone and through the default profile, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedule } from './framework.js';
import { ClusterState } from './cluster-state.js';
import { CycleState } from './framework.js';
import { defaultProfile } from './profile.js';
import { check, info } from './test-support/fixtures.js';
import { withDefaults, type LabelSelector, type Manifest, type Node, type NodeAffinity, type Taint, type Toleration, type VirtualMachine } from '@shoal/api';
import { NODE_AFFINITY_MISMATCH, nodeAffinity } from './plugins/node-affinity.js';
import { taintToleration, toleratesTaint } from './plugins/taint-toleration.js';

function node(name: string, o: { taints?: Taint[]; labels?: Record<string, string> } = {}): Node {
  return withDefaults('Node', {
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: { ...(o.taints ? { taints: o.taints } : {}) },
    status: { allocatable: { vcpus: 4, memoryMiB: 4096 }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
}
function vm(o: { tolerations?: Manifest<Toleration>[]; nodeAffinity?: NodeAffinity } = {}): VirtualMachine {
  return withDefaults('VirtualMachine', {
    metadata: { name: 'v', namespace: 'default', uid: 'uid-v', resourceVersion: '1' },
    spec: {
      ...(o.tolerations ? { tolerations: o.tolerations } : {}),
      ...(o.nodeAffinity ? { affinity: { nodeAffinity: o.nodeAffinity } } : {}),
    },
  });
}
const cycle = new CycleState(new ClusterState());
const maint: Taint = { key: 'zone', value: 'maint', effect: 'NoSchedule' };

test('toleratesTaint: Equal needs key and value, Exists any value, empty key+Exists everything, empty effect all effects', () => {
  assert.equal(toleratesTaint({ key: 'zone', operator: 'Equal', value: 'maint', effect: 'NoSchedule' }, maint), true);
  assert.equal(toleratesTaint(vm({ tolerations: [{ key: 'zone', value: 'maint' }] }).spec.tolerations![0]!, maint), true, 'operator defaults to Equal');
  assert.equal(toleratesTaint({ key: 'zone', operator: 'Equal', value: 'other' }, maint), false, 'Equal: value differs');
  assert.equal(toleratesTaint({ key: 'other', operator: 'Equal', value: 'maint' }, maint), false, 'Equal: key differs');
  assert.equal(toleratesTaint({ key: 'zone', operator: 'Equal' }, maint), false, 'Equal: no value vs value');
  assert.equal(toleratesTaint({ key: 'gpu', operator: 'Equal' }, { key: 'gpu', effect: 'NoSchedule' }), true, 'Equal: both values empty');
  assert.equal(toleratesTaint({ key: 'zone', operator: 'Exists' }, maint), true, 'Exists: any value');
  assert.equal(toleratesTaint({ key: 'other', operator: 'Exists' }, maint), false, 'Exists: key still must match');
  assert.equal(toleratesTaint({ operator: 'Exists' }, maint), true, 'empty key + Exists: everything');
  assert.equal(toleratesTaint({ operator: 'Exists' }, { key: 'x', value: 'y', effect: 'NoExecute' }), true);
  assert.equal(toleratesTaint({ key: 'zone', operator: 'Exists', effect: 'NoExecute' }, maint), false, 'effect differs');
  assert.equal(toleratesTaint({ key: 'zone', operator: 'Exists', effect: 'NoSchedule' }, maint), true, 'effect same');
});

test('TaintToleration filter: untolerated NoSchedule/NoExecute taints rule the node out, in Kubernetes words', () => {
  assert.equal(check(taintToleration, vm(), node('n')).ok, true, 'no taints');
  assert.deepEqual(check(taintToleration, vm(), node('n', { taints: [maint] })), { ok: false, reason: 'node(s) had untolerated taint {zone: maint}' });
  assert.deepEqual(check(taintToleration, vm(), node('n', { taints: [{ key: 'dedicated', effect: 'NoExecute' }] })), {
    ok: false,
    reason: 'node(s) had untolerated taint {dedicated: }',
  });
  assert.equal(check(taintToleration, vm({ tolerations: [{ key: 'zone', operator: 'Equal', value: 'maint' }] }), node('n', { taints: [maint] })).ok, true);
  assert.equal(check(taintToleration, vm({ tolerations: [{ key: 'zone', operator: 'Exists' }] }), node('n', { taints: [maint] })).ok, true);
  assert.equal(check(taintToleration, vm({ tolerations: [{ key: 'zone', operator: 'Equal', value: 'x' }] }), node('n', { taints: [maint] })).ok, false);
  // Several taints: all must be tolerated; the reason names the first that is not.
  const two = node('n', { taints: [maint, { key: 'gpu', value: 'a100', effect: 'NoExecute' }] });
  assert.deepEqual(check(taintToleration, vm({ tolerations: [{ key: 'zone', operator: 'Exists' }] }), two), {
    ok: false,
    reason: 'node(s) had untolerated taint {gpu: a100}',
  });
  assert.equal(check(taintToleration, vm({ tolerations: [{ operator: 'Exists' }] }), two).ok, true, 'tolerate everything');
});

test('TaintToleration: PreferNoSchedule only counts against a node in the score, never filters', () => {
  const soft = node('n', {
    taints: [
      { key: 'spot', effect: 'PreferNoSchedule' },
      { key: 'old', value: 'hw', effect: 'PreferNoSchedule' },
    ],
  });
  assert.equal(check(taintToleration, vm(), soft).ok, true);
  assert.equal(taintToleration.score(vm(), info(soft), cycle), 2);
  assert.equal(taintToleration.score(vm({ tolerations: [{ key: 'spot', operator: 'Exists' }] }), info(soft), cycle), 1);
  assert.equal(taintToleration.score(vm({ tolerations: [{ operator: 'Exists', effect: 'PreferNoSchedule' }] }), info(soft), cycle), 0);
  assert.equal(taintToleration.score(vm({ tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }] }), info(soft), cycle), 2, 'wrong effect');
  assert.equal(taintToleration.score(vm(), info(node('n', { taints: [maint] })), cycle), 0, 'hard taints do not count in the score');
  assert.ok(
    taintToleration.score(vm(), info(node('clean')), cycle) < taintToleration.score(vm(), info(soft), cycle),
    'a count of untolerated taints: fewer is better',
  );
});

const sel = (matchLabels: Record<string, string>): LabelSelector => ({ matchLabels });

test('NodeAffinity filter: required selectors are ORed, each selector ANDed', () => {
  const a = info(node('a', { labels: { zone: 'a', disk: 'ssd' } }));
  const b = info(node('b', { labels: { zone: 'b' } }));
  const c = info(node('c'));
  assert.equal(nodeAffinity.filter(vm(), c, cycle).ok, true, 'no affinity: any node');
  assert.equal(nodeAffinity.filter(vm({ nodeAffinity: { required: [] } }), c, cycle).ok, true, 'empty list: no constraint');
  const either = vm({ nodeAffinity: { required: [sel({ zone: 'a' }), sel({ zone: 'b' })] } });
  assert.equal(nodeAffinity.filter(either, a, cycle).ok, true);
  assert.equal(nodeAffinity.filter(either, b, cycle).ok, true);
  assert.deepEqual(nodeAffinity.filter(either, c, cycle), { ok: false, reason: NODE_AFFINITY_MISMATCH });
  assert.equal(NODE_AFFINITY_MISMATCH, "node(s) didn't match VM's node affinity/selector");
  const both = vm({ nodeAffinity: { required: [{ matchLabels: { zone: 'b' }, matchExpressions: [{ key: 'disk', operator: 'Exists' }] }] } });
  assert.equal(nodeAffinity.filter(both, a, cycle).ok, false, 'zone differs');
  assert.equal(nodeAffinity.filter(both, b, cycle).ok, false, 'no disk label');
  const notB = vm({ nodeAffinity: { required: [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }] } });
  assert.equal(nodeAffinity.filter(notB, a, cycle).ok, true);
  assert.equal(nodeAffinity.filter(notB, b, cycle).ok, false);
  assert.equal(nodeAffinity.filter(notB, c, cycle).ok, true, 'NotIn: absent label matches');
});

test('NodeAffinity score: sum of the weights of matching preferred selectors; preferred never filters', () => {
  const prefs = vm({
    nodeAffinity: {
      preferred: [
        { weight: 10, selector: sel({ zone: 'a' }) },
        { weight: 5, selector: sel({ disk: 'ssd' }) },
        { weight: 50, selector: sel({ gpu: 'yes' }) },
      ],
    },
  });
  assert.equal(nodeAffinity.score(prefs, info(node('a', { labels: { zone: 'a', disk: 'ssd' } })), cycle), 15);
  assert.equal(nodeAffinity.score(prefs, info(node('b', { labels: { disk: 'ssd' } })), cycle), 5);
  assert.equal(nodeAffinity.score(prefs, info(node('c')), cycle), 0);
  assert.equal(check(nodeAffinity, prefs, node('c')).ok, true);
  assert.equal(nodeAffinity.score(vm(), info(node('c')), cycle), 0);
});

test('default profile: taints and affinity decide placement and the unschedulable message', () => {
  const nodes = [node('a', { taints: [maint] }), node('b', { taints: [maint] }), node('c', { labels: { zone: 'x' } })];
  const infos = () => ClusterState.from(nodes, []);
  const r = schedule(vm({ nodeAffinity: { required: [sel({ zone: 'y' })] } }), infos(), defaultProfile);
  assert.deepEqual(r, {
    ok: false,
    message: "0/3 nodes are available: 2 node(s) had untolerated taint {zone: maint}, 1 node(s) didn't match VM's node affinity/selector.",
    reasons: { 'node(s) had untolerated taint {zone: maint}': 2, "node(s) didn't match VM's node affinity/selector": 1 },
    evaluated: 3,
  });
  assert.deepEqual(schedule(vm(), infos(), defaultProfile), { ok: true, nodeName: 'c', feasibleNodes: 1, evaluated: 3 });
  // Tolerating the taint and preferring zone=a sends the VM to a, past the name order.
  const pick = vm({ tolerations: [{ key: 'zone', operator: 'Exists' }], nodeAffinity: { preferred: [{ weight: 1, selector: sel({ zone: 'a' }) }] } });
  const labelled = [node('a', { taints: [maint], labels: { zone: 'a' } }), node('b')];
  assert.deepEqual(schedule(pick, ClusterState.from(labelled, []), defaultProfile), { ok: true, nodeName: 'a', feasibleNodes: 2, evaluated: 2 });
  // A PreferNoSchedule taint steers away from a node that is otherwise first by name.
  const soft = [node('a', { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }), node('b')];
  assert.deepEqual(schedule(vm(), ClusterState.from(soft, []), defaultProfile), { ok: true, nodeName: 'b', feasibleNodes: 2, evaluated: 2 });
});
