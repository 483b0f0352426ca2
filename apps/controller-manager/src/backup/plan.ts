/**
 * What a new Backup copies, decided once when it starts (pure): the VMs it names or selects
 * (or every VM of its namespace), and for each a DiskBackup — the node whose agent copies its
 * disks, its made Volumes' files, and the manifests of the VM and its Volumes as they are now.
 * A VM that cannot be backed up is an error item, and the others go on.
 */
import {
  BACKUP_DATA_FINALIZER,
  BACKUP_NAME_LABEL,
  backupDirectory,
  diskBackupName,
  isConditionTrue,
  matchesSelector,
  objectKey,
  selectorFromObject,
  vmDisks,
  type Backup,
  type BackupItemError,
  type BackupLocation,
  type DiskBackup,
  type DiskBackupVolume,
  type KubeObject,
  type Node,
  type VirtualMachine,
  type Volume,
} from '@shoal/api';

export interface BackupPlan {
  diskBackups: DiskBackup[];
  errors: BackupItemError[];
}

export interface PlanInput {
  backup: Backup;
  location: BackupLocation;
  /** The VMs of the Backup's namespace. */
  vms: VirtualMachine[];
  volume(key: string): Volume | undefined;
  nodes: Node[];
}

export function planBackup({ backup, location, vms, volume, nodes }: PlanInput): BackupPlan {
  const ns = backup.metadata.namespace!;
  const errors: BackupItemError[] = [];
  let chosen: VirtualMachine[];
  if (backup.spec.vmNames?.length) {
    chosen = [];
    for (const name of backup.spec.vmNames) {
      const vm = vms.find((v) => v.metadata.name === name);
      if (vm) chosen.push(vm);
      else errors.push({ item: `virtualmachine/${name}`, reason: 'NotFound', message: `virtualmachine ${name} does not exist in namespace ${ns}` });
    }
  } else {
    const sel = selectorFromObject(backup.spec.selector);
    chosen = vms.filter((v) => matchesSelector(sel, v.metadata.labels));
  }

  const diskBackups: DiskBackup[] = [];
  for (const vm of chosen.filter((v) => !v.metadata.deletionTimestamp)) {
    const volumes: DiskBackupVolume[] = [];
    const manifests: Volume[] = [];
    for (const disk of vmDisks(vm)) {
      const v = volume(objectKey({ namespace: ns, name: disk.volumeName }));
      if (v?.status?.phase !== 'Available' || !v.status.path) {
        errors.push({
          item: `volume/${disk.volumeName}`,
          reason: 'VolumeNotMade',
          message: `volume ${disk.volumeName} of virtualmachine ${vm.metadata.name} holds no data yet (${v?.status?.phase ?? 'it does not exist'}): not backed up`,
        });
        continue;
      }
      volumes.push({ disk: disk.name, name: disk.volumeName, uid: v.metadata.uid, path: v.status.path, format: v.status.format ?? 'qcow2' });
      manifests.push(v);
    }
    const node = nodeFor(vm, manifests, nodes);
    if (!node) {
      errors.push({
        item: `virtualmachine/${vm.metadata.name}`,
        reason: 'NoNode',
        message: `no Ready node holds the disks of virtualmachine ${vm.metadata.name}`,
      });
      continue;
    }
    diskBackups.push({
      apiVersion: backup.apiVersion,
      kind: 'DiskBackup',
      metadata: {
        name: diskBackupName(backup.metadata.name!, vm.metadata.name!),
        namespace: ns,
        labels: { [BACKUP_NAME_LABEL]: backup.metadata.name! },
        finalizers: [BACKUP_DATA_FINALIZER],
        ownerReferences: [{ apiVersion: backup.apiVersion, kind: 'Backup', name: backup.metadata.name!, uid: backup.metadata.uid!, controller: true }],
      },
      spec: {
        backupName: backup.metadata.name!,
        location: location.metadata.name,
        locationPath: location.spec.path,
        path: backupDirectory(backup),
        vmName: vm.metadata.name!,
        vmUID: vm.metadata.uid,
        node,
        mode: backup.spec.mode ?? 'Full',
        volumes,
        manifests: { virtualMachine: asManifest(vm), volumes: manifests.map(asManifest) },
      },
    });
  }
  return { diskBackups, errors };
}

/**
 * The node whose agent copies the disks: the VM's (its QEMU copies them live), else the one
 * that holds its local volumes, else (shared or no volumes) the first Ready node by name.
 */
function nodeFor(vm: VirtualMachine, manifests: Volume[], nodes: Node[]): string | undefined {
  const ready = nodes.filter((n) => isConditionTrue(n.status?.conditions, 'Ready')).map((n) => n.metadata.name!);
  if (vm.spec.nodeName) return vm.spec.nodeName;
  const holder = manifests.find((v) => v.status?.node)?.status?.node;
  if (holder) return holder;
  return ready.sort()[0];
}

/** An object as a manifest to make it again from: what its owner wrote, without what the server or controllers keep. */
function asManifest(o: KubeObject): Record<string, unknown> {
  const {
    resourceVersion: _rv,
    generation: _g,
    managedFields: _m,
    deletionTimestamp: _d,
    deletionGracePeriodSeconds: _dg,
    ...metadata
  } = o.metadata as Record<string, unknown>;
  const { status: _status, ...rest } = o as KubeObject & { status?: unknown };
  return { ...rest, metadata };
}
