/**
 * Which VirtualMachine a Volume belongs to, which VMs want it made, and which attach it: pure
 * functions over objects, shared by the reconcile and its unit tests.
 *
 * The one rule that is not just "same name": a disk made from a volumeTemplate is the VM's own
 * Volume, so it is that disk only while the Volume's controller ownerReference is that VM (by
 * uid). A Volume of that name that is someone else's — a foreign one, or the old one of a VM
 * deleted and created again under the same name — is not attached by the template: otherwise
 * the new VM would hold the old Volume's deletion forever, and its own could never be made.
 */
import {
  API_VERSION,
  GROUP,
  poolNameFor,
  vmDisks,
  type OwnerReference,
  type StoragePool,
  type VirtualMachine,
  type VmDisk,
  type Volume,
  type VolumeSpec,
} from '@shoal/api';

/** On every Volume made from a VM's template: the VM's name (`shoal.dev/vm=web` selects its disks). */
export const VM_LABEL = 'shoal.dev/vm';

/** Label values are at most 63 characters; VM names may be longer (the ownerReference is the real link). */
const MAX_LABEL_VALUE = 63;

/** The Volume's controller ownerReference to a VirtualMachine (of any version of the group), if it has one. */
export function vmControllerOf(volume: Pick<Volume, 'metadata'>): OwnerReference | undefined {
  return (volume.metadata.ownerReferences ?? []).find((r) => r.controller === true && r.kind === 'VirtualMachine' && r.apiVersion.split('/')[0] === GROUP);
}

/** A disk of a VM that makes the Volume from its template. */
export interface Claim {
  vm: VirtualMachine;
  disk: VmDisk & { template: VolumeSpec };
}

const creationOrder = (a: VirtualMachine, b: VirtualMachine) =>
  (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

/**
 * The VMs (not being deleted) whose templates make the Volume `volumeName`, oldest first. Two
 * VMs can want one name (VM `a` with disk `b-c` and VM `a-b` with disk `c`): the oldest gets it.
 */
export function claimsOn(volumeName: string, vms: Iterable<VirtualMachine>): Claim[] {
  const claims: Claim[] = [];
  for (const vm of [...vms].sort(creationOrder)) {
    if (vm.metadata.deletionTimestamp) continue;
    const disk = vmDisks(vm).find((d) => d.volumeName === volumeName && d.template);
    if (disk) claims.push({ vm, disk: disk as Claim['disk'] });
  }
  return claims;
}

/** The Volume a claim makes: the template, its pool resolved now (a later default pool does not move it), owned by the VM. */
export function ownedVolume(claim: Claim, pools: Iterable<StoragePool>): Volume {
  const { vm, disk } = claim;
  const vmName = vm.metadata.name!;
  return {
    apiVersion: API_VERSION,
    kind: 'Volume',
    metadata: {
      name: disk.volumeName,
      namespace: vm.metadata.namespace,
      ...(vmName.length <= MAX_LABEL_VALUE ? { labels: { [VM_LABEL]: vmName } } : {}),
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'VirtualMachine', name: vmName, uid: vm.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...structuredClone(disk.template), pool: poolNameFor(disk.template, pools) },
  };
}

/** Whether `vm` attaches `volume` (both in one namespace): by volumeName, or by a template when the Volume is that VM's own. */
export function attaches(vm: VirtualMachine, volume: Pick<Volume, 'metadata'>): boolean {
  const name = volume.metadata.name;
  const owner = vmControllerOf(volume);
  return vmDisks(vm).some((d) => d.volumeName === name && (!d.template || owner?.uid === vm.metadata.uid));
}

/** The VMs among `vms` (being deleted or not) that attach `volume`, by name. */
export function attachers(volume: Pick<Volume, 'metadata'>, vms: Iterable<VirtualMachine>): string[] {
  const names: string[] = [];
  for (const vm of vms) if (vm.metadata.namespace === volume.metadata.namespace && attaches(vm, volume)) names.push(vm.metadata.name!);
  return names.sort();
}
