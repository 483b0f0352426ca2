/** Each plugin, the NodeInfo accounting, the assume cache and the decision, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssumeCache } from './assume-cache.js';
import { ClusterState } from './cluster-state.js';
import { schedule, unschedulableMessage } from './framework.js';
import { hostPorts } from './plugins/host-ports.js';
import { nodeReady } from './plugins/node-ready.js';
import { nodeSelector } from './plugins/node-selector.js';
import { nodeUnschedulable } from './plugins/node-unschedulable.js';
import { resourcesFit } from './plugins/resources-fit.js';
import { defaultProfile } from './profile.js';
import { holdsResources } from './resources.js';
import { check, node, vm } from './test-support/fixtures.js';
import { withDefaults } from '@shoal/api';

test('NodeReady passes only Ready=True', () => {
  assert.deepEqual(check(nodeReady, vm('a'), node('n', { ready: 'True' })), { ok: true });
  for (const ready of ['False', 'Unknown', null] as const)
    assert.deepEqual(check(nodeReady, vm('a'), node('n', { ready })), { ok: false, reason: 'node(s) not ready' });
});

test('NodeUnschedulable refuses cordoned nodes', () => {
  assert.equal(check(nodeUnschedulable, vm('a'), node('n')).ok, true);
  assert.deepEqual(check(nodeUnschedulable, vm('a'), node('n', { unschedulable: true })), { ok: false, reason: 'node(s) were unschedulable' });
});

test('NodeSelector needs every selected label with its value', () => {
  const n = node('n', { labels: { zone: 'a', disk: 'ssd' } });
  assert.equal(check(nodeSelector, vm('a'), n).ok, true, 'no selector: any node');
  assert.equal(check(nodeSelector, vm('a', { selector: { zone: 'a' } }), n).ok, true);
  assert.equal(check(nodeSelector, vm('a', { selector: { zone: 'a', disk: 'ssd' } }), n).ok, true);
  assert.deepEqual(check(nodeSelector, vm('a', { selector: { zone: 'b' } }), n), { ok: false, reason: "node(s) didn't match the VM's node selector" });
  assert.equal(check(nodeSelector, vm('a', { selector: { gpu: 'yes' } }), n).ok, false);
  assert.equal(check(nodeSelector, vm('a', { selector: { toString: '' } }), node('plain')).ok, false, 'no prototype keys');
});

test('ResourcesFit counts allocatable minus what bound VMs hold, vcpus then memory', () => {
  const n = node('n', { vcpus: 4, memoryMiB: 1024 });
  assert.equal(check(resourcesFit, vm('a', { vcpus: 4, memoryMiB: 1024 }), n).ok, true, 'exactly full fits');
  assert.deepEqual(check(resourcesFit, vm('a', { vcpus: 5 }), n), { ok: false, reason: 'insufficient vcpus' });
  assert.deepEqual(check(resourcesFit, vm('a', { memoryMiB: 1025 }), n), { ok: false, reason: 'insufficient memory' });
  const bound = [vm('x', { nodeName: 'n', vcpus: 2, memoryMiB: 512, phase: 'Running' }), vm('y', { nodeName: 'other', vcpus: 2 })];
  assert.equal(check(resourcesFit, vm('a', { vcpus: 2, memoryMiB: 512 }), n, bound).ok, true);
  assert.deepEqual(check(resourcesFit, vm('a', { vcpus: 2, memoryMiB: 513 }), n, bound), { ok: false, reason: 'insufficient memory' });
  assert.deepEqual(check(resourcesFit, vm('a', { vcpus: 3 }), n, bound), { ok: false, reason: 'insufficient vcpus' });
});

test('a node without allocatable uses its capacity, and one with neither has no room', () => {
  const capOnly = withDefaults('Node', {
    metadata: { name: 'c' },
    status: { capacity: { vcpus: 2, memoryMiB: 512 }, conditions: [{ type: 'Ready', status: 'True' }] },
  });
  assert.equal(check(resourcesFit, vm('a', { vcpus: 2, memoryMiB: 512 }), capOnly).ok, true);
  const bare = withDefaults('Node', { metadata: { name: 'b' } });
  assert.equal(check(resourcesFit, vm('a'), bare).ok, false);
});

test('stopped VMs that stay stopped (Halted, or being deleted) hold no room; other bound VMs do', () => {
  assert.equal(holdsResources(vm('a', { phase: 'Running' })), true);
  assert.equal(holdsResources(vm('a', { phase: 'Stopped', runStrategy: 'Halted' })), false);
  assert.equal(holdsResources(vm('a', { phase: 'Stopped', deleting: true })), false);
  assert.equal(holdsResources(vm('a', { phase: 'Stopping', runStrategy: 'Halted' })), true, 'still shutting down');
  assert.equal(holdsResources(vm('a', { phase: 'Running', deleting: true })), true, 'deleting but still running');
  assert.equal(holdsResources(vm('a', { phase: 'Stopped', runStrategy: 'Manual' })), true, 'may be started again');
  assert.equal(holdsResources(vm('a', { phase: 'Stopped', runStrategy: 'RerunOnFailure' })), true);
  const n = node('n', { vcpus: 2, memoryMiB: 512 });
  const vms = [
    vm('h', { nodeName: 'n', vcpus: 2, memoryMiB: 512, phase: 'Stopped', runStrategy: 'Halted' }),
    vm('d', { nodeName: 'n', vcpus: 2, memoryMiB: 512, phase: 'Stopped', deleting: true }),
  ];
  assert.equal(check(resourcesFit, vm('a', { vcpus: 2, memoryMiB: 512 }), n, vms).ok, true);
});

test('the cluster state sorts nodes by name, keeps VMs of unknown nodes aside, and counts assumed VMs until the informer shows them bound', () => {
  const pending = vm('p', { vcpus: 2, rv: '7' });
  const state = ClusterState.from([node('c'), node('a'), node('b')], [pending, vm('ghost', { nodeName: 'gone', vcpus: 3 }), vm('q', { nodeName: 'a' })]);
  state.assume(pending, 'b');
  const infos = state.nodeInfos();
  assert.deepEqual(
    infos.map((i) => i.name),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(
    infos.map((i) => i.requested.vcpus),
    [1, 2, 0],
  );
  assert.deepEqual([...infos[1]!.vms.keys()], ['default/p']);
  // The informer now shows p bound to b: it counts once, as itself.
  const bound = vm('p', { vcpus: 2, rv: '8', nodeName: 'b' });
  state.upsertVm(bound);
  assert.equal(state.observe('default/p', bound), false, 'the assumption ends');
  assert.equal(state.nodeInfo('b')!.requested.vcpus, 2);
  // The node the ghost is bound to registers late: the ghost counts there from then on.
  state.upsertNode(node('gone'));
  assert.equal(state.nodeInfo('gone')!.requested.vcpus, 3);
  // A bind that did not stick: the newer, unbound version frees the room.
  const other = vm('o', { vcpus: 1, rv: '3' });
  state.upsertVm(other);
  state.assume(other, 'c');
  assert.equal(state.nodeInfo('c')!.requested.vcpus, 1);
  const newer = vm('o', { vcpus: 1, rv: '4' });
  state.upsertVm(newer);
  assert.equal(state.observe('default/o', newer), false);
  assert.equal(state.nodeInfo('c')!.requested.vcpus, 0);
  state.removeVm('default/q');
  assert.equal(state.nodeInfo('a')!.requested.vcpus, 0);
});

test('the assume cache ends assumptions on bind, deletion, a new incarnation or a newer unbound version', () => {
  const c = new AssumeCache();
  const a = vm('a', { rv: '5' });
  c.assume(a, 'n1');
  assert.equal(c.nodeFor(a), 'n1');
  assert.equal(c.observe('default/a', a), true, 'same version: the informer has not caught up');
  assert.equal(c.get('default/a')?.bound, false);
  c.confirm('default/a');
  assert.equal(c.get('default/a')?.bound, true);
  assert.equal(c.nodeFor({ ...a, metadata: { ...a.metadata, uid: 'other' } }), undefined, 'a re-created VM is not assumed');
  assert.equal(c.observe('default/a', vm('a', { rv: '6' })), false, 'newer and unbound: the bind did not stick');
  assert.equal(c.size, 0);
  c.assume(a, 'n1');
  assert.equal(c.observe('default/a', undefined), false, 'gone');
  c.assume(a, 'n1');
  c.forget('default/a');
  assert.equal(c.get('default/a'), undefined);
});

test('with equal scores, schedule picks the first feasible node by name', () => {
  const state = ClusterState.from([node('n3'), node('n1', { ready: 'False' }), node('n2'), node('n0', { unschedulable: true })], []);
  assert.deepEqual(schedule(vm('a'), state, defaultProfile), { ok: true, nodeName: 'n2', feasibleNodes: 2, evaluated: 4 });
});

test('bin-packing fills the fuller node first, and never overcommits when every decision is assumed', () => {
  const nodes = [node('a', { vcpus: 2, memoryMiB: 8192 }), node('b', { vcpus: 4, memoryMiB: 8192 })];
  const vms = Array.from({ length: 8 }, (_, i) => vm(`v${i}`));
  const state = ClusterState.from(nodes, vms);
  const placed: string[] = [];
  for (const v of vms) {
    const r = schedule(v, state, defaultProfile);
    if (r.ok) {
      state.assume(v, r.nodeName);
      placed.push(r.nodeName);
    } else placed.push('-');
  }
  assert.deepEqual(placed, ['a', 'a', 'b', 'b', 'b', 'b', '-', '-']);
});

test('an unschedulable VM gets Kubernetes-worded reasons, per node, most common first', () => {
  const nodes = ClusterState.from(
    [
      node('n1', { memoryMiB: 128, labels: { zone: 'b' } }),
      node('n2', { memoryMiB: 128, labels: { zone: 'b' } }),
      node('n3', { ready: 'False', labels: { zone: 'b' } }),
      node('n4', { unschedulable: true, labels: { zone: 'b' } }),
      node('n5', { labels: { zone: 'a' } }),
    ],
    [],
  );
  const r = schedule(vm('big', { memoryMiB: 256, selector: { zone: 'b' } }), nodes, defaultProfile);
  assert.equal(r.ok, false);
  assert.equal(
    !r.ok && r.message,
    "0/5 nodes are available: 2 insufficient memory, 1 node(s) didn't match the VM's node selector, 1 node(s) not ready, 1 node(s) were unschedulable.",
  );
  assert.equal(
    unschedulableMessage(3, { 'insufficient memory': 2, 'node(s) not ready': 1 }),
    '0/3 nodes are available: 2 insufficient memory, 1 node(s) not ready.',
  );
  assert.equal(unschedulableMessage(0, {}), '0/0 nodes are available: no nodes are registered.');
});

test('HostPorts: a VM publishing a host port goes only where no placed VM publishes it with the same protocol', () => {
  const n = node('n');
  const publishing = (name: string, ports: { hostPort: number; protocol?: 'TCP' | 'UDP' }[], nodeName?: string) => {
    const v = vm(name, { ...(nodeName ? { nodeName, phase: 'Running' } : {}) });
    return { ...v, spec: { ...v.spec, ports: ports.map((p) => ({ guestPort: 80, protocol: p.protocol ?? ('TCP' as const), hostPort: p.hostPort })) } };
  };
  const web = publishing('web', [{ hostPort: 8080 }], 'n');
  assert.equal(check(hostPorts, vm('plain'), n, [web]).ok, true, 'no ports: any node');
  assert.equal(check(hostPorts, publishing('other', [{ hostPort: 8081 }]), n, [web]).ok, true, 'another port');
  assert.equal(check(hostPorts, publishing('dns', [{ hostPort: 8080, protocol: 'UDP' }]), n, [web]).ok, true, 'the same port, another protocol');
  assert.deepEqual(check(hostPorts, publishing('clash', [{ hostPort: 9000 }, { hostPort: 8080 }]), n, [web]), {
    ok: false,
    reason: "node(s) didn't have free host port TCP/8080 (published by default/web)",
  });
  assert.equal(
    check(hostPorts, publishing('elsewhere', [{ hostPort: 8080 }]), n, [publishing('web2', [{ hostPort: 8080 }], 'other')]).ok,
    true,
    'on another node',
  );
  assert.equal(check(hostPorts, web, n, [web]).ok, true, 'not against itself');
});
