/**
 * reconcile(ctx, key) for the Migrations this node takes part in (as source or target). The
 * migration controller (controller-manager) owns the phase and moves the VM; this agent does
 * its side and reports it in its own part of the status (target.ts, source.ts):
 *
 *   target, PreparingTarget          → a QEMU waiting for the guest; status.target.readyAt
 *   target, the VM moved here         → the guest resumed; status.target.resumedAt
 *   source, TargetReady               → the transfer, in the background; status.source
 *   source, transfer lost to a restart → QEMU asked how it ended: completed, or cancelled
 *   over (Succeeded, Failed, Aborted)
 *   or gone                           → the source resumes a guest that did not move (while the
 *                                       VM is still bound here) or kills the copy that did; the
 *                                       target kills a QEMU still waiting and removes the blank
 *                                       copies it made for the disks
 *   fallen back from Live to Cold     → first, what this node holds of the Live attempt is undone
 *                                       as if it had ended; then the Cold attempt, afresh
 *
 * The Migration is read as its current attempt has it (currentAttempt): a late report about the
 * Live attempt is not taken for one about the Cold one.
 */
import { currentAttempt, objectKey, type Migration } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { endOrphanedMigration, QmpSession } from '../runtime/qemu/migration/index.js';
import { FENCE_GATE_RETRY_MS } from '../vm/context.js';
import type { LocalMigration, MigrationContext } from './context.js';
import { attemptMode, failure, isTerminal, reportSource } from './report.js';
import { abandon, startTransfer } from './source.js';
import { bootHere, prepareTarget, resumeHere } from './target.js';
import { startColdTransfer } from './cold-source.js';
import { removeCopiesIfElsewhere } from './stale-copies.js';

/** How soon a killed QEMU of an attempt that ended is looked at again, to be removed. */
const TARGET_EXIT_POLL_MS = 50;

export async function reconcile(ctx: MigrationContext, key: string): Promise<Result> {
  if (!ctx.fence.mayAct()) return { requeueAfterMs: FENCE_GATE_RETRY_MS };
  const read = ctx.migrations.get(key);
  const m = read && currentAttempt(read);
  const local = ctx.local.get(key);
  if (isTerminal(m)) return (await finish(ctx, key, m, local)) ?? {};
  if (local && local.mode !== attemptMode(m!)) return endAttempt(ctx, key, m!, local);

  const st = m!.status ?? {};
  if (!st.vmUID) return {};
  const vmKey = objectKey({ namespace: m!.metadata.namespace, name: m!.spec.vmName });
  if (st.targetNode === ctx.nodeName) {
    if (st.target?.failure) return {};
    if (!st.target?.readyAt) return st.phase === 'PreparingTarget' ? prepareTarget(ctx, m!) : {};
    if (st.target.resumedAt) return {};
    const vm = ctx.vms.get(vmKey);
    // Until the migration controller moves the VM here, the source holds the guest.
    if (vm?.metadata.uid !== st.vmUID) return {};
    if (st.mode === 'Cold') return bootHere(ctx, m!, vm);
    return resumeHere(ctx, m!, vm, local ?? { role: 'target', mode: 'Live', vmUid: st.vmUID });
  }
  if (st.sourceNode === ctx.nodeName) {
    if (st.source?.failure || st.source?.completedAt || local?.transfer || local?.transferEnded) return {};
    const vm = ctx.vms.get(vmKey);
    if (!st.source?.startedAt) {
      if (st.phase !== 'TargetReady') return {};
      if (vm?.metadata.uid !== st.vmUID) {
        await reportSource(
          ctx,
          m!,
          failure('VMChanged', `virtualmachine ${m!.spec.vmName} is not the one being migrated, or no longer on node ${ctx.nodeName}`),
        );
        return {};
      }
      return st.mode === 'Cold' ? startColdTransfer(ctx, m!, vm) : startTransfer(ctx, m!, vm);
    }
    // A cold transfer lost to a restart: the guest is down and the copy unfinished; try no further.
    if (st.mode === 'Cold') {
      await reportSource(ctx, m!, failure('SourceFailed', `the agent on node ${ctx.nodeName} restarted during the copy`));
      return {};
    }
    return recoverTransfer(ctx, m!);
  }
  return {};
}

/**
 * The Live attempt failed and the Migration goes on as Cold: what this node holds of the Live
 * one is undone as if the Migration had ended (the source's transfer cancelled, the target's
 * waiting QEMU killed), and the Cold attempt starts from nothing here.
 */
async function endAttempt(ctx: MigrationContext, key: string, m: Migration, local: LocalMigration): Promise<Result> {
  ctx.log.info(
    { migration: key, role: local.role, from: local.mode, to: attemptMode(m) },
    'migration fell back to another mode: undoing this node’s part in the attempt before',
  );
  if (local.role === 'source') {
    // Seen as it was during that attempt: whatever is still reported of it is stamped with its mode.
    await abandon(ctx, key, { ...m, status: { ...m.status, mode: local.mode } }, local);
    return { requeueAfterMs: 0 };
  }
  local.session?.close();
  local.session = undefined;
  const instance = ctx.driver.state(local.vmUid);
  if (instance?.incoming && instance.phase !== 'exited') {
    await ctx.driver.kill(local.vmUid);
    return { requeueAfterMs: TARGET_EXIT_POLL_MS };
  }
  // Gone for the next attempt to start its own; the blank copies of the disks stay (it fills them again).
  if (instance?.incoming) await ctx.driver.remove(local.vmUid);
  ctx.local.delete(key);
  return { requeueAfterMs: 0 };
}

/** Over, or gone: whatever this node still holds of it is undone (source.ts abandon) or killed (a target still waiting). */
async function finish(ctx: MigrationContext, key: string, m: Migration | undefined, local: LocalMigration | undefined): Promise<Result | undefined> {
  const st = m?.status;
  const role = local?.role ?? (st?.sourceNode === ctx.nodeName ? 'source' : st?.targetNode === ctx.nodeName ? 'target' : undefined);
  const uid = local?.vmUid ?? st?.vmUID;
  if (!role || !uid) return undefined;
  if (role === 'source') {
    // A restarted agent has no record: only what QEMU and the apiserver say now.
    if (st?.phase === 'Succeeded' && !local) {
      const instance = ctx.driver.state(uid);
      if (instance && instance.phase !== 'exited' && !ctx.vms.get(objectKey({ namespace: m!.metadata.namespace, name: m!.spec.vmName })))
        await ctx.driver.kill(uid);
      if (instance) await removeCopiesIfElsewhere(ctx, key, m, uid);
      return undefined;
    }
    return abandon(ctx, key, m, local ?? { role, mode: m ? attemptMode(m) : 'Live', vmUid: uid });
  }
  local?.session?.close();
  ctx.local.delete(key);
  const instance = ctx.driver.state(uid);
  if (!instance?.incoming) return undefined;
  if (instance.phase !== 'exited') {
    ctx.log.info({ migration: key, phase: st?.phase ?? 'deleted' }, 'migration over without the guest moving here: stopping the QEMU that waited for it');
    await ctx.driver.kill(uid);
  }
  // The blank copies it was to receive the disks in: no Volume is held here, nothing will use them.
  await removeCopiesIfElsewhere(ctx, key, m, uid);
  return undefined;
}

/**
 * A transfer this process did not start (the agent restarted during it): QEMU carried on alone.
 * Completed — reported; still running — cancelled (nothing here follows it any more); anything
 * else — failed. QEMU resumes the guest itself when a migration fails or is cancelled.
 */
async function recoverTransfer(ctx: MigrationContext, m: Migration): Promise<Result> {
  const uid = m.status!.vmUID!;
  let session: QmpSession | undefined;
  try {
    session = await QmpSession.connect(ctx.driver.qmpSocket!(uid)!, { timeoutMs: 2_000 });
    const info = await session.execute<{ status?: string; downtime?: number; 'error-desc'?: string }>('query-migrate');
    if (info.status === 'completed') {
      await reportSource(ctx, m, { completedAt: new Date().toISOString(), qemuDowntimeMs: info.downtime });
      return {};
    }
    // Cancelled now; its leftovers go once the Migration has ended (source.ts abandon).
    await endOrphanedMigration(session);
    await reportSource(
      ctx,
      m,
      failure('SourceFailed', `the agent on node ${ctx.nodeName} restarted during the transfer (QEMU: ${info.status ?? 'none'}); cancelled`),
    );
  } catch (err) {
    await reportSource(ctx, m, failure('SourceFailed', `the guest's QEMU on node ${ctx.nodeName} does not answer: ${(err as Error).message}`));
  } finally {
    session?.close();
  }
  return {};
}

/** Whether an instance here is a migration target still waiting for its guest (not a stray of the VM controller's). */
export function waitingForMigration(ctx: Pick<MigrationContext, 'migrations' | 'nodeName'>, uid: string): boolean {
  return ctx.migrations.list().some((m) => !isTerminal(m) && m.status?.vmUID === uid && m.status?.targetNode === ctx.nodeName);
}

/**
 * Whether the VM's guest is a cold migration's to handle here: stopped for the copy at the
 * source, so that its runStrategy does not boot it again until the Migration ends.
 */
export function heldForMigration(ctx: Pick<MigrationContext, 'migrations' | 'nodeName' | 'local'>, uid: string): boolean {
  // This process's own transfer first: its Migration's startedAt may not have reached the cache yet.
  for (const l of ctx.local.values()) if (l.role === 'source' && l.vmUid === uid && l.transfer) return true;
  return ctx.migrations
    .list()
    .map(currentAttempt)
    .some(
      (m) => !isTerminal(m) && m.status?.mode === 'Cold' && m.status?.vmUID === uid && m.status?.sourceNode === ctx.nodeName && !!m.status?.source?.startedAt,
    );
}
