/**
 * The files a migration leaves behind on a node that does not hold their Volume: the source's
 * copies of local disks that moved to the target, and the target's blank copies of a migration
 * that ended without the move. A local Volume's status names the one node whose file is its
 * data; every other node's file of it is a copy nobody reads.
 */
import { ApiError, poolNameFor, vmDisks, type Migration, type VirtualMachine } from '@shoal/api';
import { poolOf, volumeOf } from '../volumes/volume-access.js';
import { removeVolumeFile, volumeFilePath } from '../volumes/volume-files.js';
import type { MigrationContext } from './context.js';

/** Removes this node's files of the VM's local Volumes that another node holds (their status names it). */
export async function removeCopiesHeldElsewhere(ctx: MigrationContext, vm: VirtualMachine): Promise<void> {
  const access = ctx.volumes;
  if (!access) return;
  const namespace = vm.metadata.namespace!;
  for (const disk of vmDisks(vm)) {
    const volume = volumeOf(access, namespace, disk.volumeName);
    const pool = volume && poolOf(access, poolNameFor(volume.spec, access.pools.list()));
    if (!volume || !pool || pool.spec.type === 'shared') continue;
    // Held here, or not made yet (no node): this node's file may be the data.
    if (!volume.status?.node || volume.status.node === ctx.nodeName) continue;
    await removeVolumeFile(volumeFilePath(access.dataDir, pool, namespace, disk.volumeName));
  }
}

/**
 * After a Migration this node took part in: its files of the VM's local Volumes go when the VM
 * (the same uid) is bound elsewhere now — moved away from here, or never moved here.
 */
export async function removeCopiesIfElsewhere(ctx: MigrationContext, key: string, m: Migration | undefined, vmUid: string): Promise<void> {
  const vm = await vmOfMigration(ctx, key, m);
  if (vm?.metadata.uid === vmUid && vm.spec.nodeName !== ctx.nodeName) await removeCopiesHeldElsewhere(ctx, vm);
}

/** The Migration's VM as the apiserver has it now (this node's cache holds only the VMs bound here); undefined when gone. */
export async function vmOfMigration(ctx: MigrationContext, key: string, m: Migration | undefined): Promise<VirtualMachine | undefined> {
  const [namespace] = key.split('/');
  const name = m?.spec.vmName ?? ctx.driver.state(ctx.local.get(key)?.vmUid ?? '')?.name;
  if (!name) return undefined;
  try {
    return await ctx.client.get<VirtualMachine>('vm', name, { namespace });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}
