/** The overview's topology, allocation and phase counts, on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, VirtualMachine } from '@shoal/api/browser';
import { nodeTopology, phaseCounts, UNLABELLED } from './overview-model.js';

const node = (name: string, labels: Record<string, string>, ready?: 'True' | 'False', vcpus = 4, memoryMiB = 4096): Node =>
  ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Node',
    metadata: { name, labels },
    spec: {},
    status: { allocatable: { vcpus, memoryMiB }, ...(ready ? { conditions: [{ type: 'Ready', status: ready, message: `ready ${ready}` }] } : {}) },
  }) as Node;

const vm = (name: string, nodeName: string | undefined, phase: string | undefined, runStrategy = 'Always', vcpus = 1, memoryMiB = 512): VirtualMachine =>
  ({
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name, namespace: 'default' },
    spec: { runStrategy, resources: { vcpus, memoryMiB }, ...(nodeName ? { nodeName } : {}) },
    ...(phase ? { status: { phase } } : {}),
  }) as VirtualMachine;

const topo = (dc: string, zone: string, rack: string) => ({
  'topology.shoal.dev/datacenter': dc,
  'topology.shoal.dev/zone': zone,
  'topology.shoal.dev/rack': rack,
});

test('nodes are grouped by datacenter, zone and rack, unlabelled last, with Ready and the room their VMs hold', () => {
  const nodes = [
    node('n-10', topo('dc1', 'a', 'r1'), 'True'),
    node('n-2', topo('dc1', 'a', 'r1'), 'False'),
    node('b', topo('dc1', 'b', 'r9')),
    node('lone', {}, 'True'),
  ];
  const vms = [
    vm('one', 'n-2', 'Running', 'Always', 2, 1024),
    vm('two', 'n-2', 'Starting'),
    // Stopped and Halted: holds no room (as the scheduler counts), but is on the node.
    vm('halted', 'n-2', 'Stopped', 'Halted', 8, 8192),
    vm('pending', undefined, 'Pending'),
  ];
  const dcs = nodeTopology(nodes, vms);
  assert.deepEqual(
    dcs.map((d) => [d.name, d.zones.map((z) => [z.name, z.racks.map((r) => [r.name, r.nodes.map((n) => n.name)])])]),
    [
      [
        'dc1',
        [
          ['a', [['r1', ['n-2', 'n-10']]]],
          ['b', [['r9', ['b']]]],
        ],
      ],
      [UNLABELLED, [[UNLABELLED, [[UNLABELLED, ['lone']]]]]],
    ],
  );
  const n2 = dcs[0]!.zones[0]!.racks[0]!.nodes[0]!;
  assert.deepEqual(n2, {
    name: 'n-2',
    ready: 'False',
    readyMessage: 'ready False',
    unschedulable: false,
    allocatable: { vcpus: 4, memoryMiB: 4096 },
    requested: { vcpus: 3, memoryMiB: 1536 },
    vms: 3,
  });
  assert.equal(dcs[0]!.zones[1]!.racks[0]!.nodes[0]!.ready, 'Unknown', 'no Ready condition yet');
});

test('VMs per phase: every phase in order, zeros included, then the ones with no phase yet', () => {
  const counts = phaseCounts([vm('a', 'n', 'Running'), vm('b', 'n', 'Running'), vm('c', undefined, 'Pending'), vm('d', undefined, undefined)]);
  assert.deepEqual(counts, [
    { phase: 'Pending', count: 1 },
    { phase: 'Scheduled', count: 0 },
    { phase: 'Starting', count: 0 },
    { phase: 'Running', count: 2 },
    { phase: 'Stopping', count: 0 },
    { phase: 'Stopped', count: 0 },
    { phase: 'Failed', count: 0 },
    { phase: 'Unknown', count: 1 },
  ]);
});
