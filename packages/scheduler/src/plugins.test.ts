/** Each plugin, the NodeInfo accounting, the assume cache and the decision, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssumeCache } from './assume-cache.js';
import { schedule, unschedulableMessage } from './framework.js';
import { buildNodeInfos, newNodeInfo } from './node-info.js';
import { nodeReady } from './plugins/node-ready.js';
import { nodeSelector } from './plugins/node-selector.js';
import { nodeUnschedulable } from './plugins/node-unschedulable.js';
import { resourcesFit } from './plugins/resources-fit.js';
import { firstFitProfile } from './profile.js';
import { holdsResources } from './resources.js';
import type { Node, VirtualMachine, VmPhase, RunStrategy } from './types.js';

interface NodeOpts {
  ready?: 'True' | 'False' | 'Unknown' | null;
  unschedulable?: boolean;
  vcpus?: number;
  memoryMiB?: number;
  labels?: Record<string, string>;
}
function node(name: string, o: NodeOpts = {}): Node {
  return {
    metadata: { name, labels: o.labels },
    spec: { unschedulable: o.unschedulable ?? false },
    status: {
      allocatable: { vcpus: o.vcpus ?? 4, memoryMiB: o.memoryMiB ?? 4096 },
      conditions: o.ready === null ? [] : [{ type: 'Ready', status: o.ready ?? 'True' }],
    },
  };
}

interface VmOpts {
  vcpus?: number;
  memoryMiB?: number;
  nodeName?: string;
  phase?: VmPhase;
  runStrategy?: RunStrategy;
  deleting?: boolean;
  selector?: Record<string, string>;
  rv?: string;
}
function vm(name: string, o: VmOpts = {}): VirtualMachine {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: o.rv ?? '1', ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {
      runStrategy: o.runStrategy ?? 'Always',
      resources: { vcpus: o.vcpus ?? 1, memoryMiB: o.memoryMiB ?? 256 },
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
      ...(o.selector ? { nodeSelector: o.selector } : {}),
    },
    ...(o.phase ? { status: { phase: o.phase } } : {}),
  };
}
const info = (n: Node, vms: VirtualMachine[] = []) => buildNodeInfos([n], vms)[0]!;

test('NodeReady passes only Ready=True', () => {
  assert.deepEqual(nodeReady.filter(vm('a'), info(node('n', { ready: 'True' }))), { ok: true });
  for (const ready of ['False', 'Unknown', null] as const)
    assert.deepEqual(nodeReady.filter(vm('a'), info(node('n', { ready }))), { ok: false, reason: 'node(s) not ready' });
});

test('NodeUnschedulable refuses cordoned nodes', () => {
  assert.equal(nodeUnschedulable.filter(vm('a'), info(node('n'))).ok, true);
  assert.deepEqual(nodeUnschedulable.filter(vm('a'), info(node('n', { unschedulable: true }))), { ok: false, reason: 'node(s) were unschedulable' });
});

test('NodeSelector needs every selected label with its value', () => {
  const n = node('n', { labels: { zone: 'a', disk: 'ssd' } });
  assert.equal(nodeSelector.filter(vm('a'), info(n)).ok, true, 'no selector: any node');
  assert.equal(nodeSelector.filter(vm('a', { selector: { zone: 'a' } }), info(n)).ok, true);
  assert.equal(nodeSelector.filter(vm('a', { selector: { zone: 'a', disk: 'ssd' } }), info(n)).ok, true);
  assert.deepEqual(nodeSelector.filter(vm('a', { selector: { zone: 'b' } }), info(n)), { ok: false, reason: "node(s) didn't match the VM's node selector" });
  assert.equal(nodeSelector.filter(vm('a', { selector: { gpu: 'yes' } }), info(n)).ok, false);
  assert.equal(nodeSelector.filter(vm('a', { selector: { toString: '' } }), info(node('plain'))).ok, false, 'no prototype keys');
});

test('ResourcesFit counts allocatable minus what bound VMs hold, vcpus then memory', () => {
  const n = node('n', { vcpus: 4, memoryMiB: 1024 });
  assert.equal(resourcesFit.filter(vm('a', { vcpus: 4, memoryMiB: 1024 }), info(n)).ok, true, 'exactly full fits');
  assert.deepEqual(resourcesFit.filter(vm('a', { vcpus: 5 }), info(n)), { ok: false, reason: 'insufficient vcpus' });
  assert.deepEqual(resourcesFit.filter(vm('a', { memoryMiB: 1025 }), info(n)), { ok: false, reason: 'insufficient memory' });
  const bound = [vm('x', { nodeName: 'n', vcpus: 2, memoryMiB: 512, phase: 'Running' }), vm('y', { nodeName: 'other', vcpus: 2 })];
  assert.equal(resourcesFit.filter(vm('a', { vcpus: 2, memoryMiB: 512 }), info(n, bound)).ok, true);
  assert.deepEqual(resourcesFit.filter(vm('a', { vcpus: 2, memoryMiB: 513 }), info(n, bound)), { ok: false, reason: 'insufficient memory' });
  assert.deepEqual(resourcesFit.filter(vm('a', { vcpus: 3 }), info(n, bound)), { ok: false, reason: 'insufficient vcpus' });
});

test('a node without allocatable uses its capacity, and one with neither has no room', () => {
  const capOnly: Node = { metadata: { name: 'c' }, status: { capacity: { vcpus: 2, memoryMiB: 512 }, conditions: [{ type: 'Ready', status: 'True' }] } };
  assert.equal(resourcesFit.filter(vm('a', { vcpus: 2, memoryMiB: 512 }), newNodeInfo(capOnly)).ok, true);
  const bare: Node = { metadata: { name: 'b' } };
  assert.equal(resourcesFit.filter(vm('a'), newNodeInfo(bare)).ok, false);
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
  const vms = [vm('h', { nodeName: 'n', vcpus: 2, memoryMiB: 512, phase: 'Stopped', runStrategy: 'Halted' }), vm('d', { nodeName: 'n', vcpus: 2, memoryMiB: 512, phase: 'Stopped', deleting: true })];
  assert.equal(resourcesFit.filter(vm('a', { vcpus: 2, memoryMiB: 512 }), info(n, vms)).ok, true);
});

test('buildNodeInfos sorts by name, skips VMs on unknown nodes, and counts assumed VMs until the informer shows them bound', () => {
  const assumed = new AssumeCache();
  const pending = vm('p', { vcpus: 2, rv: '7' });
  assumed.assume(pending, 'b');
  const infos = buildNodeInfos([node('c'), node('a'), node('b')], [pending, vm('ghost', { nodeName: 'gone', vcpus: 3 }), vm('q', { nodeName: 'a' })], assumed);
  assert.deepEqual(infos.map((i) => i.name), ['a', 'b', 'c']);
  assert.deepEqual(infos.map((i) => i.requested.vcpus), [1, 2, 0]);
  assert.deepEqual(infos[1]!.vms, ['default/p']);
  // The informer now shows p bound to b: it counts once, as itself.
  const bound = vm('p', { vcpus: 2, rv: '8', nodeName: 'b' });
  assert.equal(assumed.observe('default/p', bound), false, 'the assumption ends');
  assert.deepEqual(buildNodeInfos([node('b')], [bound], assumed)[0]!.requested.vcpus, 2);
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

test('schedule picks the first feasible node by name', () => {
  const nodes = buildNodeInfos([node('n3'), node('n1', { ready: 'False' }), node('n2'), node('n0', { unschedulable: true })], []);
  assert.deepEqual(schedule(vm('a'), nodes, firstFitProfile), { ok: true, nodeName: 'n2', feasibleNodes: 2 });
});

test('first fit fills one node before the next, and never overcommits when every decision is assumed', () => {
  const assumed = new AssumeCache();
  const nodes = [node('a', { vcpus: 2, memoryMiB: 8192 }), node('b', { vcpus: 4, memoryMiB: 8192 })];
  const vms = Array.from({ length: 8 }, (_, i) => vm(`v${i}`));
  const placed: string[] = [];
  for (const v of vms) {
    const r = schedule(v, buildNodeInfos(nodes, vms, assumed), firstFitProfile);
    if (r.ok) {
      assumed.assume(v, r.nodeName);
      placed.push(r.nodeName);
    } else placed.push('-');
  }
  assert.deepEqual(placed, ['a', 'a', 'b', 'b', 'b', 'b', '-', '-']);
});

test('an unschedulable VM gets Kubernetes-worded reasons, per node, most common first', () => {
  const nodes = buildNodeInfos(
    [
      node('n1', { memoryMiB: 128, labels: { zone: 'b' } }),
      node('n2', { memoryMiB: 128, labels: { zone: 'b' } }),
      node('n3', { ready: 'False', labels: { zone: 'b' } }),
      node('n4', { unschedulable: true, labels: { zone: 'b' } }),
      node('n5', { labels: { zone: 'a' } }),
    ],
    [],
  );
  const r = schedule(vm('big', { memoryMiB: 256, selector: { zone: 'b' } }), nodes, firstFitProfile);
  assert.equal(r.ok, false);
  assert.equal(
    !r.ok && r.message,
    "0/5 nodes are available: 2 insufficient memory, 1 node(s) didn't match the VM's node selector, 1 node(s) not ready, 1 node(s) were unschedulable.",
  );
  assert.equal(unschedulableMessage(3, { 'insufficient memory': 2, 'node(s) not ready': 1 }), '0/3 nodes are available: 2 insufficient memory, 1 node(s) not ready.');
  assert.equal(unschedulableMessage(0, {}), '0/0 nodes are available: no nodes are registered.');
});
