/** Who owns, wants and attaches a Volume, and the index behind the event mapping: on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoragePool, VirtualMachine, Volume } from '@shoal/api';
import { KeyIndex } from './key-index.js';
import { attachers, claimsOn, ownedVolume, vmControllerOf } from './ownership.js';
import { ReportedOnce } from './reported-once.js';

const vm = (name: string, uid: string, spec: Partial<VirtualMachine['spec']>, extra: Partial<VirtualMachine['metadata']> = {}): VirtualMachine =>
  ({
    metadata: { name, namespace: 'ns', uid, creationTimestamp: '2026-01-01T00:00:00Z', ...extra },
    spec: { resources: { vcpus: 1, memoryMiB: 64 }, ...spec },
  }) as VirtualMachine;
const volume = (name: string, ownerUid?: string, namespace = 'ns'): Volume =>
  ({
    metadata: {
      name,
      namespace,
      ...(ownerUid ? { ownerReferences: [{ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', name: 'x', uid: ownerUid, controller: true }] } : {}),
    },
    spec: { source: {} },
  }) as Volume;
const pool = (name: string, isDefault: boolean): StoragePool => ({
  apiVersion: 'shoal.dev/v1alpha1',
  kind: 'StoragePool',
  metadata: { name },
  spec: { type: 'local', default: isDefault },
});

test('an owned Volume: the template with its pool resolved, the VM as controlling owner, the label only when the name fits a label value', () => {
  const web = vm('web', 'u1', {
    rootDisk: { baseImage: '/img', sizeGiB: 3 },
    volumes: [{ name: 'data', volumeTemplate: { source: { blank: {} }, sizeGiB: 1 } }],
  });
  const [root] = claimsOn('web-root', [web]);
  assert.deepEqual(ownedVolume(root!, []), {
    apiVersion: 'shoal.dev/v1alpha1',
    kind: 'Volume',
    metadata: {
      name: 'web-root',
      namespace: 'ns',
      labels: { 'shoal.dev/vm': 'web' },
      ownerReferences: [{ apiVersion: 'shoal.dev/v1alpha1', kind: 'VirtualMachine', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }],
    },
    spec: { source: { image: '/img' }, sizeGiB: 3, pool: 'local' },
  });
  const [data] = claimsOn('web-data', [web]);
  assert.equal(ownedVolume(data!, [pool('a', false), pool('b', true)]).spec.pool, 'b');
  const long = vm('v'.repeat(64), 'u2', { volumes: [{ name: 'd', volumeTemplate: { source: {} } }] });
  assert.equal(ownedVolume(claimsOn(`${'v'.repeat(64)}-d`, [long])[0]!, []).metadata.labels, undefined);
});

test('claims: VMs being deleted want nothing; of two VMs wanting one name, the oldest comes first', () => {
  const a = vm('a', 'ua', { volumes: [{ name: 'b-c', volumeTemplate: { source: {} } }] }, { creationTimestamp: '2026-01-02T00:00:00Z' });
  const ab = vm('a-b', 'uab', { volumes: [{ name: 'c', volumeTemplate: { source: {} } }] }, { creationTimestamp: '2026-01-01T00:00:00Z' });
  const byName = vm('n', 'un', { volumes: [{ name: 'c', volumeName: 'a-b-c' }] });
  assert.deepEqual(
    claimsOn('a-b-c', [a, ab, byName]).map((c) => c.vm.metadata.name),
    ['a-b', 'a'],
  );
  const deleting = vm('a-b', 'uab', ab.spec, { deletionTimestamp: '2026-01-03T00:00:00Z' });
  assert.deepEqual(
    claimsOn('a-b-c', [a, deleting]).map((c) => c.vm.metadata.name),
    ['a'],
  );
});

test("attachers: by volumeName always; by template only the Volume's controlling VM; deleting VMs count; other namespaces do not", () => {
  const web = vm('web', 'new', { volumes: [{ name: 'data', volumeTemplate: { source: {} } }] });
  const reader = vm('reader', 'r', { volumes: [{ name: 'd', volumeName: 'web-data' }] }, { deletionTimestamp: '2026-01-03T00:00:00Z' });
  assert.deepEqual(attachers(volume('web-data', 'new'), [web, reader]), ['reader', 'web']);
  assert.deepEqual(attachers(volume('web-data', 'old'), [web]), [], "the old incarnation's Volume is not the new VM's disk");
  assert.deepEqual(attachers(volume('web-data'), [web]), [], 'nor is a foreign one');
  assert.deepEqual(attachers(volume('web-data', 'new', 'elsewhere'), [web]), []);
  assert.equal(vmControllerOf(volume('v')), undefined);
  assert.equal(vmControllerOf(volume('v', 'u'))?.uid, 'u');
});

test('the key index answers both ways and remembers what a source named last', () => {
  const index = new KeyIndex();
  assert.deepEqual(index.set('vm1', ['v1', 'v2']), ['v1', 'v2']);
  index.set('vm2', ['v2']);
  assert.deepEqual(index.sources('v2').sort(), ['vm1', 'vm2']);
  assert.deepEqual(index.set('vm1', ['v3']), ['v1', 'v2', 'v3'], 'before and after');
  assert.deepEqual(index.sources('v2'), ['vm2']);
  assert.deepEqual(index.sources('v1'), []);
  assert.deepEqual(index.delete('vm1'), ['v3']);
  assert.deepEqual(index.targets('vm1'), []);
});

test('reported once: a subject is reported when what holds for it is new or changed, and again after it was forgotten', () => {
  const r = new ReportedOnce();
  assert.deepEqual(r.update('k', new Map([['a', 'x']])), ['a']);
  assert.deepEqual(r.update('k', new Map([['a', 'x']])), []);
  assert.deepEqual(
    r.update(
      'k',
      new Map([
        ['a', 'y'],
        ['b', 'x'],
      ]),
    ),
    ['a', 'b'],
  );
  assert.deepEqual(r.update('k', new Map([['b', 'x']])), []);
  assert.deepEqual(
    r.update(
      'k',
      new Map([
        ['a', 'y'],
        ['b', 'x'],
      ]),
    ),
    ['a'],
  );
  r.forget('k');
  assert.deepEqual(r.update('k', new Map([['b', 'x']])), ['b']);
});
