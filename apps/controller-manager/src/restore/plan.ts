/**
 * What a Restore makes (pure): for each VM of the Backup it restores, the Volumes first — each
 * a new Volume whose source is the backed-up disk — then the VM, its disks naming those Volumes.
 * A Volume the VM owned takes the VM's new name (<vm>-<disk>); one it did not own keeps its name.
 * Everything made carries the Restore's uid (RESTORED_BY_ANNOTATION): what exists without it was
 * there before, and is skipped or fails the Restore, as its existingPolicy says.
 */
import {
  BACKUP_NAME_LABEL,
  ownedVolumeName,
  type DiskBackup,
  type KubeObject,
  type Restore,
  type VirtualMachine,
  type VmVolume,
  type Volume,
} from '@shoal/api';

export const RESTORED_BY_ANNOTATION = 'shoal.dev/restored-by';

export interface PlannedItem {
  kind: 'Volume' | 'VirtualMachine';
  /** Its name in the Backup. */
  from: string;
  object: KubeObject;
}

export interface VmPlan {
  vm: PlannedItem;
  volumes: PlannedItem[];
  /** The Volumes the VM owns (its templates and rootDisk were): owned by the new VM once it exists. */
  owned: string[];
}

/** The VMs to restore, in name order. */
export function planRestore(restore: Restore, diskBackups: DiskBackup[]): VmPlan[] {
  const wanted = restore.spec.vmNames?.length ? new Set(restore.spec.vmNames) : undefined;
  const renames = new Map((restore.spec.renames ?? []).map((r) => [r.from, r.to]));
  const plans: VmPlan[] = [];
  for (const d of [...diskBackups].sort((a, b) => a.spec.vmName.localeCompare(b.spec.vmName))) {
    const original = d.spec.manifests?.virtualMachine as VirtualMachine | undefined;
    if (!original || (wanted && !wanted.has(d.spec.vmName)) || d.status?.phase !== 'Completed') continue;
    plans.push(planVm(restore, d, original, renames.get(d.spec.vmName) ?? d.spec.vmName));
  }
  return plans;
}

function planVm(restore: Restore, d: DiskBackup, original: VirtualMachine, name: string): VmPlan {
  const ns = restore.metadata.namespace!;
  const marks = { [RESTORED_BY_ANNOTATION]: restore.metadata.uid! };
  const volumeManifests = (d.spec.manifests?.volumes ?? []) as Volume[];
  const newNames = new Map<string, string>();
  const owned: string[] = [];
  const volumes: PlannedItem[] = [];
  for (const v of d.spec.volumes ?? []) {
    const manifest = volumeManifests.find((m) => m.metadata.name === v.name);
    const ownedByVm = !!manifest?.metadata.ownerReferences?.some((o) => o.kind === 'VirtualMachine' && o.uid === original.metadata.uid);
    const newName = ownedByVm ? ownedVolumeName(name, v.disk) : v.name;
    newNames.set(v.name, newName);
    if (ownedByVm) owned.push(newName);
    volumes.push({
      kind: 'Volume',
      from: v.name,
      object: {
        apiVersion: d.apiVersion,
        kind: 'Volume',
        metadata: { name: newName, namespace: ns, labels: withoutBackupLabels(manifest?.metadata.labels), annotations: marks },
        spec: {
          ...(manifest?.spec.pool ? { pool: manifest.spec.pool } : {}),
          ...(manifest?.spec.sizeGiB ? { sizeGiB: manifest.spec.sizeGiB } : {}),
          source: { backup: { backupName: d.spec.backupName, volumeName: v.name } },
        },
      } as Volume,
    });
  }
  // The disks, in the order they were attached (/dev/vda first), each naming its restored Volume.
  const disks: VmVolume[] = (d.spec.volumes ?? []).map((v) => ({ name: v.disk, volumeName: newNames.get(v.name)! }));
  const { rootDisk: _root, volumes: _volumes, nodeName: _node, ...spec } = original.spec;
  const vm: VirtualMachine = {
    apiVersion: original.apiVersion,
    kind: 'VirtualMachine',
    metadata: {
      name,
      namespace: ns,
      labels: withoutBackupLabels(original.metadata.labels),
      annotations: { ...publicAnnotations(original.metadata.annotations), ...marks },
    },
    spec: { ...spec, ...(disks.length ? { volumes: disks } : {}) },
  };
  return { vm: { kind: 'VirtualMachine', from: d.spec.vmName, object: vm }, volumes, owned };
}

function withoutBackupLabels(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!labels) return undefined;
  const { [BACKUP_NAME_LABEL]: _b, ...rest } = labels;
  return rest;
}

/** Annotations the user wrote: Shoal's own (shoal.dev/…) described the old object's life, not the new one's. */
function publicAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => !k.startsWith('shoal.dev/')));
}
