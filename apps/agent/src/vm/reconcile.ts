/**
 * reconcile(ctx, key) for the VMs bound to this node (STYLE.md 1–3): read the VM from the
 * informer cache and the instance from the runtime, ask lifecycle.ts what to do, do it, write
 * status. Keys are `namespace/name`; instances are found by the VM's uid, so a deleted-and-
 * recreated VM of the same name never adopts its predecessor's process.
 *
 *   lease not fresh, or the cache not → nothing at all: requeue (see FenceGate)
 *   relisted since a stale period
 *   VM gone or bound elsewhere        → stop and remove its instances here (strays), but for a
 *                                       live migration's target waiting for its guest (../migration)
 *   its instance was Fenced           → a live GET first: bound elsewhere or gone → clean up
 *                                       the instance; still bound here → carry on with that
 *                                       version (restart per runStrategy), one Event said
 *   being deleted                     → stop, remove, drop our finalizer (wins over eviction)
 *   a migration's guest               → nothing: a target's QEMU not resumed yet, or a guest
 *                                       stopped for a cold migration's copy (../migration)
 *   a target's QEMU never resumed,    → killed and removed: the VM boots afresh here
 *   its Migration over
 *   eviction requested                → status Stopping, stop within the grace, remove,
 *                                       status Pending, then unbind (eviction.ts)
 *   a guest already shutting down     → see the stop through before deciding anything else
 *   a guest that exited, to restart   → wait out its crash-loop back-off first: status
 *                                       CrashLoopBackOff, requeue at the next attempt
 *                                       (restart-backoff.ts)
 *   otherwise                         → finalizer first, then nextAction(), then status; a guest
 *                                       not booted within the boot timeout is killed (its exit
 *                                       restarts it per runStrategy)
 *
 * A reconcile never waits for a guest to shut down (runtime/driver.ts): it asks the runtime
 * (requestStop) and returns { requeueAfterMs }; the next reconcile finds the guest still
 * stopping — it asks again, and past the deadline that kills it — or exited, and carries on
 * from there. The runtime's 'change' on the exit brings the key back sooner. So each step that
 * follows a stop (remove, unbind, drop the finalizer, start again) runs in a later reconcile
 * than the stop, and only once the instance says `exited`. What that keeps:
 *
 *   - our finalizer comes off a deleted VM only when its guest is gone: the deletion path
 *     returns while the instance is anything but exited, and removes it (then the finalizer)
 *     only after;
 *   - strays are gone before the current incarnation starts: while one still stops, the
 *     reconcile returns before looking at the VM;
 *   - nothing is launched unless the FenceGate allows it, asked at the top and again right
 *     before each launch (the driver asks mayLaunch with nothing awaited in between); a start
 *     after a stop is a later reconcile, so it goes through both checks anew;
 *   - a restarted agent picks up where the last one stopped: all the flow keeps is in the
 *     apiserver (status, finalizer, annotations) and in the runtime (an instance stopping, with
 *     its deadline kept beside the guest), and every step is decided again from those.
 */
import { AGENT_FINALIZER, ApiError, EVICTION_REQUESTED_ANNOTATION, objectKey, type VirtualMachine } from '@shoal/api';
import type { Result } from '@shoal/controller-runtime';
import { FENCED_REASON, LaunchRefusedError, type InstanceState, type VmLaunchSpec } from '../runtime/driver.js';
import { FENCE_GATE_RETRY_MS, type VmContext } from './context.js';
import { evict } from './eviction.js';
import { forgetInstance } from './forget-instance.js';
import { computeStatus, exitMessage, invalidEvictionRequest, nextAction, statusPatch, type StartBlocked } from './lifecycle.js';
import { BACK_OFF_EVENT_REASON, backoffMessage, backsOff, nextBackoff, type RestartBackoff } from './restart-backoff.js';
import { requestStop } from './stopping.js';
import { prepareDisks, type LaunchDisk } from '../volumes/attach.js';
import type { TapNic } from '../runtime/qemu/command-line.js';
import { IMAGE_PULLING, type BootImage } from '../images/boot-image.js';
import { noCloudFiles } from '../images/config-drive.js';

/** The Event reason of a guest killed for not booting within the boot timeout. */
export const BOOT_TIMED_OUT = 'BootTimedOut';
/** The Event reason of a migration target's QEMU discarded because its Migration ended without resuming it. */
export const DISCARDED_MIGRATION_TARGET = 'MigrationTargetDiscarded';

/** How soon a VM waiting for its disks or NICs looks again without an event. */
const LAUNCH_RETRY_MS = 5_000;
/** How often the status of a VM whose image is being fetched says how far it is. */
const IMAGE_PROGRESS_MS = 1_000;

export function launchSpec(vm: VirtualMachine, disks: LaunchDisk[] = [], nics: TapNic[] = [], boot?: BootImage): VmLaunchSpec {
  const s = vm.spec;
  return {
    uid: vm.metadata.uid!,
    namespace: vm.metadata.namespace!,
    name: vm.metadata.name!,
    vcpus: s.resources.vcpus,
    memoryMiB: s.resources.memoryMiB,
    image: s.image,
    ...(boot ? { boot: { kernel: boot.kernel, initrd: boot.initrd, kernelArgs: boot.kernelArgs } } : {}),
    ...(boot?.guestConfig === 'CloudInit' ? { configDrive: noCloudFiles(vm) } : {}),
    kernel: s.kernel,
    initrd: s.initrd,
    cmdline: s.cmdline,
    command: s.command,
    // 'default' with no NIC (the cluster has no default Network, or this agent attaches none): user networking.
    network: s.network.mode === 'none' ? 'none' : 'user',
    disks,
    ...(nics.length ? { nics } : {}),
    ...(s.ports?.length ? { ports: s.ports.map((p) => ({ protocol: p.protocol ?? 'TCP', hostPort: p.hostPort, guestPort: p.guestPort })) } : {}),
  };
}

export async function reconcile(ctx: VmContext, key: string): Promise<Result> {
  const { driver } = ctx;
  if (!ctx.fence.mayAct()) return { requeueAfterMs: FENCE_GATE_RETRY_MS };
  const vm = ctx.vms.get(key);
  let mine = vm && vm.spec.nodeName === ctx.nodeName ? vm : undefined;
  const strays = await cleanUpStrays(ctx, key, mine?.metadata.uid);
  if (strays) return strays;
  if (!mine) {
    ctx.warnedEviction.delete(key);
    ctx.liveMigrationFallback.delete(key);
    return {};
  }
  const uid = mine.metadata.uid!;

  const fenced = driver.state(uid);
  if (fenced?.exit?.reason === FENCED_REASON && !mine.metadata.deletionTimestamp) {
    // While this node was fenced the health controller may have moved the VM: never restart
    // it (nor report on it) on the word of the cache, only on the apiserver's.
    const live = await liveIfBoundHere(ctx, mine);
    if (!live) return (await cleanUp(ctx, key, fenced, 'fenced instance: the VM is gone or bound elsewhere now; removing it here')) ?? {};
    reportFence(ctx, live, fenced);
    mine = live;
  }

  if (mine.metadata.deletionTimestamp) return finishDeletion(ctx, mine);
  // A migration's guest (../migration): a target's QEMU not resumed yet, or a guest stopped for
  // a cold move's copy. The migration's reconcile hands it back (and requeues the VM).
  const waiting = driver.state(uid);
  if (waiting?.incoming) return ctx.waitingForMigration?.(uid) ? {} : discardUnresumed(ctx, mine, waiting);
  if (ctx.heldForMigration?.(uid)) return {};

  warnInvalidEviction(ctx, key, mine);
  let instance = driver.state(uid);
  const action = nextAction(mine, instance);
  // Before the finalizer step: a VM evicted before this agent ever added its finalizer is
  // unbound without gaining one it would have to drop again at once.
  if (action.type === 'evict') return evict(ctx, mine, instance, action);

  if (!(mine.metadata.finalizers ?? []).includes(AGENT_FINALIZER)) {
    // The finalizer goes on before anything runs, so a delete always waits for the process to go.
    await ctx.client.patch(
      'vm',
      mine.metadata.name!,
      { metadata: { resourceVersion: mine.metadata.resourceVersion, finalizers: [...(mine.metadata.finalizers ?? []), AGENT_FINALIZER] } },
      { namespace: mine.metadata.namespace, type: 'merge', discardAnswer: true },
    );
    return {}; // the informer brings the updated VM back and re-queues it
  }

  // A guest already shutting down (a stop, a restart, a runStrategy that changed back meanwhile)
  // is seen through first; once it has exited, nextAction decides on the exit as usual.
  if (instance?.phase === 'stopping') return stopAndReport(ctx, mine, 'stop');

  let restarts = mine.status?.restarts ?? 0;
  // Asked again right before each launch: the awaits since the check at the top are where a
  // frozen agent would have lost its lease.
  const mayLaunch = () => ctx.fence.mayAct();
  try {
    switch (action.type) {
      case 'stop':
        ctx.log.info({ vm: key, reason: action.reason }, 'stopping VM');
        return await stopAndReport(ctx, mine, 'stop');
      case 'restart':
        if (instance && instance.phase !== 'exited') {
          ctx.log.info({ vm: key }, 'restarting VM on request');
          return await stopAndReport(ctx, mine, 'restart');
        }
        // Its guest has exited (this restart's stop, or on its own): boot it again.
        if (!mayLaunch()) return { requeueAfterMs: FENCE_GATE_RETRY_MS };
        {
          const launch = await prepareLaunch(ctx, mine);
          if (!('disks' in launch)) return launch;
          if (instance) await driver.remove(uid);
          await driver.start(launchSpec(mine, launch.disks, launch.nics, launch.boot), mayLaunch);
        }
        break;
      case 'start':
        if (action.restart && instance && backsOff(instance.exit)) {
          const waiting = await holdBackRestart(ctx, mine, instance);
          if (waiting) return waiting;
        }
        if (!mayLaunch()) return { requeueAfterMs: FENCE_GATE_RETRY_MS };
        {
          const launch = await prepareLaunch(ctx, mine);
          if (!('disks' in launch)) return launch;
          if (instance) await driver.remove(uid);
          if (action.restart) restarts++;
          ctx.log.info({ vm: key, restart: action.restart }, 'starting VM');
          await driver.start(launchSpec(mine, launch.disks, launch.nics, launch.boot), mayLaunch);
        }
        break;
      case 'none': {
        const overdue = bootOverdue(ctx, instance);
        if (overdue === true) return await killUnbooted(ctx, mine, instance!);
        break;
      }
    }
  } catch (err) {
    if (!(err instanceof LaunchRefusedError)) throw err;
    ctx.log.info({ vm: key }, err.message);
    return { requeueAfterMs: FENCE_GATE_RETRY_MS };
  }
  instance = driver.state(uid);
  await writeStatus(ctx, { ...mine, status: { ...mine.status, restarts } }, instance, false);
  // A guest still booting under a boot timeout: looked at again when it runs out (no event may come).
  const bootLeftMs = bootOverdue(ctx, instance);
  return typeof bootLeftMs === 'number' ? { requeueAfterMs: bootLeftMs } : {};
}

/**
 * A migration target's QEMU, never resumed, whose Migration is over while the VM is bound here —
 * it came here another way (rescued from its failed source node) or the resume failed. What it
 * holds is not a guest to run: it is killed and removed, said in an Event, and the VM boots
 * afresh per its runStrategy.
 */
async function discardUnresumed(ctx: VmContext, vm: VirtualMachine, instance: InstanceState): Promise<Result> {
  if (instance.phase !== 'exited') {
    const message = `a migration's waiting QEMU on node ${ctx.nodeName} was never resumed and its Migration is over: discarding it; runStrategy ${vm.spec.runStrategy} decides what follows`;
    ctx.log.info({ vm: objectKey(vm.metadata), uid: instance.uid }, message);
    ctx.recorder.event(vm, 'Normal', DISCARDED_MIGRATION_TARGET, message);
    await ctx.driver.kill(instance.uid);
    return { requeueAfterMs: FENCE_GATE_RETRY_MS };
  }
  await forgetInstance(ctx, instance.uid);
  return { requeueAfterMs: 0 };
}

/**
 * For a guest still booting under a boot timeout: true once it is past it, else the ms left
 * (the reconcile comes back then); undefined when there is nothing to watch.
 */
function bootOverdue(ctx: VmContext, instance: InstanceState | undefined): true | number | undefined {
  if (!ctx.bootTimeoutMs || instance?.phase !== 'starting') return undefined;
  const left = Date.parse(instance.startedAt) + ctx.bootTimeoutMs - Date.now();
  return left <= 0 ? true : left;
}

/**
 * A guest that did not boot within the boot timeout (its console never showed the boot marker:
 * a hung kernel, an init that never starts) is killed, said in a Warning Event; its exit is then
 * handled like any other — restarted per its runStrategy, with the crash-loop back-off.
 */
async function killUnbooted(ctx: VmContext, vm: VirtualMachine, instance: InstanceState): Promise<Result> {
  const message = `the guest did not boot within ${ctx.bootTimeoutMs! / 1000}s of its start on node ${ctx.nodeName}: killing it (runStrategy ${vm.spec.runStrategy} decides what follows)`;
  ctx.log.warn({ vm: objectKey(vm.metadata), startedAt: instance.startedAt }, message);
  ctx.recorder.event(vm, 'Warning', BOOT_TIMED_OUT, message);
  await ctx.driver.kill(instance.uid);
  return {};
}

/**
 * A restart after an exit waits out its crash-loop back-off (restart-backoff.ts). The step is
 * taken once per exit — kept on disk, said in one Warning Event — and until its time the status
 * says CrashLoopBackOff and the reconcile returns, to come back then: it never sleeps. Answers
 * undefined once the wait is over: the caller restarts the VM.
 */
async function holdBackRestart(ctx: VmContext, vm: VirtualMachine, instance: InstanceState): Promise<Result | undefined> {
  const { policy, store } = ctx.restartBackoff;
  const uid = vm.metadata.uid!;
  const previous = await store.get(uid);
  const backoff = nextBackoff(policy, previous, vm.metadata.generation ?? 0, instance);
  const waitMs = Date.parse(backoff.nextRestartAt) - Date.now();
  if (backoff !== previous) {
    await store.set(uid, backoff);
    if (waitMs > 0) {
      const message = backoffMessage(backoff, vm.status?.restarts ?? 0, exitMessage(ctx.nodeName, instance.exit!));
      ctx.log.info({ vm: objectKey(vm.metadata), exits: backoff.exits, delayMs: backoff.delayMs, nextRestartAt: backoff.nextRestartAt }, message);
      ctx.recorder.event(vm, 'Warning', BACK_OFF_EVENT_REASON, message);
    }
  }
  if (waitMs <= 0) return undefined;
  await writeStatus(ctx, vm, instance, false, backoff);
  return { requeueAfterMs: waitMs };
}

/**
 * What a launch needs made ready on this node: the VM's disks (volumes/attach.ts) and its NICs
 * on Networks (network/). When one is not ready — a disk not made yet, elsewhere or without its
 * file; an address or a Network's overlay segment not given yet — the Result of a VM that
 * waits, its status saying why (phase Scheduled, the reason). A Volume's change requeues the VMs
 * attaching it (controller.ts), the VM's own change its key; the retry is for what no event
 * announces (a shared pool mounted late).
 */
async function prepareLaunch(ctx: VmContext, vm: VirtualMachine): Promise<{ disks: LaunchDisk[]; nics: TapNic[]; boot?: BootImage } | Result> {
  let boot: BootImage | undefined;
  if (ctx.bootImage) {
    const image = ctx.bootImage(vm.spec.image);
    // A fetch under way: looked at again soon, for its progress in the status (one Event for all of it).
    if (!image.ok) return notLaunched(ctx, vm, image.reason, image.message, image.fetching ? IMAGE_PROGRESS_MS : undefined);
    boot = image.boot;
  }
  let disks: LaunchDisk[] = [];
  if (ctx.volumes) {
    const prepared = await prepareDisks(ctx.volumes, vm);
    if (!prepared.ok) return notLaunched(ctx, vm, prepared.reason, prepared.message, prepared.reason === IMAGE_PULLING ? IMAGE_PROGRESS_MS : undefined);
    disks = prepared.disks;
  }
  if (!ctx.attachNetworks) {
    // Without the node's side of networks, a VM that names none boots with user networking.
    const networks = (vm.spec.networks ?? []).map((n) => n.name);
    if (!networks.length) return { disks, nics: [], boot };
    return notLaunched(
      ctx,
      vm,
      'NetworksUnsupported',
      `node ${ctx.nodeName}'s agent attaches no VM to Networks (it runs without --vm-networks; spec.networks: ${networks.join(', ')}); the VM waits`,
    );
  }
  const attachment = await ctx.attachNetworks(vm);
  if (!attachment.ok) return notLaunched(ctx, vm, attachment.reason, attachment.message);
  return { disks, nics: attachment.nics, boot };
}

/**
 * A VM that cannot boot here now: said once as an Event and always in its status; looked at
 * again later. Progress (an image being fetched) is said in the status as it goes, in one Event
 * for the whole wait, and looked at again after `progressMs`.
 */
async function notLaunched(ctx: VmContext, vm: VirtualMachine, reason: string, message: string, progressMs?: number): Promise<Result> {
  const key = objectKey(vm.metadata);
  const said = progressMs === undefined ? message : reason;
  if (ctx.launchBlockedBy.get(key) !== said) {
    ctx.launchBlockedBy.set(key, said);
    ctx.log.warn({ vm: key, reason }, message);
    ctx.recorder.event(vm, progressMs === undefined ? 'Warning' : 'Normal', reason, message);
  }
  await writeStatus(ctx, vm, undefined, false, undefined, { reason, message });
  return { requeueAfterMs: progressMs ?? LAUNCH_RETRY_MS };
}

/** A stop (or the stop half of a restart) of a VM that stays: asked for, its status written, looked at again until the guest has exited. */
async function stopAndReport(ctx: VmContext, vm: VirtualMachine, why: 'stop' | 'restart'): Promise<Result> {
  const uid = vm.metadata.uid!;
  const waiting = await requestStop(ctx, uid, ctx.stopGraceMs);
  await writeStatus(ctx, vm, ctx.driver.state(uid), false);
  // Exited already (a grace of 0): a restart boots it in the next pass; a stop is done.
  return waiting ?? (why === 'restart' ? { requeueAfterMs: 0 } : {});
}

/**
 * A VM being deleted: its guest is stopped (status Stopping meanwhile), its instance removed,
 * and only then our finalizer dropped, which lets the delete complete. Each reconcile takes it
 * as far as the guest allows.
 */
async function finishDeletion(ctx: VmContext, vm: VirtualMachine): Promise<Result> {
  const uid = vm.metadata.uid!;
  const instance = ctx.driver.state(uid);
  if (instance && instance.phase !== 'exited') {
    await writeStatus(ctx, vm, instance, true);
    const waiting = await requestStop(ctx, uid, ctx.stopGraceMs);
    if (waiting) return waiting;
  }
  await forgetInstance(ctx, uid);
  await removeFinalizer(ctx, vm);
  return {};
}

/** Instances of this VM name that are not the VM's current incarnation (or of a VM that is gone), stopped and removed; a Result while one is still stopping. */
async function cleanUpStrays(ctx: VmContext, key: string, uid: string | undefined): Promise<Result | undefined> {
  let soonest: number | undefined;
  const strays = ctx.driver.list().filter((i) => objectKey(i) === key && i.uid !== uid && !(i.incoming && ctx.waitingForMigration?.(i.uid)));
  for (const stray of strays) {
    const waiting = await cleanUp(ctx, key, stray, 'stopping an instance no longer bound here');
    if (waiting) soonest = Math.min(soonest ?? Infinity, waiting.requeueAfterMs ?? 0);
  }
  return soonest === undefined ? undefined : { requeueAfterMs: soonest };
}

/** Stops (asks, or kills past the deadline) and removes one instance; a Result while it is still stopping. */
async function cleanUp(ctx: VmContext, key: string, instance: InstanceState, why: string): Promise<Result | undefined> {
  // Said once, when the stop is first asked for, not on every look while it stops.
  if (instance.phase !== 'stopping') ctx.log.info({ vm: key, uid: instance.uid }, why);
  if (instance.phase !== 'exited') {
    const waiting = await requestStop(ctx, instance.uid, ctx.stopGraceMs);
    if (waiting) return waiting;
  }
  await forgetInstance(ctx, instance.uid);
  return undefined;
}

/** The VM as the apiserver has it now, when it is still this incarnation and bound to this node. */
async function liveIfBoundHere(ctx: VmContext, vm: VirtualMachine): Promise<VirtualMachine | undefined> {
  try {
    const live = await ctx.client.get<VirtualMachine>('vm', vm.metadata.name!, { namespace: vm.metadata.namespace });
    return live.metadata.uid === vm.metadata.uid && live.spec.nodeName === ctx.nodeName ? live : undefined;
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

/** One Warning Event per fencing of a VM still bound here, saying what happens next. */
function reportFence(ctx: VmContext, vm: VirtualMachine, instance: InstanceState): void {
  const at = instance.exit!.at;
  if (ctx.reportedFence.get(instance.uid) === at) return;
  ctx.reportedFence.set(instance.uid, at);
  const next =
    nextAction(vm, instance).type === 'start'
      ? `restarting it here (runStrategy ${vm.spec.runStrategy})`
      : `runStrategy ${vm.spec.runStrategy} keeps it stopped`;
  const message = `the guest was stopped because node ${ctx.nodeName} went more than ${ctx.fenceTimeoutSeconds}s without renewing its lease; the VM is still bound here: ${next}`;
  ctx.log.info({ vm: objectKey(vm.metadata), at }, message);
  ctx.recorder.event(vm, 'Warning', FENCED_REASON, message);
}

function warnInvalidEviction(ctx: VmContext, key: string, vm: VirtualMachine): void {
  const raw = invalidEvictionRequest(vm);
  if (raw === undefined) {
    ctx.warnedEviction.delete(key);
    return;
  }
  if (ctx.warnedEviction.get(key) === raw) return;
  ctx.warnedEviction.set(key, raw);
  ctx.log.warn(
    { vm: key, annotation: EVICTION_REQUESTED_ANNOTATION, value: raw },
    'ignoring an eviction request that is not valid JSON with a reason and a gracePeriodSeconds >= 0',
  );
}

async function writeStatus(
  ctx: VmContext,
  vm: VirtualMachine,
  instance: InstanceState | undefined,
  deleting: boolean,
  backoff?: RestartBackoff,
  blocked?: StartBlocked,
): Promise<void> {
  const next = computeStatus(vm, ctx.nodeName, instance, deleting, undefined, backoff, blocked);
  const patch = statusPatch(ctx.vms.get(objectKey(vm.metadata))?.status, next);
  if (!patch) return;
  try {
    await ctx.client.patch('vm', vm.metadata.name!, { status: patch }, { namespace: vm.metadata.namespace, type: 'merge', status: true, discardAnswer: true });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
}

async function removeFinalizer(ctx: VmContext, vm: VirtualMachine): Promise<void> {
  const finalizers = (vm.metadata.finalizers ?? []).filter((f) => f !== AGENT_FINALIZER);
  if (finalizers.length === (vm.metadata.finalizers ?? []).length) return;
  try {
    await ctx.client.patch(
      'vm',
      vm.metadata.name!,
      { metadata: { resourceVersion: vm.metadata.resourceVersion, finalizers: finalizers.length ? finalizers : null } },
      { namespace: vm.metadata.namespace, type: 'merge', discardAnswer: true },
    );
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 404)) throw err;
  }
}
