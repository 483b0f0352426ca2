import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDefaults } from './defaults.js';

test('withDefaults gives a manifest the stored form: apiVersion, kind and the schema defaults, without changing the manifest', () => {
  const manifest = { metadata: { name: 'web' }, spec: { resources: { vcpus: 2 } } };
  const vm = withDefaults('VirtualMachine', manifest);
  assert.equal(vm.apiVersion, 'shoal.dev/v1alpha1');
  assert.equal(vm.kind, 'VirtualMachine');
  assert.deepEqual(vm.spec.resources, { vcpus: 2, memoryMiB: 256 });
  assert.equal(vm.spec.runStrategy, 'Always');
  assert.equal(vm.spec.network.mode, 'default');
  assert.deepEqual(manifest.spec, { resources: { vcpus: 2 } }, 'the manifest is left alone');
  assert.equal(withDefaults('PlacementPolicy', { metadata: { name: 'p' } }).spec.scoring, 'BinPack');
});
