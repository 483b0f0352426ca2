/**
 * Taking one DiskBackup: the disks of one VM, copied to the location in the background while
 * the reconcile returns. Its status says InProgress (with the files it writes, so nothing
 * deletes the parent of a copy under way), then Completed with each file's size and checksum,
 * or Failed with why — and a failed copy leaves no file behind.
 *
 *   the guest runs here   → QEMU copies the disks as they are at one instant (disk-backup.ts),
 *                           the guest running on; Incremental copies only what the previous
 *                           backup's bitmap marks
 *   it does not           → qemu-img copies the files as they lie, whole; a bitmap starts
 *                           counting from this copy, so the next backup of a running guest can
 *                           be incremental
 */
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { execa } from 'execa';
import {
  BACKUP_BITMAP_PREFIX,
  backupBitmapName,
  backupVolumeFile,
  timestamp,
  type BackupMode,
  type BackupVolume,
  type DiskBackup,
  type DiskBackupVolume,
} from '@shoal/api';
import { QmpSession } from '../runtime/qemu/migration/qmp-session.js';
import { guestDisks, removeBitmap, startDiskCopies, type GuestDisk } from '../runtime/qemu/disk-backup.js';
import type { BackupContext } from './context.js';
import { recordOfFile } from './chain.js';
import { absolute, createTarget, fileBytes, sha256File, toolError, virtualSize, writeJsonFile } from './files.js';
import { jobPrefix, keyOf, reportStatus } from './report.js';

/** A volume's copy as planned: its record (completed when the copy is), and where the copy comes from. */
interface PlannedCopy {
  volume: DiskBackupVolume;
  record: BackupVolume;
  /** The running guest's disk, for a live copy. */
  disk?: GuestDisk;
  /** The bitmap the incremental reads. */
  sinceBitmap?: string;
}

export async function takeBackup(ctx: BackupContext, d: DiskBackup): Promise<void> {
  const key = keyOf(d);
  ctx.taken.add(d.metadata.uid!);
  const qmp = d.spec.vmUID && ctx.driver.state(d.spec.vmUID)?.phase === 'running' ? ctx.driver.qmpSocket?.(d.spec.vmUID) : undefined;
  let session: QmpSession | undefined;
  try {
    if (qmp) session = await QmpSession.connect(qmp);
    const disks = session ? await guestDisks(session) : undefined;
    const copies: PlannedCopy[] = [];
    for (const volume of d.spec.volumes ?? []) copies.push(await plan(ctx, d, volume, disks));
    await reportStatus(ctx, d, { phase: 'InProgress', running: !!session, startedAt: timestamp(), volumes: copies.map((c) => c.record) });
    for (const c of copies) await createTarget(absolute(d.spec.locationPath, c.record.file!), c.record.sizeBytes!, parentPath(d, c));
    const run = session ? copyLive(ctx, d, session, copies) : copyOffline(d, copies);
    ctx.running.set(
      key,
      run
        .then(() => complete(ctx, d, copies))
        .catch((err: Error) => fail(ctx, d, copies, 'CopyFailed', err.message))
        .finally(() => {
          session?.close();
          ctx.running.delete(key);
          ctx.requeue(key);
        }),
    );
  } catch (err) {
    session?.close();
    await fail(ctx, d, [], 'CopyFailed', toolError(err));
  }
}

const parentPath = (d: DiskBackup, c: PlannedCopy) => (c.record.parent ? absolute(d.spec.locationPath, c.record.parent) : undefined);

async function plan(ctx: BackupContext, d: DiskBackup, volume: DiskBackupVolume, disks: Map<string, GuestDisk> | undefined): Promise<PlannedCopy> {
  if (!volume.path) throw new Error(`volume ${volume.name} has no file on record`);
  const record: BackupVolume = {
    vm: d.spec.vmName,
    disk: volume.disk,
    name: volume.name,
    uid: volume.uid,
    file: backupVolumeFile(d.spec.path, d.spec.vmName, volume.name),
    sizeBytes: await virtualSize(volume.path),
    bitmap: backupBitmapName(d.metadata.uid!),
  };
  const full = (modeReason?: string): PlannedCopy => ({
    volume,
    record: { ...record, mode: 'Full' as BackupMode, ...(modeReason ? { modeReason } : {}) },
    disk,
  });
  const disk = disks?.get(volume.path);
  if (disks && !disk) throw new Error(`volume ${volume.name} (${volume.path}) is not attached to the running guest`);
  if (d.spec.mode !== 'Incremental') return full();
  if (!disk) return full('the VM was not running: its disks were copied whole');
  for (const bitmap of disk.bitmaps) {
    if (!bitmap.usable) continue;
    const parent = parentRecord(ctx, d, volume, bitmap.name);
    if (parent) return { volume, record: { ...record, mode: 'Incremental', parent: parent.file }, disk, sinceBitmap: bitmap.name };
  }
  return full(
    disk.bitmaps.some((b) => !b.usable)
      ? 'the record of changes since the last backup was lost (the guest did not shut down cleanly): copied whole'
      : 'no earlier backup of this volume at this location to build on: copied whole',
  );
}

/** The completed record, at this location, of the backup whose bitmap this is. */
function parentRecord(ctx: BackupContext, d: DiskBackup, volume: DiskBackupVolume, bitmap: string): BackupVolume | undefined {
  const uid = bitmap.slice(BACKUP_BITMAP_PREFIX.length);
  const mine = ctx.diskBackups.list().filter((o) => o.metadata.namespace === d.metadata.namespace && o.metadata.uid === uid);
  for (const o of mine) {
    const record = o.status?.volumes?.find((v) => v.uid === volume.uid && v.bitmap === bitmap);
    if (record?.file && recordOfFile([o], d.spec.locationPath, record.file)) return record;
  }
  return undefined;
}

async function copyLive(ctx: BackupContext, d: DiskBackup, session: QmpSession, copies: PlannedCopy[]): Promise<void> {
  const job = await startDiskCopies(
    session,
    jobPrefix(d),
    Math.ceil(ctx.bandwidthBytesPerSecond / Math.max(1, copies.length)),
    copies.map((c) => ({
      device: c.disk!.device,
      target: absolute(d.spec.locationPath, c.record.file!),
      sinceBitmap: c.sinceBitmap,
      newBitmap: c.record.bitmap!,
    })),
  );
  const timer = setInterval(() => {
    job
      .progress()
      .then((p) => (p.total ? reportStatus(ctx, d, { progress: { doneBytes: p.done, totalBytes: p.total } }) : undefined))
      .catch(() => undefined);
  }, ctx.progressIntervalMs);
  try {
    await job.finished;
  } finally {
    clearInterval(timer);
  }
  // The new bitmap is the disk's change record now; older ones of Shoal's only take room.
  for (const c of copies)
    for (const b of c.disk!.bitmaps) if (b.name !== c.record.bitmap && b.name !== c.sinceBitmap) await removeBitmap(session, c.disk!.device, b.name);
}

async function copyOffline(d: DiskBackup, copies: PlannedCopy[]): Promise<void> {
  for (const c of copies) {
    const target = absolute(d.spec.locationPath, c.record.file!);
    // -U: a guest started meanwhile holds the lock; the copy is then crash-consistent.
    await execa('qemu-img', ['convert', '-q', '-U', '-c', '-O', 'qcow2', '-f', c.volume.format ?? 'qcow2', c.volume.path!, `${target}.partial`]);
    await rename(`${target}.partial`, target);
    if ((c.volume.format ?? 'qcow2') !== 'qcow2') continue;
    // The next backup of the running guest builds on this one. A guest started meanwhile holds
    // the file; then there is no bitmap and the next backup is whole, as its status will say.
    const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', c.volume.path!])).stdout) as {
      'format-specific'?: { data?: { bitmaps?: { name: string }[] } };
    };
    const old = (info['format-specific']?.data?.bitmaps ?? []).filter((b) => b.name.startsWith(BACKUP_BITMAP_PREFIX));
    for (const b of old) await execa('qemu-img', ['bitmap', '--remove', c.volume.path!, b.name]).catch(() => undefined);
    await execa('qemu-img', ['bitmap', '--add', c.volume.path!, c.record.bitmap!]).catch(() => undefined);
  }
}

async function complete(ctx: BackupContext, d: DiskBackup, copies: PlannedCopy[]): Promise<void> {
  const volumes: BackupVolume[] = [];
  for (const c of copies) {
    const path = absolute(d.spec.locationPath, c.record.file!);
    volumes.push({ ...c.record, bytes: await fileBytes(path), sha256: await sha256File(path) });
  }
  const manifest = backupVolumeFile(d.spec.path, d.spec.vmName, 'manifest').replace(/\.qcow2$/, '.json');
  await writeJsonFile(absolute(d.spec.locationPath, manifest), {
    backup: d.spec.backupName,
    diskBackup: d.metadata.name,
    uid: d.metadata.uid,
    virtualMachine: d.spec.manifests?.virtualMachine,
    volumes: d.spec.manifests?.volumes,
    files: volumes,
  });
  await reportStatus(ctx, d, { phase: 'Completed', completedAt: timestamp(), volumes, progress: null });
  ctx.log.info({ diskBackup: keyOf(d), bytes: volumes.reduce((n, v) => n + (v.bytes ?? 0), 0) }, 'disk backup completed');
}

/** Marks it Failed and removes what it wrote: a copy that failed is never taken for one. */
export async function fail(ctx: BackupContext, d: DiskBackup, copies: PlannedCopy[], reason: string, message: string): Promise<void> {
  ctx.log.warn({ diskBackup: keyOf(d), reason, message }, 'disk backup failed');
  await removeVmDirectory(d);
  ctx.recorder.event(d, 'Warning', reason, `the disks of virtualmachine ${d.spec.vmName} were not backed up: ${message}`);
  await reportStatus(ctx, d, { phase: 'Failed', completedAt: timestamp(), reason, message, volumes: copies.length ? copies.map((c) => c.record) : undefined });
}

/** The VM's directory of this backup: its files and manifest. */
export async function removeVmDirectory(d: DiskBackup): Promise<void> {
  const dir = dirname(absolute(d.spec.locationPath, backupVolumeFile(d.spec.path, d.spec.vmName, 'x')));
  await rm(dir, { recursive: true, force: true });
  // The backup's directory goes with its last VM.
  await execa('rmdir', [dirname(dir)]).catch(() => undefined);
}
