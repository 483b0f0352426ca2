/**
 * VolumePlacement: a VM goes only where all its disks are reachable — a Volume in a local pool
 * on the node that holds it (once made), one in a shared pool on the nodes its pool selects.
 * A VM whose disk lives on a node that is down therefore stays Pending, the reason naming the
 * volume and the node, instead of booting elsewhere on an empty disk (kube-scheduler's
 * VolumeBinding and VolumeZone filters, for our two kinds of pool).
 *
 * A Volume the VM owns (a template) that its controller has not made yet is judged by its pool
 * alone; one the VM references by name must exist.
 */
import { poolNameFor, resolvePool, vmDisks, volumeReachableFrom, type StoragePool, type VirtualMachine, type Volume } from '@shoal/api';
import { FILTER_OK, type CycleState, type FilterPlugin } from '../framework.js';

interface DiskPlacement {
  /** The Volume when it exists; a template-only placeholder otherwise. */
  volume?: Volume;
  pool?: StoragePool;
  /** Why no node can take it, whatever the node (a missing Volume). */
  missing?: string;
}

const placements = (vm: VirtualMachine, cycle: CycleState) => cycle.memo(diskPlacements, vm);

function diskPlacements(vm: VirtualMachine, cycle: CycleState): DiskPlacement[] {
  const storage = cycle.cluster.storage;
  const ns = vm.metadata.namespace ?? '';
  return vmDisks(vm).map((disk): DiskPlacement => {
    const volume = storage.volume(ns, disk.volumeName);
    const pool = (spec: Volume['spec']) => resolvePool(poolNameFor(spec, storage.pools()), (n) => storage.pool(n));
    if (volume) return { volume, pool: pool(volume.spec) };
    if (!disk.template) return { missing: `volume ${disk.volumeName} does not exist` };
    const placeholder: Volume = { apiVersion: 'shoal.dev/v1alpha1', kind: 'Volume', metadata: { name: disk.volumeName, namespace: ns }, spec: disk.template };
    return { volume: placeholder, pool: pool(disk.template) };
  });
}

const hasDisks = (vm: VirtualMachine) => Boolean(vm.spec.rootDisk || vm.spec.volumes?.length);

export const volumePlacement: FilterPlugin = {
  name: 'VolumePlacement',
  skips: (vm) => !hasDisks(vm),
  filter(vm, node, cycle) {
    if (!hasDisks(vm)) return FILTER_OK;
    const where = { name: node.name, labels: node.node.metadata.labels ?? {} };
    for (const d of placements(vm, cycle)) {
      if (d.missing) return { ok: false, reason: d.missing };
      const why = volumeReachableFrom(d.volume!, d.pool, where);
      if (why) return { ok: false, reason: why };
    }
    return FILTER_OK;
  },
};
