import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds, withDefaults, type VirtualMachine } from '@shoal/api';
import { renderVirtualMachine } from './virtual-machine.js';

const kind = kinds().find('VirtualMachine')!;
const now = Date.parse('2024-01-01T00:01:00Z');

const vm = (status: VirtualMachine['status'], networks?: string[]): VirtualMachine =>
  withDefaults('VirtualMachine', {
    metadata: { name: 'web', namespace: 'prod', uid: 'v1', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { resources: { vcpus: 1, memoryMiB: 128 }, ...(networks ? { networks: networks.map((name) => ({ name })) } : {}) },
    status,
  });

test('describe vm: one row per NIC in spec.networks order, the address the control plane gave or <pending>; not repeated in the status YAML', () => {
  const text = renderVirtualMachine(
    kind,
    vm(
      {
        phase: 'Running',
        ip: '10.90.0.7',
        interfaces: [{ network: 'front', ip: '10.90.0.7', prefixLength: 24, gateway: '10.90.0.1', mac: '52:54:00:aa:bb:cc' }],
      },
      ['front', 'back'],
    ),
    [],
    now,
  );
  const lines = text.split('\n');
  const at = lines.indexOf('Interfaces:');
  assert.ok(at > 0, text);
  assert.match(lines[at + 1]!, /^ {2}NIC +Network +Address +Gateway +MAC$/);
  assert.match(lines[at + 3]!, /^ {2}eth0 +front +10\.90\.0\.7\/24 +10\.90\.0\.1 +52:54:00:aa:bb:cc$/);
  assert.match(lines[at + 4]!, /^ {2}eth1 +back +<pending>/);
  assert.equal(text.match(/52:54:00:aa:bb:cc/g)?.length, 1, 'the MAC only in the table');
  assert.match(text, /ip: 10\.90\.0\.7/, 'the rest of the status as before');
});

test('describe vm without Networks: no Interfaces section', () => {
  assert.doesNotMatch(renderVirtualMachine(kind, vm({ phase: 'Running', ip: '10.0.2.15' }), [], now), /Interfaces:/);
});
