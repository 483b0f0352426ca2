/**
 * Converges the VMs bound to this node: reconcile(key) reads the VM from the informer cache
 * and the instance from the runtime, asks lifecycle.ts what to do, does it, and writes status.
 * Keys are `namespace/name`; instances are found by the VM's uid, so a deleted-and-recreated VM
 * of the same name never adopts its predecessor's process.
 */
import { ApiError, objectKey } from '@shoal/api';
import type { Informer, ShoalClient } from '@shoal/client';
import type { InstanceState, RuntimeDriver, VmLaunchSpec } from '../runtime/driver.js';
import { AGENT_FINALIZER, computeStatus, nextAction, statusPatch, type VirtualMachine } from './lifecycle.js';

export interface ReconcilerOptions {
  nodeName: string;
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
    vcpus: s.resources?.vcpus ?? 1,
    memoryMiB: s.resources?.memoryMiB ?? 256,
    image: s.image ?? 'default',
    kernel: s.kernel,
    initrd: s.initrd,
    cmdline: s.cmdline,
    command: s.command,
    network: s.network?.mode ?? 'user',
    rootDisk: s.rootDisk,
  };
}

export class VmReconciler {
  constructor(private readonly o: ReconcilerOptions) {}

  /** Instances of this VM name that are not the VM's current incarnation (or of a VM that is gone). */
  private strays(key: string, uid: string | undefined): InstanceState[] {
    return this.o.driver.list().filter((i) => objectKey(i) === key && i.uid !== uid);
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const { driver } = this.o;
    const vm = this.o.informer.get(key);
    const mine = vm && vm.spec.nodeName === this.o.nodeName ? vm : undefined;
    for (const stray of this.strays(key, mine?.metadata.uid)) {
      this.o.log.info({ vm: key, uid: stray.uid }, 'stopping an instance no longer bound here');
      await driver.stop(stray.uid, this.o.stopGraceMs);
      await driver.remove(stray.uid);
    }
    if (!mine) return;
    const uid = mine.metadata.uid!;

    if (mine.metadata.deletionTimestamp) {
      const instance = driver.state(uid);
      if (instance && instance.phase !== 'exited') {
        await this.writeStatus(mine, instance, true);
        await driver.stop(uid, this.o.stopGraceMs);
      }
      await driver.remove(uid);
      await this.removeFinalizer(mine);
      return;
    }

    if (!(mine.metadata.finalizers ?? []).includes(AGENT_FINALIZER)) {
      // The finalizer goes on before anything runs, so a delete always waits for the process to go.
      await this.o.client.patch('vm', mine.metadata.name!, { metadata: { resourceVersion: mine.metadata.resourceVersion, finalizers: [...(mine.metadata.finalizers ?? []), AGENT_FINALIZER] } }, {
        namespace: mine.metadata.namespace,
        type: 'merge',
      });
      return; // the informer brings the updated VM back and re-queues it
    }

    let instance = driver.state(uid);
    const action = nextAction(mine, instance);
    let restarts = mine.status?.restarts ?? 0;
    switch (action.type) {
      case 'stop':
        this.o.log.info({ vm: key, reason: action.reason }, 'stopping VM');
        await driver.stop(uid, this.o.stopGraceMs);
        break;
      case 'restart':
        this.o.log.info({ vm: key }, 'restarting VM on request');
        await driver.stop(uid, this.o.stopGraceMs);
        await driver.remove(uid);
        await driver.start(launchSpec(mine));
        break;
      case 'start':
        if (instance) await driver.remove(uid);
        if (action.restart) restarts++;
        this.o.log.info({ vm: key, restart: action.restart }, 'starting VM');
        await driver.start(launchSpec(mine));
        break;
      case 'none':
        break;
    }
    instance = driver.state(uid);
    await this.writeStatus({ ...mine, status: { ...mine.status, restarts } }, instance, false);
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
