/**
 * How a VirtualMachine names its disks, and how Volumes are kept: what the apiserver, the
 * volume controller, the scheduler and the node agents all read the same way.
 */
import type { StoragePool, VirtualMachine, Volume, VolumeSpec } from './model/generated.js';

/**
 * On every Volume from its creation: the volume controller removes it once the Volume is being
 * deleted and no VirtualMachine uses it, so a disk is never pulled from under a guest.
 */
export const VOLUME_PROTECTION_FINALIZER = 'shoal.dev/volume-protection';

/**
 * Put on a Volume by the node agent that made its file, removed by an agent once that file is
 * deleted: a deleted Volume never leaves its data behind on a disk nobody tracks.
 */
export const VOLUME_STORAGE_FINALIZER = 'shoal.dev/volume-storage';

/** The pool a Volume goes to when it names none and no StoragePool is marked default. */
export const FALLBACK_POOL_NAME = 'local';

/** The disk name a rootDisk takes among a VM's volumes. */
export const ROOT_DISK_NAME = 'root';

/** One disk of a VM, in attachment order: the Volume it is, and the spec to make it with when the VM owns it. */
export interface VmDisk {
  /** The disk's name within the VM (spec.volumes[].name, or root). */
  name: string;
  /** The Volume in the VM's namespace. */
  volumeName: string;
  /** Set when the VM owns the Volume: the volume controller makes it from this spec. */
  template?: VolumeSpec;
  /** The field path of the entry, for messages. */
  field: string;
}

/** The Volume a VM's template makes: <vm name>-<disk name>. */
export const ownedVolumeName = (vmName: string, diskName: string) => `${vmName}-${diskName}`;

/** A VM's disks in attachment order (/dev/vda first): its rootDisk, then spec.volumes. */
export function vmDisks(vm: VirtualMachine): VmDisk[] {
  const name = vm.metadata.name ?? '';
  const disks: VmDisk[] = [];
  const root = vm.spec.rootDisk;
  if (root)
    disks.push({
      name: ROOT_DISK_NAME,
      volumeName: ownedVolumeName(name, ROOT_DISK_NAME),
      template: { source: { image: root.baseImage }, ...(root.sizeGiB ? { sizeGiB: root.sizeGiB } : {}) },
      field: 'spec.rootDisk',
    });
  for (const [i, v] of (vm.spec.volumes ?? []).entries()) {
    const field = `spec.volumes[${i}]`;
    if (v.volumeTemplate) disks.push({ name: v.name, volumeName: ownedVolumeName(name, v.name), template: v.volumeTemplate, field });
    else if (v.volumeName) disks.push({ name: v.name, volumeName: v.volumeName, field });
  }
  return disks;
}

/** Whether a VM attaches the Volume `volumeName` (in its own namespace). */
export const vmUsesVolume = (vm: VirtualMachine, volumeName: string) => vmDisks(vm).some((d) => d.volumeName === volumeName);

/** The pool a Volume spec goes to: its own, else the default pool, else `local`. */
export function poolNameFor(spec: VolumeSpec, pools: Iterable<StoragePool>): string {
  if (spec.pool) return spec.pool;
  for (const p of pools) if (p.spec.default) return p.metadata.name!;
  return FALLBACK_POOL_NAME;
}

/**
 * The pool a Volume is kept in. The `local` pool need not exist as an object: without one it is
 * a local pool, so a cluster with no StoragePool at all still has somewhere to keep disks.
 */
export function resolvePool(name: string, pools: (name: string) => StoragePool | undefined): StoragePool | undefined {
  return (
    pools(name) ??
    (name === FALLBACK_POOL_NAME
      ? { apiVersion: 'shoal.dev/v1alpha1', kind: 'StoragePool', metadata: { name }, spec: { type: 'local', default: false } }
      : undefined)
  );
}

/** Where a Volume must be for a VM to use it from `node`: why not, or undefined when it can. */
export function volumeReachableFrom(volume: Volume, pool: StoragePool | undefined, node: { name: string; labels: Record<string, string> }): string | undefined {
  const id = `volume ${volume.metadata.name}`;
  if (!pool) return `${id}: its StoragePool ${JSON.stringify(volume.spec.pool ?? FALLBACK_POOL_NAME)} does not exist`;
  const selector = pool.spec.nodeSelector ?? {};
  for (const [k, v] of Object.entries(selector))
    if (node.labels[k] !== v) return `${id}: StoragePool ${pool.metadata.name} does not reach node ${node.name} (it needs ${k}=${v})`;
  if (pool.spec.type === 'local' && volume.status?.node && volume.status.node !== node.name) return `${id} lives on node ${volume.status.node}`;
  return undefined;
}
