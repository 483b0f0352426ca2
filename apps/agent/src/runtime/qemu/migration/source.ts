/**
 * The source side of a live migration: copies the disks that live only on this host to the
 * target's NBD exports (blockdev-mirror), then the guest's RAM and device state (migrate), and
 * hands over in a way that keeps one copy of the guest:
 *
 *   1. mirror each local disk, every guest write sent to the target as it happens, until READY;
 *   2. migrate with pause-before-switchover: QEMU pauses the guest for the last RAM pages and
 *      waits in `pre-switchover`; there the mirror jobs are ended (block-job-cancel on a READY
 *      job completes it without pivot, once every write reached the target) and their NBD nodes
 *      removed, then `migrate-continue` sends the rest;
 *   3. `completed`: the source is paused (postmigrate) for good; the target, started with -S,
 *      may now be resumed (target.ts, resumeTarget).
 *
 * With shared disks only (the same file reachable from both hosts) steps 1 and the pause are
 * skipped: QEMU flushes and releases the image before the target takes it.
 *
 * On failure or on the caller's abort the migration is cancelled, the mirrors are force-cancelled,
 * their NBD nodes and the TLS object removed, and the source guest left running (it resumes by
 * itself after a cancelled or failed migration; `cont` if it somehow did not).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MigrationError, reasonFromQemuError } from './errors.js';
import { MirrorJobs } from './block-jobs.js';
import { progressFrom, type MigrationPhase, type MigrationProgress, type QueryMigrateInfo } from './progress.js';
import { QmpCommandError, QmpConnectionError, type QmpSession } from './qmp-session.js';
import { addTlsCredentials, removeObject } from './tls-credentials.js';

export const SOURCE_TLS_ID = 'shoal-migration-tls-client';
const NBD_NODE_PREFIX = 'shoal-migration-nbd-';
const MIRROR_JOB_PREFIX = 'shoal-migration-mirror-';
/** QEMU's own default max-bandwidth (MAX_THROTTLE): set explicitly so that a slow attempt's limit does not stick to the next. */
const QEMU_DEFAULT_BANDWIDTH_MIBPS = 128;
/** QEMU's own default downtime-limit. */
const QEMU_DEFAULT_DOWNTIME_MS = 300;
/** How long cleanup steps may take before they are given up on (a wedged target must not hold the source). */
const CLEANUP_TIMEOUT_MS = 15_000;

export interface MirrorTarget {
  /** The source QEMU's -drive id (`disk0`). */
  device: string;
  /** The target's NBD server and export, as prepareIncoming answered them. */
  host: string;
  port: number;
  exportName: string;
}

export interface MigrationPolicy {
  /** Cap on the RAM stream (QEMU's default, 128 MiB/s, when omitted). */
  bandwidthMiBps?: number;
  /** Longest pause QEMU aims at for the last pass (QEMU's default, 300 ms, when omitted). */
  maxDowntimeMs?: number;
  /** Throttle the guest's vCPUs when it dirties memory faster than it can be sent. */
  autoConverge?: boolean;
}

export interface MigrateOptions {
  /** The target's migration URI (prepareIncoming's migrationUri). */
  uri: string;
  /** The local disks to copy; shared disks are not listed. */
  disks?: MirrorTarget[];
  /**
   * A directory in QEMU's layout (ca-cert.pem, client-cert.pem, client-key.pem); `hostname` is
   * what the target's certificate must name when it is not the address in `uri`.
   */
  tls?: { dir: string; hostname?: string };
  policy?: MigrationPolicy;
  /** Called about every `pollIntervalMs` (100 ms) while the migration runs. */
  onProgress?: (p: MigrationProgress) => void;
  /** Aborting cancels the migration and leaves the source running. A cancel that comes after QEMU completed is too late: migrate resolves. */
  signal?: AbortSignal;
  pollIntervalMs?: number;
}

export interface MigrationResult {
  /** QEMU's figures: the guest's pause (pre-switchover mirror completion included) and the whole migration (after the mirrors). */
  downtimeMs: number;
  totalTimeMs: number;
  setupTimeMs?: number;
  transferredBytes: number;
  /** From the start of the disk mirrors to all READY (0 with shared disks). */
  mirrorMs: number;
  /** Time the source sat in pre-switchover while the mirrors were ended (part of downtimeMs). */
  mirrorCompletionMs?: number;
  /** Wall clock time (Date.now()) when this side saw QEMU report completed. */
  completedAt: number;
  /** QEMU's last query-migrate answer. */
  final: QueryMigrateInfo;
}

export async function migrate(session: QmpSession, opts: MigrateOptions): Promise<MigrationResult> {
  const disks = opts.disks ?? [];
  const pollMs = opts.pollIntervalMs ?? 100;
  const policy = opts.policy ?? {};
  const signal = opts.signal;
  const before = await session.execute<{ status: string }>('query-status').catch((err: unknown) => {
    throw new MigrationError('SourceFailed', `the source QEMU does not answer: ${(err as Error).message}`, { cause: err });
  });
  if (before.status === 'inmigrate' || before.status === 'postmigrate' || before.status === 'finish-migrate')
    throw new MigrationError('SourceFailed', `the source QEMU is ${before.status}: it has no guest to migrate`);
  const wasRunning = before.status === 'running';

  // Every wait below is a nap that events and the abort cut short.
  let wake: () => void = () => undefined;
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = () => undefined;
        resolve();
      }
      wake = done;
    });
  const onAbort = () => wake();
  signal?.addEventListener('abort', onAbort);
  const offMigrationEvents = session.onEvent((e) => {
    if (e.event === 'MIGRATION') wake();
  });
  const mirrors = new MirrorJobs(session, () => wake());
  const nbdNodes: string[] = [];
  let phase: MigrationPhase = disks.length > 0 ? 'mirroring' : 'migrating';
  let migrateSent = false;
  const report = (info: QueryMigrateInfo, jobs: Awaited<ReturnType<MirrorJobs['list']>>) => opts.onProgress?.(progressFrom(phase, info, jobs));

  try {
    const started = Date.now();
    throwIfAborted(signal);
    await removeObject(session, SOURCE_TLS_ID);
    if (opts.tls) await addTlsCredentials(session, { id: SOURCE_TLS_ID, endpoint: 'client', dir: opts.tls.dir });

    // 1. Disks.
    for (const d of disks) {
      const node = NBD_NODE_PREFIX + d.device;
      await session.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      try {
        await session.execute(
          'blockdev-add',
          {
            driver: 'nbd',
            'node-name': node,
            server: { type: 'inet', host: d.host, port: String(d.port) },
            export: d.exportName,
            ...(opts.tls ? { 'tls-creds': SOURCE_TLS_ID } : {}),
          },
          { timeoutMs: 30_000 },
        );
      } catch (err) {
        const desc = err instanceof QmpCommandError ? err.desc : (err as Error).message;
        throw new MigrationError(reasonFromQemuError(desc), `connecting to the target's NBD export ${d.exportName} at ${d.host}:${d.port}: ${desc}`, {
          cause: err,
        });
      }
      nbdNodes.push(node);
      await mirrors.start(MIRROR_JOB_PREFIX + d.device, d.device, node);
    }
    for (;;) {
      if (disks.length === 0) break;
      throwIfAborted(signal);
      const failed = mirrors.failure();
      if (failed)
        throw new MigrationError(
          'TargetFailed',
          `copying disk ${failed.id.slice(MIRROR_JOB_PREFIX.length)}: ${failed.end.error ?? 'the mirror job was cancelled'}`,
        );
      const jobs = await mirrors.list();
      report({}, jobs);
      if (jobs.length === mirrors.ids.length && jobs.every((j) => j.ready)) break;
      await nap(pollMs);
    }
    const mirrorMs = Date.now() - started;

    // 2. RAM and devices.
    phase = 'migrating';
    await session.execute('migrate-set-capabilities', {
      capabilities: [
        { capability: 'events', state: true },
        { capability: 'auto-converge', state: policy.autoConverge === true },
        { capability: 'pause-before-switchover', state: disks.length > 0 },
      ],
    });
    await session.execute('migrate-set-parameters', {
      'max-bandwidth': Math.round((policy.bandwidthMiBps ?? QEMU_DEFAULT_BANDWIDTH_MIBPS) * 1024 * 1024),
      'downtime-limit': Math.round(policy.maxDowntimeMs ?? QEMU_DEFAULT_DOWNTIME_MS),
      'tls-creds': opts.tls ? SOURCE_TLS_ID : '',
      'tls-hostname': opts.tls?.hostname ?? '',
    });
    throwIfAborted(signal);
    await session.execute('migrate', { uri: opts.uri });
    migrateSent = true;

    let cancelSent = false;
    let completedSeenAt: number | undefined;
    let ramSent = 0;
    let mirrorCompletionMs: number | undefined;
    for (;;) {
      if (signal?.aborted && !cancelSent) {
        cancelSent = true;
        await session.execute('migrate_cancel');
      }
      const info = await session.execute<QueryMigrateInfo>('query-migrate');
      // A failed migration's answer has no RAM figures: what went through is remembered from before.
      ramSent = Math.max(ramSent, info.ram?.transferred ?? 0);
      const failedMirror = mirrors.failure();
      if (failedMirror && !cancelSent) {
        throw new MigrationError(
          'TargetFailed',
          `copying disk ${failedMirror.id.slice(MIRROR_JOB_PREFIX.length)}: ${failedMirror.end.error ?? 'the mirror job was cancelled'}`,
        );
      }
      switch (info.status) {
        case 'completed': {
          // QEMU sets the state before it computes total-time and downtime (7.2,
          // migration_iteration_finish): a query in between reads zeros, so ask again.
          // Asked again at once: the guest is paused until the switchover this answer starts.
          if (!info['total-time'] && Date.now() < (completedSeenAt ??= Date.now()) + 2_000) {
            await nap(1);
            continue;
          }
          phase = 'completed';
          report(info, []);
          return {
            downtimeMs: info.downtime ?? 0,
            totalTimeMs: info['total-time'] ?? 0,
            setupTimeMs: info['setup-time'],
            transferredBytes: info.ram?.transferred ?? 0,
            mirrorMs,
            ...(mirrorCompletionMs !== undefined ? { mirrorCompletionMs } : {}),
            completedAt: completedSeenAt ?? Date.now(),
            final: info,
          };
        }
        case 'failed':
          throw new MigrationError(
            reasonFromQemuError(info['error-desc'] ?? '', ramSent),
            `the migration to ${opts.uri} failed after ${ramSent} bytes: ${info['error-desc'] ?? 'QEMU gave no reason'}`,
          );
        case 'cancelled':
          throw new MigrationError(
            'Cancelled',
            cancelSent ? 'the migration was cancelled; the source runs on' : 'the migration was cancelled by someone else (migrate_cancel)',
          );
        case 'pre-switchover': {
          if (cancelSent) break;
          // The guest is paused here: its last disk writes go to the target before its last RAM does.
          phase = 'switchover';
          report(info, await mirrors.list());
          const t0 = Date.now();
          await completeMirrors(session, mirrors, nap, signal);
          for (const node of nbdNodes.splice(0)) await session.execute('blockdev-del', { 'node-name': node });
          await session.execute('migrate-continue', { state: 'pre-switchover' });
          mirrorCompletionMs = Date.now() - t0;
          phase = 'migrating';
          break;
        }
        default:
          report(info, disks.length > 0 ? await mirrors.list() : []);
      }
      await nap(pollMs);
    }
  } catch (err) {
    const failure = asMigrationError(err, signal);
    await rollBack(session, { migrateSent, mirrors, nbdNodes, wasRunning }).catch(() => undefined);
    throw failure;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    offMigrationEvents();
    mirrors.dispose();
  }
}

/** QEMU's migration states (QAPI MigrationStatus) in which a migration is still under way. */
const UNDER_WAY = ['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'cancelling'];

/**
 * One step in ending a migration no process follows any more (started by an agent that has
 * restarted since): cancelled while under way — QEMU resumes a guest that was running as the
 * cancel completes — then, once it has ended, its mirror jobs, NBD nodes and TLS object removed.
 * Answers whether it has ended; when not, the caller looks again a moment later (nothing here
 * waits).
 */
export async function endOrphanedMigration(session: QmpSession): Promise<boolean> {
  const info = await session.execute<QueryMigrateInfo>('query-migrate');
  if (UNDER_WAY.includes(info.status ?? '')) {
    if (info.status !== 'cancelling') await session.execute('migrate_cancel');
    return false;
  }
  const jobs = (await session.execute<{ device: string }[]>('query-block-jobs')).filter((j) => j.device.startsWith(MIRROR_JOB_PREFIX));
  for (const job of jobs) await session.execute('block-job-cancel', { device: job.device, force: true }).catch(() => undefined);
  if (jobs.length) return false;
  const nodes = await session.execute<{ 'node-name'?: string }[]>('query-named-block-nodes', { flat: true });
  for (const node of nodes)
    if (node['node-name']?.startsWith(NBD_NODE_PREFIX)) await session.execute('blockdev-del', { 'node-name': node['node-name'] }).catch(() => undefined);
  await removeObject(session, SOURCE_TLS_ID);
  return true;
}

/** Ends READY mirror jobs without pivot and waits until each reports it completed cleanly. */
async function completeMirrors(session: QmpSession, mirrors: MirrorJobs, nap: (ms: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  for (const id of mirrors.ids) await session.execute('block-job-cancel', { device: id });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pending = mirrors.ids.filter((id) => !mirrors.end(id));
    const failed = mirrors.failure();
    if (failed)
      throw new MigrationError('TargetFailed', `finishing the copy of disk ${failed.id.slice(MIRROR_JOB_PREFIX.length)}: ${failed.end.error ?? 'cancelled'}`);
    if (pending.length === 0) return;
    throwIfAborted(signal);
    if (Date.now() > deadline) throw new MigrationError('TargetFailed', `the mirror jobs ${pending.join(', ')} did not finish their last writes within 60 s`);
    await nap(50);
  }
}

interface RollBackState {
  migrateSent: boolean;
  mirrors: MirrorJobs;
  nbdNodes: string[];
  wasRunning: boolean;
}

/** Undoes what migrate() set up on the source, leaving its guest running if it was. */
async function rollBack(session: QmpSession, s: RollBackState): Promise<void> {
  if (session.closed) return;
  const deadline = Date.now() + CLEANUP_TIMEOUT_MS;
  if (s.migrateSent) {
    await session.execute('migrate_cancel').catch(() => undefined);
    // cancelling → cancelled (or failed); QEMU restarts the guest on its way there.
    for (;;) {
      const info = await session.execute<QueryMigrateInfo>('query-migrate').catch(() => undefined);
      if (!info || !UNDER_WAY.includes(info.status ?? '') || Date.now() > deadline) break;
      await delay(20);
    }
  }
  for (const job of await s.mirrors.list().catch(() => []))
    await session.execute('block-job-cancel', { device: job.device, force: true }).catch(() => undefined);
  for (;;) {
    const left = await s.mirrors.list().catch(() => []);
    if (left.length === 0 || Date.now() > deadline) break;
    await delay(20);
  }
  for (const node of s.nbdNodes.splice(0)) await session.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
  await removeObject(session, SOURCE_TLS_ID);
  const status = await session.execute<{ status: string }>('query-status').catch(() => undefined);
  // `paused` only: a source in postmigrate has handed its guest over and must never run again.
  if (s.wasRunning && status?.status === 'paused') await session.execute('cont').catch(() => undefined);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MigrationError('Cancelled', 'the migration was cancelled; the source runs on');
}

function asMigrationError(err: unknown, signal: AbortSignal | undefined): MigrationError {
  if (err instanceof MigrationError) return err;
  if (signal?.aborted) return new MigrationError('Cancelled', 'the migration was cancelled; the source runs on', { cause: err });
  if (err instanceof QmpConnectionError) return new MigrationError('SourceFailed', `lost the source QEMU: ${err.message}`, { cause: err });
  const desc = err instanceof QmpCommandError ? err.desc : (err as Error).message;
  return new MigrationError('SourceFailed', desc, { cause: err });
}
