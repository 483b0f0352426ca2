/**
 * VMs this scheduler has placed but the informer has not shown bound yet (kube-scheduler's
 * "assumed pods", pkg/scheduler/internal/cache). Without it two decisions in a row would both
 * see a node's old free room and overcommit it.
 *
 * An assumption is made synchronously with the decision (before any await), so with many
 * workers in one event loop no decision can read the cluster between another's choice and
 * its reservation. It ends when the informer shows the VM bound (the bound object then counts
 * by itself), when the VM is gone, when the bind definitely failed, or when the informer shows
 * a newer version of the VM that is still unbound (the bind did not stick).
 */
import { objectKey } from '@shoal/api';
import type { VirtualMachine } from '@shoal/api';

export interface Assumption {
  key: string;
  uid?: string;
  nodeName: string;
  /** The VM's resourceVersion the decision was made on (the bind's precondition). */
  fromResourceVersion?: string;
  /** The bind call answered success; false while it is in flight or its outcome is unknown. */
  bound: boolean;
}

export class AssumeCache {
  private readonly byKey = new Map<string, Assumption>();

  /** Reserves the VM's room on `nodeName` until the informer catches up. */
  assume(vm: VirtualMachine, nodeName: string): Assumption {
    const a: Assumption = { key: objectKey(vm.metadata), uid: vm.metadata.uid, nodeName, fromResourceVersion: vm.metadata.resourceVersion, bound: false };
    this.byKey.set(a.key, a);
    return a;
  }

  /** The bind call succeeded. */
  confirm(key: string): void {
    const a = this.byKey.get(key);
    if (a) a.bound = true;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }

  get(key: string): Assumption | undefined {
    return this.byKey.get(key);
  }

  /** The node this incarnation of the VM is assumed on (a re-created VM of the same name is not). */
  nodeFor(vm: VirtualMachine): string | undefined {
    const a = this.byKey.get(objectKey(vm.metadata));
    return a && a.uid === vm.metadata.uid ? a.nodeName : undefined;
  }

  /**
   * Ends the assumption the informer's view of the VM makes unnecessary: bound, gone, another
   * incarnation, or a newer version still unbound. Answers whether an assumption remains.
   */
  observe(key: string, vm: VirtualMachine | undefined): boolean {
    const a = this.byKey.get(key);
    if (!a) return false;
    const stale =
      !vm ||
      vm.metadata.uid !== a.uid ||
      Boolean(vm.spec.nodeName) ||
      Boolean(vm.metadata.deletionTimestamp) ||
      vm.metadata.resourceVersion !== a.fromResourceVersion;
    if (stale) this.byKey.delete(key);
    return !stale;
  }

  get size(): number {
    return this.byKey.size;
  }

  list(): Assumption[] {
    return [...this.byKey.values()];
  }
}
