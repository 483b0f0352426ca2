import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults, type Network, type VirtualMachine } from '@shoal/api';
import { tapName } from './names.js';
import { attachmentOf, NETWORKS_PENDING } from './node-networks.js';

const network = (namespace: string, name: string, vni?: number): Network =>
  withDefaults('Network', { metadata: { name, namespace }, spec: { cidr: '10.40.0.0/24' }, ...(vni ? { status: { vni } } : {}) });
const byKey = (...nets: Network[]) => new Map(nets.map((n) => [`${n.metadata.namespace}/${n.metadata.name}`, n]));
const vm = (spec: Partial<VirtualMachine['spec']>, interfaces?: { network: string; ip: string; mac: string }[]): VirtualMachine =>
  withDefaults('VirtualMachine', {
    metadata: { name: 'web', namespace: 'prod', uid: 'u-1' },
    spec: { resources: { vcpus: 1, memoryMiB: 128 }, ...spec },
    ...(interfaces ? { status: { interfaces } } : {}),
  });

test('a VM on Networks: one tap per NIC in spec.networks order, with the MACs the control plane gave', () => {
  const v = vm({ networks: [{ name: 'front' }, { name: 'back' }] }, [
    { network: 'back', ip: '10.41.0.2', mac: '52:54:00:00:00:02' },
    { network: 'front', ip: '10.40.0.2', mac: '52:54:00:00:00:01' },
  ]);
  assert.deepEqual(attachmentOf(v, byKey(network('prod', 'front', 4096), network('prod', 'back', 4097))), {
    ok: true,
    nics: [
      { tap: tapName('u-1', 0), mac: '52:54:00:00:00:01' },
      { tap: tapName('u-1', 1), mac: '52:54:00:00:00:02' },
    ],
  });
});

test('a VM waits, saying why, for its addresses and for its Networks’ overlay segments', () => {
  const named = { networks: [{ name: 'front' }] };
  const noAddress = attachmentOf(vm(named), byKey(network('prod', 'front', 4096)));
  assert.deepEqual(noAddress, { ok: false, reason: NETWORKS_PENDING, message: 'waiting for addresses on front (the network controller gives them)' });
  const noVni = attachmentOf(vm(named, [{ network: 'front', ip: '10.40.0.2', mac: '52:54:00:00:00:01' }]), byKey(network('prod', 'front')));
  assert.equal(noVni.ok, false);
  assert.match((noVni as { message: string }).message, /Network front's overlay segment/);
});

test('a VM that names no Network: on the cluster’s default Network when there is one, else none (user networking)', () => {
  const plain = vm({});
  assert.deepEqual(attachmentOf(plain, byKey(network('prod', 'front', 4096))), { ok: true, nics: [] }, 'no default Network: no NIC here');
  const cluster = byKey(network('shoal-system', 'default', 4100));
  assert.equal(attachmentOf(plain, cluster).ok, false, 'waits for its default address');
  const joined = vm({}, [{ network: 'shoal-system/default', ip: '10.200.0.2', mac: '52:54:00:00:00:09' }]);
  assert.deepEqual(attachmentOf(joined, cluster), { ok: true, nics: [{ tap: tapName('u-1', 0), mac: '52:54:00:00:00:09' }] });
  assert.deepEqual(attachmentOf(vm({ network: { mode: 'user' } }), cluster), { ok: true, nics: [] }, 'user networking asked for');
});
