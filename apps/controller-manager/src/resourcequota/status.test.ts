/** A ResourceQuota's status.used on plain objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceQuota, VirtualMachine } from '@shoal/api';
import { quotaUsed, usedPatch } from './status.js';

const vm = (namespace: string, vcpus: number, memoryMiB: number) =>
  ({ metadata: { name: `v${vcpus}`, namespace }, spec: { resources: { vcpus, memoryMiB } } }) as VirtualMachine;
const quota = (hard: ResourceQuota['spec']['hard']) => ({ metadata: { name: 'q', namespace: 'team' }, spec: { hard } }) as ResourceQuota;

test("status.used sums the namespace's VMs for the resources the quota limits", () => {
  const vms = [vm('team', 2, 256), vm('team', 4, 1024), vm('other', 8, 8192)];
  assert.deepEqual(quotaUsed(quota({ vcpus: 10, memoryMiB: 4096, virtualmachines: 5 }), vms), { memoryMiB: 1280, vcpus: 6, virtualmachines: 2 });
  assert.deepEqual(quotaUsed(quota({ virtualmachines: 5 }), vms), { virtualmachines: 2 });
  assert.deepEqual(quotaUsed(quota({ vcpus: 1 }), []), { vcpus: 0 });
  // A VM stored before its defaults were applied counts with them (1 vCPU, 256 MiB).
  assert.deepEqual(quotaUsed(quota({ vcpus: 9, memoryMiB: 9 }), [{ metadata: { name: 'old', namespace: 'team' }, spec: {} } as VirtualMachine]), {
    memoryMiB: 256,
    vcpus: 1,
  });
});

test('the status patch: nothing when equal, every resource otherwise, null for those no longer limited', () => {
  assert.equal(usedPatch({ vcpus: 6 }, { vcpus: 6 }), undefined);
  assert.equal(usedPatch({}, {}), undefined);
  assert.deepEqual(usedPatch(undefined, { vcpus: 0 }), { memoryMiB: null, vcpus: 0, virtualmachines: null });
  assert.deepEqual(usedPatch({ vcpus: 6, memoryMiB: 512 }, { vcpus: 6 }), { memoryMiB: null, vcpus: 6, virtualmachines: null });
  assert.deepEqual(usedPatch({ vcpus: 6 }, { vcpus: 7, virtualmachines: 2 }), { memoryMiB: null, vcpus: 7, virtualmachines: 2 });
});
