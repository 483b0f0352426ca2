/** VolumePlacement on plain objects: a VM goes where its disks are, and says which disk keeps it from a node. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, StoragePool, VirtualMachine, Volume } from '@shoal/api';
import { ClusterState, type StorageLookup } from './cluster-state.js';
import { CycleState, schedule } from './framework.js';
import { volumePlacement } from './plugins/volume-placement.js';
import { defaultProfile } from './profile.js';
import { node, vm } from './test-support/fixtures.js';

const volume = (name: string, o: { pool?: string; node?: string } = {}): Volume => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'Volume',
  metadata: { name, namespace: 'default' },
  spec: { sizeGiB: 1, source: {}, ...(o.pool ? { pool: o.pool } : {}) },
  status: o.node ? { phase: 'Available', node: o.node } : { phase: 'Pending' },
});
const pool = (name: string, type: 'local' | 'shared', o: { selector?: Record<string, string>; isDefault?: boolean } = {}): StoragePool => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'StoragePool',
  metadata: { name },
  spec: { type, default: o.isDefault ?? false, ...(o.selector ? { nodeSelector: o.selector } : {}) },
});
const withDisks = (name: string, volumes: NonNullable<VirtualMachine['spec']['volumes']>): VirtualMachine => {
  const v = vm(name);
  v.spec.volumes = volumes;
  return v;
};

function cluster(nodes: Node[], volumes: Volume[], pools: StoragePool[]): ClusterState {
  const state = ClusterState.from(nodes, []);
  const lookup: StorageLookup = {
    volume: (ns, n) => volumes.find((v) => v.metadata.namespace === ns && v.metadata.name === n),
    pool: (n) => pools.find((p) => p.metadata.name === n),
    pools: () => pools,
  };
  state.storage = lookup;
  return state;
}

const verdict = (state: ClusterState, v: VirtualMachine, nodeName: string) => volumePlacement.filter(v, state.nodeInfo(nodeName)!, new CycleState(state));

test('a VM without disks fits anywhere; a local volume not made yet fits anywhere; once made, only its node', () => {
  const nodes = [node('n1'), node('n2')];
  assert.equal(verdict(cluster(nodes, [], []), vm('plain'), 'n1').ok, true);
  const v = withDisks('db', [{ name: 'data', volumeName: 'data' }]);
  assert.equal(verdict(cluster(nodes, [volume('data')], []), v, 'n2').ok, true, 'unmade: the first consumer decides');
  const made = cluster(nodes, [volume('data', { node: 'n1' })], []);
  assert.equal(verdict(made, v, 'n1').ok, true);
  assert.deepEqual(verdict(made, v, 'n2'), { ok: false, reason: 'volume data lives on node n1' });
});

test('a shared pool reaches only the nodes it selects, wherever the volume was made', () => {
  const nodes = [node('a', { labels: { nfs: 'yes' } }), node('b')];
  const state = cluster(nodes, [volume('shared-data', { pool: 'nfs', node: 'a' })], [pool('nfs', 'shared', { selector: { nfs: 'yes' } })]);
  const v = withDisks('web', [{ name: 'data', volumeName: 'shared-data' }]);
  assert.equal(verdict(state, v, 'a').ok, true);
  assert.deepEqual(verdict(state, v, 'b'), { ok: false, reason: 'volume shared-data: StoragePool nfs does not reach node b (it needs nfs=yes)' });
});

test('a referenced volume that does not exist, or a pool that does not, fits nowhere and says so', () => {
  const state = cluster([node('n1')], [volume('orphan', { pool: 'gone' })], []);
  assert.deepEqual(verdict(state, withDisks('x', [{ name: 'd', volumeName: 'nope' }]), 'n1'), { ok: false, reason: 'volume nope does not exist' });
  assert.deepEqual(verdict(state, withDisks('y', [{ name: 'd', volumeName: 'orphan' }]), 'n1'), {
    ok: false,
    reason: 'volume orphan: its StoragePool "gone" does not exist',
  });
});

test('a template the volume controller has not made yet is judged by its pool: the default pool when it names none', () => {
  const nodes = [node('a', { labels: { nfs: 'yes' } }), node('b')];
  const state = cluster(nodes, [], [pool('nfs', 'shared', { selector: { nfs: 'yes' }, isDefault: true })]);
  const v = withDisks('t', [{ name: 'data', volumeTemplate: { sizeGiB: 1, source: {} } }]);
  assert.equal(verdict(state, v, 'a').ok, true);
  assert.equal(verdict(state, v, 'b').ok, false);
});

test('a VM whose local disk is on a node that is down stays Pending, the message naming the volume and its node', () => {
  const nodes = [node('n1', { ready: 'False' }), node('n2'), node('n3')];
  const state = cluster(nodes, [volume('db-data', { node: 'n1' })], []);
  const decision = schedule(withDisks('db', [{ name: 'data', volumeName: 'db-data' }]), state, defaultProfile);
  assert.equal(decision.ok, false);
  assert.match((decision as { message: string }).message, /1 node\(s\) not ready/);
  assert.match((decision as { message: string }).message, /2 volume db-data lives on node n1/);
});
