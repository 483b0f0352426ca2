/** What a migration's progress looks like to the caller, computed from QEMU's query-migrate and query-block-jobs. Pure. */

/** QEMU's query-migrate answer, the fields read here (QEMU 7.2, qapi/migration.json MigrationInfo). */
export interface QueryMigrateInfo {
  status?: string;
  ram?: { transferred: number; remaining: number; total: number; mbps: number; 'dirty-pages-rate'?: number; 'page-size'?: number; 'dirty-sync-count'?: number };
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'setup-time'?: number;
  'cpu-throttle-percentage'?: number;
  'error-desc'?: string;
}

/** QEMU's query-block-jobs entry, the fields read here. */
export interface BlockJobInfo {
  device: string;
  type: string;
  offset: number;
  len: number;
  ready: boolean;
  status: string;
}

export type MigrationPhase = 'mirroring' | 'migrating' | 'switchover' | 'completed';

export interface MigrationProgress {
  phase: MigrationPhase;
  /** QEMU's migration status (setup, active, pre-switchover, device, completed…), or the mirror's while disks copy. */
  status: string;
  /** RAM: bytes sent, left to send (dirty included), guest RAM size. */
  transferredBytes: number;
  remainingBytes: number;
  totalBytes: number;
  /** Disks being mirrored: bytes copied so far and bytes to copy (grows with the guest's writes). */
  diskCopiedBytes: number;
  diskTotalBytes: number;
  /** Throughput of the RAM stream as QEMU measures it. */
  mbps: number;
  /** Guest pages dirtied per second, once QEMU measured it (after the first pass). */
  dirtyPagesPerSecond?: number;
  /** How much auto-converge slows the guest's vCPUs down, in percent. */
  cpuThrottlePercentage?: number;
  expectedDowntimeMs?: number;
  /** Set once completed: the guest's pause as QEMU measured it, and the whole migration's time. */
  downtimeMs?: number;
  totalTimeMs?: number;
}

export function progressFrom(phase: MigrationPhase, info: QueryMigrateInfo, jobs: readonly BlockJobInfo[]): MigrationProgress {
  const ram = info.ram;
  const mirrors = jobs.filter((j) => j.type === 'mirror');
  return {
    phase,
    status: info.status ?? (mirrors.every((j) => j.ready) && mirrors.length > 0 ? 'mirror-ready' : 'mirroring'),
    transferredBytes: ram?.transferred ?? 0,
    remainingBytes: ram?.remaining ?? 0,
    totalBytes: ram?.total ?? 0,
    diskCopiedBytes: mirrors.reduce((s, j) => s + j.offset, 0),
    diskTotalBytes: mirrors.reduce((s, j) => s + j.len, 0),
    mbps: ram?.mbps ?? 0,
    ...(ram?.['dirty-pages-rate'] !== undefined ? { dirtyPagesPerSecond: ram['dirty-pages-rate'] } : {}),
    ...(info['cpu-throttle-percentage'] !== undefined ? { cpuThrottlePercentage: info['cpu-throttle-percentage'] } : {}),
    ...(info['expected-downtime'] !== undefined ? { expectedDowntimeMs: info['expected-downtime'] } : {}),
    ...(info.status === 'completed' ? { downtimeMs: info.downtime, totalTimeMs: info['total-time'] } : {}),
  };
}
