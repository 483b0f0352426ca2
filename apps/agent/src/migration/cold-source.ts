/**
 * The source node's part of a cold migration: the guest is shut down (asked, then killed past
 * the stop grace, as any stop), and each of its local disks is copied into the blank copy the
 * target serves over NBD (TLS, the target admitting only this node's certificate) with
 * `qemu-img convert`; shared disks need no copy. It ends with status.source.completedAt — the
 * guest stays down here, and boots at the target once the VM moves there — or with
 * status.source.failure, and then the VM's own reconcile restarts the guest here.
 *
 * Runs in the background like the live transfer (source.ts): no reconcile waits for a guest to
 * shut down or a disk to copy. While it runs the VM's reconcile leaves the guest alone
 * (heldForMigration), so its runStrategy does not boot it again meanwhile.
 */
import { objectKey, poolNameFor, vmDisks, type Migration, type VirtualMachine } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { execa } from 'execa';
import { STOP_ASK_AGAIN_MS } from '../runtime/driver.js';
import { MigrationError } from '../runtime/qemu/migration/index.js';
import { poolOf, volumeOf } from '../volumes/volume-access.js';
import type { MigrationContext } from './context.js';
import { failSide, reportSource, startSource } from './report.js';
import { runTransfer } from './transfer.js';

const TLS_OBJECT_ID = 'shoal-cold-tls';

interface DiskCopy {
  volume: string;
  path: string;
  format: string;
  exportName: string;
}

export async function startColdTransfer(ctx: MigrationContext, m: Migration, vm: VirtualMachine): Promise<Result> {
  const st = m.status!;
  const key = objectKey(m.metadata);
  const fail = failSide(ctx, m, 'source');
  if (!ctx.tls) return fail('MigrationCredentialsMissing', `node ${ctx.nodeName}'s agent has no migration certificate (--migration-cert-file)`);
  const copies = diskCopies(ctx, vm, m);
  if (typeof copies === 'string') return fail('SourceFailed', copies);
  const tls = ctx.tls;
  const uid = st.vmUID!;
  await startSource(ctx, m, new Date().toISOString());
  // Held (heldForMigration) from before the guest is asked to stop, so its exit is never taken for one to restart.
  runTransfer(
    ctx,
    m,
    { role: 'source', mode: 'Cold', vmUid: uid },
    async (signal) => {
      const stopAskedAt = Date.now();
      await shutDown(ctx, uid, signal);
      ctx.log.info({ migration: key, disks: copies.length }, 'cold migration: guest down, copying its local disks');
      for (const c of copies) await copyDisk(c, st.target!.nbd!, tls.clientDir, signal);
      await reportSource(ctx, m, { completedAt: new Date().toISOString(), qemuDowntimeMs: Date.now() - stopAskedAt });
    },
    // Held no more once the Migration ends: the VM's reconcile decides about the guest again.
    () => ctx.requeueVm(objectKey(vm.metadata)),
  );
  return {};
}

/** The guest stopped as any stop is (requestStop: asked, killed past the grace), waited for here, in the background. */
async function shutDown(ctx: MigrationContext, uid: string, signal: AbortSignal): Promise<void> {
  for (;;) {
    const instance = ctx.driver.state(uid);
    if (!instance || instance.phase === 'exited') return;
    if (signal.aborted) throw new MigrationError('Cancelled', 'the migration ended while the guest was shutting down');
    await ctx.driver.requestStop(uid, ctx.stopGraceMs);
    await new Promise((r) => setTimeout(r, Math.min(STOP_ASK_AGAIN_MS, 250)));
  }
}

/** Copies one disk's guest-visible content into the target's NBD export (its blank copy). */
async function copyDisk(c: DiskCopy, nbd: { host: string; port: number }, tlsDir: string, signal: AbortSignal): Promise<void> {
  const target = `driver=nbd,server.type=inet,server.host=${nbd.host},server.port=${nbd.port},export=${c.exportName},tls-creds=${TLS_OBJECT_ID}`;
  try {
    await execa(
      'qemu-img',
      [
        'convert',
        '-n',
        '--object',
        `tls-creds-x509,id=${TLS_OBJECT_ID},endpoint=client,dir=${tlsDir},verify-peer=on`,
        '-f',
        c.format,
        c.path,
        '--target-image-opts',
        target,
      ],
      { cancelSignal: signal },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string; isCanceled?: boolean };
    if (e.isCanceled) throw new MigrationError('Cancelled', `copying volume ${c.volume} was cancelled`);
    throw new MigrationError('TargetFailed', `copying volume ${c.volume} to the target: ${(e.stderr || e.message).trim().split('\n').pop()}`);
  }
}

/** The VM's local disks, each with the target's export it goes to; a string says why not. */
function diskCopies(ctx: MigrationContext, vm: VirtualMachine, m: Migration): DiskCopy[] | string {
  const access = ctx.volumes;
  const out: DiskCopy[] = [];
  const nbd = m.status?.target?.nbd;
  for (const [i, disk] of vmDisks(vm).entries()) {
    const volume = access && volumeOf(access, vm.metadata.namespace!, disk.volumeName);
    const pool = volume && poolOf(access, poolNameFor(volume.spec, access.pools.list()));
    if (!volume?.status?.path || !pool) return `volume ${disk.volumeName} is not made, or its pool is gone`;
    if (pool.spec.type === 'shared') continue;
    const exp = nbd?.exports?.find((e) => e.device === `disk${i}`);
    if (!nbd || !exp) return `the target offers no copy of volume ${disk.volumeName} (disk${i})`;
    out.push({ volume: disk.volumeName, path: volume.status.path, format: volume.status.format ?? 'qcow2', exportName: exp.exportName });
  }
  return out;
}
