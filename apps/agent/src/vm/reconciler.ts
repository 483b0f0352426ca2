/**
 * Converges the VMs bound to this node: reconcile(key) reads the VM from the informer cache
 * and the instance from the runtime, asks lifecycle.ts what to do, does it, and writes status.
 * Keys are `namespace/name`; instances are found by the VM's uid, so a deleted-and-recreated VM
 * of the same name never adopts its predecessor's process.
 *
 *   lease not fresh, or the cache not → nothing at all: requeue (see FenceGate)
 *   relisted since a stale period
 *   VM gone or bound elsewhere        → stop and remove its instances here (strays)
 *   its instance was Fenced           → a live GET first: bound elsewhere or gone → clean up
 *                                       the instance; still bound here → carry on with that
 *                                       version (restart per runStrategy), one Event said
 *   being deleted                     → stop, remove, drop our finalizer (wins over eviction)
 *   eviction requested                → status Stopping, stop within the grace, remove,
 *                                       status Pending, then unbind (see evict())
 *   otherwise                         → finalizer first, then nextAction(), then status
 */
import { AGENT_FINALIZER, ApiError, EVICTION_REQUESTED_ANNOTATION, objectKey, type EvictionRequest, type VirtualMachine } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { EventRecorder } from '@shoal/controller-runtime';
import { FENCED_REASON, LaunchRefusedError, type InstanceState, type RuntimeDriver, type VmLaunchSpec } from '../runtime/driver.js';
import { computeStatus, evictionStatus, invalidEvictionRequest, nextAction, statusPatch, type Action } from './lifecycle.js';

/**
 * Whether the agent may act on what its informer holds. False while its lease is not fresh (the
 * control plane may count the node dead) or while its cache has not been relisted since a stale
 * period (a VM may have been bound elsewhere meanwhile): nothing is started or written then.
 */
export interface FenceGate {
  mayAct(): boolean;
}

/** How soon a key turned away by the FenceGate is looked at again. */
export const FENCE_GATE_RETRY_MS = 500;

export interface ReconcilerOptions {
  nodeName: string;
  fence: FenceGate;
  /** For the Fenced Event; the agent's fence timeout is said in it. */
  recorder: Pick<EventRecorder, 'event'>;
  fenceTimeoutSeconds: number;
  client: ShoalClient;
  informer: Informer<VirtualMachine>;
  driver: RuntimeDriver;
  /** How long a guest gets to shut down before it is killed. */
  stopGraceMs: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export function launchSpec(vm: VirtualMachine): VmLaunchSpec {
  const s = vm.spec;
  return {
    uid: vm.metadata.uid!,
    namespace: vm.metadata.namespace!,
    name: vm.metadata.name!,
    vcpus: s.resources.vcpus,
    memoryMiB: s.resources.memoryMiB,
    image: s.image,
    kernel: s.kernel,
    initrd: s.initrd,
    cmdline: s.cmdline,
    command: s.command,
    network: s.network.mode,
    rootDisk: s.rootDisk,
  };
}

export class VmReconciler {
  /** The invalid eviction annotation value last warned about, per VM key: a bad value is reported once, not on every reconcile. */
  private readonly warnedEviction = new Map<string, string>();
  /** The fenced exit (its time) last reported with an Event, per instance uid: one Event per fencing. */
  private readonly reportedFence = new Map<string, string>();

  constructor(private readonly o: ReconcilerOptions) {}

  /** Instances of this VM name that are not the VM's current incarnation (or of a VM that is gone). */
  private strays(key: string, uid: string | undefined): InstanceState[] {
    return this.o.driver.list().filter((i) => objectKey(i) === key && i.uid !== uid);
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const { driver } = this.o;
    if (!this.o.fence.mayAct()) return { requeueAfterMs: FENCE_GATE_RETRY_MS };
    const vm = this.o.informer.get(key);
    let mine = vm && vm.spec.nodeName === this.o.nodeName ? vm : undefined;
    for (const stray of this.strays(key, mine?.metadata.uid)) await this.cleanUp(key, stray.uid, 'stopping an instance no longer bound here');
    if (!mine) {
      this.warnedEviction.delete(key);
      return;
    }
    const uid = mine.metadata.uid!;

    const fenced = driver.state(uid);
    if (fenced?.exit?.reason === FENCED_REASON && !mine.metadata.deletionTimestamp) {
      // While this node was fenced the health controller may have moved the VM: never restart
      // it (nor report on it) on the word of the cache, only on the apiserver's.
      const live = await this.liveIfBoundHere(mine);
      if (!live) return this.cleanUp(key, uid, 'fenced instance: the VM is gone or bound elsewhere now; removing it here');
      this.reportFence(live, fenced);
      mine = live;
    }

    if (mine.metadata.deletionTimestamp) {
      const instance = driver.state(uid);
      if (instance && instance.phase !== 'exited') {
        await this.writeStatus(mine, instance, true);
        await driver.stop(uid, this.o.stopGraceMs);
      }
      await driver.remove(uid);
      this.reportedFence.delete(uid);
      await this.removeFinalizer(mine);
      return;
    }

    this.warnInvalidEviction(key, mine);
    let instance = driver.state(uid);
    const action = nextAction(mine, instance);
    // Before the finalizer step: a VM evicted before this agent ever added its finalizer is
    // unbound without gaining one it would have to drop again at once.
    if (action.type === 'evict') return this.evict(mine, instance, action);

    if (!(mine.metadata.finalizers ?? []).includes(AGENT_FINALIZER)) {
      // The finalizer goes on before anything runs, so a delete always waits for the process to go.
      await this.o.client.patch('vm', mine.metadata.name!, { metadata: { resourceVersion: mine.metadata.resourceVersion, finalizers: [...(mine.metadata.finalizers ?? []), AGENT_FINALIZER] } }, {
        namespace: mine.metadata.namespace,
        type: 'merge',
      });
      return; // the informer brings the updated VM back and re-queues it
    }

    let restarts = mine.status?.restarts ?? 0;
    // Asked again right before each launch: the awaits since the check at the top are where a
    // frozen agent would have lost its lease.
    const mayLaunch = () => this.o.fence.mayAct();
    try {
      switch (action.type) {
        case 'stop':
          this.o.log.info({ vm: key, reason: action.reason }, 'stopping VM');
          await driver.stop(uid, this.o.stopGraceMs);
          break;
        case 'restart':
          this.o.log.info({ vm: key }, 'restarting VM on request');
          await driver.stop(uid, this.o.stopGraceMs);
          await driver.remove(uid);
          await driver.start(launchSpec(mine), mayLaunch);
          break;
        case 'start':
          if (!mayLaunch()) return { requeueAfterMs: FENCE_GATE_RETRY_MS };
          if (instance) await driver.remove(uid);
          if (action.restart) restarts++;
          this.o.log.info({ vm: key, restart: action.restart }, 'starting VM');
          await driver.start(launchSpec(mine), mayLaunch);
          break;
        case 'none':
          break;
      }
    } catch (err) {
      if (!(err instanceof LaunchRefusedError)) throw err;
      this.o.log.info({ vm: key }, err.message);
      return { requeueAfterMs: FENCE_GATE_RETRY_MS };
    }
    instance = driver.state(uid);
    await this.writeStatus({ ...mine, status: { ...mine.status, restarts } }, instance, false);
  }

  private async cleanUp(key: string, uid: string, why: string): Promise<void> {
    this.o.log.info({ vm: key, uid }, why);
    await this.o.driver.stop(uid, this.o.stopGraceMs);
    await this.o.driver.remove(uid);
    this.reportedFence.delete(uid);
  }

  /** The VM as the apiserver has it now, when it is still this incarnation and bound to this node. */
  private async liveIfBoundHere(vm: VirtualMachine): Promise<VirtualMachine | undefined> {
    try {
      const live = await this.o.client.get<VirtualMachine>('vm', vm.metadata.name!, { namespace: vm.metadata.namespace });
      return live.metadata.uid === vm.metadata.uid && live.spec.nodeName === this.o.nodeName ? live : undefined;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** One Warning Event per fencing of a VM still bound here, saying what happens next. */
  private reportFence(vm: VirtualMachine, instance: InstanceState): void {
    const at = instance.exit!.at;
    if (this.reportedFence.get(instance.uid) === at) return;
    this.reportedFence.set(instance.uid, at);
    const next = nextAction(vm, instance).type === 'start' ? `restarting it here (runStrategy ${vm.spec.runStrategy})` : `runStrategy ${vm.spec.runStrategy} keeps it stopped`;
    const message = `the guest was stopped because node ${this.o.nodeName} went more than ${this.o.fenceTimeoutSeconds}s without renewing its lease; the VM is still bound here: ${next}`;
    this.o.log.info({ vm: objectKey(vm.metadata), at }, message);
    this.o.recorder.event(vm, 'Warning', FENCED_REASON, message);
  }

  /**
   * Carries out an eviction. Each step is one that a retry (or a restarted agent) can redo:
   *
   *   1. status Stopping, reason = the request's (only while a guest still runs)
   *   2. stop the guest within the request's grace (0: killed at once), forget the instance
   *   3. status Pending, no node, reason/message = the request's
   *   4. ONE merge patch: spec.nodeName, the annotation and our finalizer removed
   *
   * Status goes before the unbind because the unbind is the last thing this agent can retry:
   * afterwards the VM leaves our informer (field selector spec.nodeName=<this node>), a failed
   * status write after it would never be retried, and it could race with the scheduler binding
   * the VM to its next node and that node's agent reporting. Before it, status is retried until
   * written and is ours alone to write. A crash anywhere before 4 leaves the annotation and the
   * binding in place, so the next agent finds them, with no instance, and finishes the job;
   * the room on this node is held (the VM is still bound and not Stopped) until 4.
   *
   * Every write is pinned to the version the previous step saw or wrote: a VM that changed
   * meanwhile (deleted, request withdrawn) answers 409, and the retry decides again on the
   * newer version rather than unbinding something we no longer know.
   */
  private async evict(vm: VirtualMachine, instance: InstanceState | undefined, action: Extract<Action, { type: 'evict' }>): Promise<void> {
    const { driver, log } = this.o;
    const key = objectKey(vm.metadata);
    const uid = vm.metadata.uid!;
    const { request } = action;
    let current: VirtualMachine | undefined = vm;
    if (action.stop) {
      log.info({ vm: key, reason: request.reason, gracePeriodSeconds: request.gracePeriodSeconds }, 'evicting VM: stopping its guest');
      current = await this.writeEvictionStatus(current, instance, request);
      if (!current) return;
      await driver.stop(uid, action.graceMs);
    }
    if (action.remove) {
      await driver.remove(uid);
      this.reportedFence.delete(uid);
    }
    current = await this.writeEvictionStatus(current, undefined, request);
    if (!current) return;
    const finalizers = current.metadata.finalizers ?? [];
    const kept = finalizers.filter((f) => f !== AGENT_FINALIZER);
    try {
      await this.o.client.patch(
        'vm',
        current.metadata.name!,
        {
          metadata: {
            resourceVersion: current.metadata.resourceVersion,
            annotations: { [EVICTION_REQUESTED_ANNOTATION]: null },
            // Lists are replaced whole by a merge patch; the version pin keeps others' finalizers safe.
            ...(kept.length !== finalizers.length ? { finalizers: kept.length ? kept : null } : {}),
          },
          spec: { nodeName: null },
        },
        { namespace: current.metadata.namespace, type: 'merge' },
      );
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
      return;
    }
    log.info({ vm: key, reason: request.reason }, 'evicted VM: unbound from this node');
  }

  /** Writes the eviction status on exactly `vm`'s version; answers the VM as written (or as it was, with nothing to write), undefined when it is gone. */
  private async writeEvictionStatus(vm: VirtualMachine, instance: InstanceState | undefined, request: EvictionRequest): Promise<VirtualMachine | undefined> {
    const patch = statusPatch(vm.status, evictionStatus(vm, this.o.nodeName, instance, request));
    if (!patch) return vm;
    try {
      return await this.o.client.patch<VirtualMachine>('vm', vm.metadata.name!, { metadata: { resourceVersion: vm.metadata.resourceVersion }, status: patch }, {
        namespace: vm.metadata.namespace,
        type: 'merge',
        status: true,
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  private warnInvalidEviction(key: string, vm: VirtualMachine): void {
    const raw = invalidEvictionRequest(vm);
    if (raw === undefined) {
      this.warnedEviction.delete(key);
      return;
    }
    if (this.warnedEviction.get(key) === raw) return;
    this.warnedEviction.set(key, raw);
    this.o.log.warn({ vm: key, annotation: EVICTION_REQUESTED_ANNOTATION, value: raw }, 'ignoring an eviction request that is not valid JSON with a reason and a gracePeriodSeconds >= 0');
  }

  private async writeStatus(vm: VirtualMachine, instance: InstanceState | undefined, deleting: boolean): Promise<void> {
    const next = computeStatus(vm, this.o.nodeName, instance, deleting);
    const patch = statusPatch(this.o.informer.get(objectKey(vm.metadata))?.status, next);
    if (!patch) return;
    try {
      await this.o.client.patch('vm', vm.metadata.name!, { status: patch }, { namespace: vm.metadata.namespace, type: 'merge', status: true });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }

  private async removeFinalizer(vm: VirtualMachine): Promise<void> {
    const finalizers = (vm.metadata.finalizers ?? []).filter((f) => f !== AGENT_FINALIZER);
    if (finalizers.length === (vm.metadata.finalizers ?? []).length) return;
    try {
      await this.o.client.patch('vm', vm.metadata.name!, { metadata: { resourceVersion: vm.metadata.resourceVersion, finalizers: finalizers.length ? finalizers : null } }, {
        namespace: vm.metadata.namespace,
        type: 'merge',
      });
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }
}
