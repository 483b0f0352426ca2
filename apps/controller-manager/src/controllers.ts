/**
 * Every controller this process can run, by the name `--controllers` takes. A controller is a
 * function from the shared environment to a wired Controller; adding one is adding a line here.
 */
import type { Controller } from '@shoal/controller-runtime';
import type { ControllerEnv } from './controller-env.js';
import { healthController, HEALTH_NAME } from './health/controller.js';
import { migrationController, MIGRATION_NAME } from './migration/controller.js';
import { namespaceController, NAMESPACE_NAME } from './namespace/controller.js';
import { preemptorController, PREEMPTOR_NAME } from './preemptor/controller.js';
import { resourceQuotaController, RESOURCEQUOTA_NAME } from './resourcequota/controller.js';
import { schedulerController, SCHEDULER_NAME } from './scheduler/controller.js';
import { volumeController, VOLUME_NAME } from './volume/controller.js';
import { evacuationController, EVACUATION_NAME } from './evacuation/controller.js';
import { networkController, NETWORK_NAME } from './network/controller.js';
import { imageController, IMAGE_NAME } from './image/controller.js';
import { backupScheduleController, BACKUP_SCHEDULE_NAME } from './backupschedule/controller.js';
import { backupController, BACKUP_NAME } from './backup/controller.js';
import { restoreController, RESTORE_NAME } from './restore/controller.js';
import { gitRepositoryController, GITREPOSITORY_NAME } from './gitops/gitrepository/controller.js';
import { gitSyncController, GITSYNC_NAME } from './gitops/gitsync/controller.js';

export { DEFAULT_SETTINGS, type ControllerEnv, type ControllerSettings } from './controller-env.js';

export interface ControllerDefinition {
  name: string;
  description: string;
  build(env: ControllerEnv): Controller;
}

export const CONTROLLERS: readonly ControllerDefinition[] = [
  {
    name: SCHEDULER_NAME,
    description: 'binds each unbound VirtualMachine to the best Ready node with room (filters, then normalised scores)',
    build: schedulerController,
  },
  { name: HEALTH_NAME, description: 'marks nodes NotReady when their lease lapses and moves the VMs of fenced nodes elsewhere', build: healthController },
  { name: PREEMPTOR_NAME, description: 'evicts lower-priority VirtualMachines to make room for one no node can take', build: preemptorController },
  { name: NAMESPACE_NAME, description: 'deletes the contents of a Namespace being deleted, then lets the Namespace go', build: namespaceController },
  {
    name: RESOURCEQUOTA_NAME,
    description: "keeps each ResourceQuota's status.used equal to what its namespace's VirtualMachines use",
    build: resourceQuotaController,
  },
  {
    name: VOLUME_NAME,
    description:
      'makes the Volumes VirtualMachines own (volumeTemplates, rootDisk), deletes them once their VM is gone, and lets a deleted Volume go only once no VM attaches it',
    build: volumeController,
  },
  {
    name: MIGRATION_NAME,
    description:
      "drives each Migration through its phases: chooses the target with the scheduler's filters and scores, waits on the node agents that move the guest, and moves the VirtualMachine to the target at the switchover",
    build: migrationController,
  },
  {
    name: EVACUATION_NAME,
    description: 'starts a Migration for each Running VirtualMachine with evictionStrategy LiveMigrate that is asked to leave its node (drain, preemption)',
    build: evacuationController,
  },
  {
    name: NETWORK_NAME,
    description:
      "gives each VirtualMachine NIC an address of its Network (one IPAddress per address, so never the same twice), records it in the VM's status.interfaces, and gives it back when the VM goes",
    build: networkController,
  },
  {
    name: IMAGE_NAME,
    description:
      "keeps each Image's status (its digest, size and the nodes that hold it verified) and lets a deleted Image go only once no VirtualMachine or Volume uses it",
    build: imageController,
  },
  {
    name: BACKUP_SCHEDULE_NAME,
    description:
      "makes a Backup for each run of a BackupSchedule's cron (a missed run made up once, a late one skipped) and deletes its finished Backups past its retention",
    build: backupScheduleController,
  },
  {
    name: BACKUP_NAME,
    description:
      "drives each Backup: a DiskBackup per VM for the node agent that copies its disks, the Backup's phase and sizes from theirs, its expiry, and the removal of its data when it is deleted",
    build: backupController,
  },
  {
    name: RESTORE_NAME,
    description: 'makes the Volumes of a Restore (filled from the Backup by the node agents), then its VirtualMachines, and reports each item',
    build: restoreController,
  },
  {
    name: GITREPOSITORY_NAME,
    description:
      "fetches each GitRepository's branch, tag, semver range or commit into the git cache on its interval, at once when a local repository changes or its webhook is called, and writes the commit to its status",
    build: gitRepositoryController,
  },
  {
    name: GITSYNC_NAME,
    description:
      "keeps each GitSync's path of its GitRepository's revision applied (server-side apply, checked whole by a dry run first, in dependency order), corrects drift, prunes what left the repository and reports Ready, Reconciling and Stalled",
    build: gitSyncController,
  },
];

export const CONTROLLER_NAMES = CONTROLLERS.map((c) => c.name);

/** Parses `--controllers a,b`; `*` or an empty value means all of them. Throws on an unknown name. */
export function selectControllers(flag: string | undefined): ControllerDefinition[] {
  const wanted = (flag ?? '*')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0 || wanted.includes('*')) return [...CONTROLLERS];
  const unknown = wanted.filter((n) => !CONTROLLER_NAMES.includes(n));
  if (unknown.length)
    throw new Error(`--controllers: unknown controller ${unknown.map((n) => `"${n}"`).join(', ')}; available: ${CONTROLLER_NAMES.join(', ')}`);
  return CONTROLLERS.filter((c) => wanted.includes(c.name));
}
