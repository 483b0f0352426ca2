/** The kinds with rules of their own in the generic verbs (strategy.ts), by kind name. */
import type { KindInfo } from '@shoal/api';
import type { KindStrategy } from './strategy.js';
import { backupStrategy, diskBackupStrategy, restoreStrategy } from './strategies/backup.js';
import { backupScheduleStrategy } from './strategies/backupschedule.js';
import { imageStrategy } from './strategies/image.js';
import { migrationStrategy } from './strategies/migration.js';
import { namespaceStrategy } from './strategies/namespace.js';
import { ipAddressStrategy, networkStrategy } from './strategies/network.js';
import { priorityClassStrategy } from './strategies/priorityclass.js';
import { clusterRoleBindingStrategy, roleBindingStrategy } from './strategies/rbac-binding.js';
import { secretStrategy } from './strategies/secret.js';
import { virtualMachineStrategy } from './strategies/virtualmachine.js';
import { volumeStrategy } from './strategies/volume.js';

const STRATEGIES: Readonly<Record<string, KindStrategy>> = {
  Backup: backupStrategy,
  BackupSchedule: backupScheduleStrategy,
  ClusterRoleBinding: clusterRoleBindingStrategy,
  DiskBackup: diskBackupStrategy,
  Image: imageStrategy,
  IPAddress: ipAddressStrategy,
  Migration: migrationStrategy,
  Namespace: namespaceStrategy,
  Network: networkStrategy,
  PriorityClass: priorityClassStrategy,
  Restore: restoreStrategy,
  RoleBinding: roleBindingStrategy,
  Secret: secretStrategy,
  VirtualMachine: virtualMachineStrategy,
  Volume: volumeStrategy,
};

/** Every other kind: the generic verbs as they are. */
const GENERIC: KindStrategy = {};

export function strategyFor(kind: KindInfo): KindStrategy {
  return STRATEGIES[kind.kind] ?? GENERIC;
}
