/**
 * The source node's part of a live migration: once the target is ready (TargetReady), the
 * transfer — local disks mirrored to the target's NBD exports, then memory and device state —
 * runs in the background, its progress in status.totalBytes/transferredBytes/remainingBytes;
 * it ends with status.source.completedAt (QEMU completed: the guest here stays paused for good,
 * unless the Migration fails before the VM moves) or status.source.failure (QEMU resumed the
 * guest here on its own: it never stopped running).
 *
 * After a Migration that ends without the move, a guest that QEMU completed is resumed here, and
 * only while the VM is still bound here (abandon()). After the move, the paused copy here is
 * killed: the guest runs at the target.
 */
import { objectKey, poolNameFor, vmDisks, type Migration, type MigrationNbdEndpoint, type VirtualMachine } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { endOrphanedMigration, migrate, QmpSession, type MigrationProgress, type MirrorTarget } from '../runtime/qemu/migration/index.js';
import { poolOf, volumeOf } from '../volumes/volume-access.js';
import type { LocalMigration, MigrationContext } from './context.js';
import { failSide, reportBytes, reportSource, startSource } from './report.js';
import { removeCopiesHeldElsewhere, vmOfMigration } from './stale-copies.js';
import { runTransfer } from './transfer.js';

/** Progress is written at most this often. */
const PROGRESS_EVERY_MS = 500;
/** How soon a cancelled transfer that QEMU carried on alone is looked at again: a cancel completes within milliseconds. */
const ORPHAN_POLL_MS = 50;

export async function startTransfer(ctx: MigrationContext, m: Migration, vm: VirtualMachine): Promise<Result> {
  const st = m.status!;
  const key = objectKey(m.metadata);
  const fail = failSide(ctx, m, 'source');
  if (!ctx.driver.qmpSocket) return fail('MigrationUnsupported', `node ${ctx.nodeName}'s runtime cannot migrate a guest`);
  if (!ctx.tls) return fail('MigrationCredentialsMissing', `node ${ctx.nodeName}'s agent has no migration certificate (--migration-cert-file)`);
  const instance = ctx.driver.state(st.vmUID!);
  if (!instance || instance.phase !== 'running' || instance.incoming)
    return fail('SourceFailed', `the guest of virtualmachine ${vm.metadata.name} is not running on node ${ctx.nodeName}`);
  const target = st.target!;
  const mirrors = mirrorTargets(ctx, vm, target.nbd);
  if (typeof mirrors === 'string') return fail('SourceFailed', mirrors);

  const session = await QmpSession.connect(ctx.driver.qmpSocket(st.vmUID!)!, { timeoutMs: 2_000 });
  await startSource(ctx, m, new Date().toISOString());
  const local: LocalMigration = { role: 'source', mode: 'Live', vmUid: st.vmUID!, session };
  let lastProgress = 0;
  const onProgress = (p: MigrationProgress) => {
    const now = Date.now();
    if (now - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = now;
    void reportBytes(ctx, m, bytesOf(p)).catch(() => undefined);
  };
  const policy = m.spec.policy ?? {};
  runTransfer(ctx, m, local, async (signal) => {
    const result = await migrate(session, {
      uri: target.migrationUri!,
      disks: mirrors,
      tls: { dir: ctx.tls!.clientDir },
      policy: { bandwidthMiBps: policy.bandwidthMiBps, maxDowntimeMs: policy.maxDowntimeMs, autoConverge: policy.autoConverge ?? true },
      onProgress,
      signal,
    });
    ctx.log.info({ migration: key, downtimeMs: result.downtimeMs, totalTimeMs: result.totalTimeMs }, 'migration transfer completed');
    const total = result.final.ram?.total;
    await reportSource(
      ctx,
      m,
      { completedAt: new Date(result.completedAt).toISOString(), qemuDowntimeMs: result.downtimeMs },
      { transferredBytes: result.transferredBytes, remainingBytes: 0, ...(total ? { totalBytes: total } : {}) },
    );
  });
  return {};
}

const bytesOf = (p: MigrationProgress) => ({
  totalBytes: p.totalBytes + p.diskTotalBytes,
  transferredBytes: p.transferredBytes + p.diskCopiedBytes,
  remainingBytes: p.remainingBytes + Math.max(0, p.diskTotalBytes - p.diskCopiedBytes),
});

/** The VM's local disks, each with the target's NBD export it is mirrored to; a string says why not. */
function mirrorTargets(ctx: MigrationContext, vm: VirtualMachine, nbd: MigrationNbdEndpoint | undefined): MirrorTarget[] | string {
  const out: MirrorTarget[] = [];
  for (const [i, disk] of vmDisks(vm).entries()) {
    if (!isLocal(ctx, vm.metadata.namespace!, disk.volumeName)) continue;
    const device = `disk${i}`;
    const exp = nbd?.exports?.find((e) => e.device === device);
    if (!nbd || !exp) return `the target offers no copy of volume ${disk.volumeName} (${device})`;
    out.push({ device, host: nbd.host, port: nbd.port, exportName: exp.exportName });
  }
  return out;
}

function isLocal(ctx: MigrationContext, namespace: string, volumeName: string): boolean {
  const access = ctx.volumes;
  const volume = access && volumeOf(access, namespace, volumeName);
  return !!volume && poolOf(access, poolNameFor(volume.spec, access.pools.list()))?.spec.type !== 'shared';
}

/**
 * The Migration ended (or is gone) without this node's guest moving: a transfer still running is
 * cancelled (QEMU resumes the guest), and a guest QEMU had completed is resumed — only while the
 * VM is still bound here, as the apiserver has it now. Answers whether there is more to do.
 */
export async function abandon(ctx: MigrationContext, key: string, m: Migration | undefined, local: LocalMigration): Promise<Result | undefined> {
  if (local.transfer) {
    local.transfer.abort.abort();
    await local.transfer.done;
  }
  const vm = await vmOfMigration(ctx, key, m);
  const instance = ctx.driver.state(local.vmUid);
  if (vm && vm.metadata.uid === local.vmUid && vm.spec.nodeName === ctx.nodeName) {
    if (instance && instance.phase !== 'exited') {
      const session = local.session ?? (await QmpSession.connect(ctx.driver.qmpSocket!(local.vmUid)!, { timeoutMs: 2_000 }));
      local.session = undefined;
      try {
        // A transfer this process does not follow (an agent that restarted during it started
        // it) may still run in QEMU: cancelled first; QEMU resumes the guest as that completes.
        if (local.mode === 'Live' && !(await endOrphanedMigration(session))) return { requeueAfterMs: ORPHAN_POLL_MS };
        const { status } = await session.execute<{ status: string }>('query-status');
        if (status === 'postmigrate' || status === 'paused') {
          await session.execute('cont');
          if (m) await reportSource(ctx, m, { resumedAt: new Date().toISOString() });
          ctx.log.info({ migration: key, vm: vm.metadata.name }, 'migration did not finish: guest resumed at the source');
        }
      } finally {
        session.close();
      }
    }
  } else {
    // Moved: the copy here is a paused shell of what runs at the target (live), or a guest shut
    // down for good (cold); the disks' files here are copies of what the target holds now.
    if (instance && instance.phase !== 'exited') await ctx.driver.kill(local.vmUid);
    if (vm && vm.metadata.uid === local.vmUid) await removeCopiesHeldElsewhere(ctx, vm);
  }
  local.session?.close();
  ctx.local.delete(key);
  return undefined;
}
