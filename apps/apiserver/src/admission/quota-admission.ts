/**
 * ResourceQuota admission: a VirtualMachine is created, or its resources raised, only if its
 * namespace stays within every hard limit of its quotas (@shoal/api's quota-usage.ts decides, Kubernetes'
 * wording). Usage is summed over the namespace's VMs in the watch cache after the cache has
 * caught up with etcd, so it is a consistent read at one revision.
 *
 * A validating admission plugin (admission.ts): it judges the VM as validated and defaulted.
 *
 * Two creates must not both fit into the last free slot. The answer carries a WriteGuard: no VM
 * key of the namespace created or modified since the revision the usage was computed at,
 * checked by etcd in the VM write's own transaction; if one was, the resource service runs this
 * again on fresh data. Within one apiserver, quota-checked writes to one namespace also take
 * turns (`turn`), so a burst of creates is admitted one after another instead of failing each
 * other's guards round after round; across apiservers the guard alone keeps the limit.
 *
 * In a namespace without quotas the guard is on the namespace's quota keys instead: a quota
 * created while the VM was admitted (perhaps not yet in the cache) sends it back to be checked.
 * Changes to an existing quota's limits made while a VM is admitted are not guarded (neither
 * are they in Kubernetes); status.used writes must not be, or they would fail every create.
 */
import type { KindInfo, KubeObject } from '@shoal/api';
import { ApiError } from '@shoal/api';
import type { ObjectStore, WriteGuard } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { listPrefix } from '../storage/keys.js';
import type { AdmissionAttributes, AdmissionPass, EndTurn, ValidatingAdmission } from './admission.js';
import { addUsage, checkQuotas, namespaceUsage, QUOTA_RESOURCES, vmUsage, zeroUsage, type Usage } from '@shoal/api';

/** How long admission waits for the watch cache to reach etcd's current revision. */
const CATCH_UP_MS = 3_000;

export class QuotaAdmission implements ValidatingAdmission {
  readonly name = 'ResourceQuota';
  /** Per namespace: the tail of the queue of quota-checked writes. */
  private readonly turns = new Map<string, Promise<void>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: WatchCache,
    private readonly vmKind: KindInfo,
    private readonly quotaKind: KindInfo,
  ) {}

  /** A VM's create needs room; of its updates, only one that raises its vCPUs or memory does (lowering them never does). */
  validate(a: AdmissionAttributes): AdmissionPass | undefined {
    if (a.kind.kind !== this.vmKind.kind) return undefined;
    const vm = a.object;
    if (a.operation === 'create') return (fresh) => this.admit(vm, vmUsage(vm), fresh);
    const delta = addUsage(vmUsage(vm), vmUsage(a.oldObject!), -1);
    const raised: Usage = zeroUsage();
    for (const r of QUOTA_RESOURCES) raised[r] = Math.max(0, delta[r]);
    if (raised.vcpus === 0 && raised.memoryMiB === 0) return undefined;
    return (fresh) => this.admit(vm, raised, fresh);
  }

  /**
   * Quota-checked writes to a namespace with quotas take turns in this apiserver: resolves when
   * it is this write's turn, with the function that ends it. Undefined when no turn is needed.
   */
  async turn({ kind, namespace }: AdmissionAttributes): Promise<EndTurn | undefined> {
    if (kind.kind !== this.vmKind.kind || !namespace || !this.quotasIn(namespace).length) return undefined;
    const before = this.turns.get(namespace) ?? Promise.resolve();
    let end!: () => void;
    const mine = new Promise<void>((resolve) => (end = resolve));
    const tail = before.then(() => mine);
    this.turns.set(namespace, tail);
    await before;
    return () => {
      end();
      if (this.turns.get(namespace) === tail) this.turns.delete(namespace);
    };
  }

  private quotasIn(namespace: string): KubeObject[] {
    const out: KubeObject[] = [];
    for (const { object } of this.cache.objects(this.quotaKind)) if (object.metadata.namespace === namespace) out.push(object);
    return out;
  }

  private async admit(vm: KubeObject, requested: Usage, fresh: boolean): Promise<WriteGuard[]> {
    const namespace = vm.metadata.namespace!;
    // With quotas (or on a retry), read at etcd's current revision: the last write's usage must count.
    if (fresh || this.quotasIn(namespace).length) await this.catchUp();
    // From here on synchronous: the cache does not move between the reads and `revision`.
    const revision = this.cache.revision;
    const quotas = this.quotasIn(namespace);
    if (!quotas.length) return [{ prefix: listPrefix(this.quotaKind, namespace), unchangedSince: revision }];
    const used = namespaceUsage(
      (function* (objects) {
        for (const s of objects) yield s.object;
      })(this.cache.objects(this.vmKind)),
      namespace,
    );
    checkQuotas(this.vmKind, vm.metadata.name, quotas, used, requested);
    return [{ prefix: listPrefix(this.vmKind, namespace), unchangedSince: revision }];
  }

  private async catchUp(): Promise<void> {
    const revision = await this.store.currentRevision();
    if (!(await this.cache.waitForRevision(revision, CATCH_UP_MS)))
      throw new ApiError(504, 'Timeout', `resource quota: the watch cache did not reach revision ${revision} (at ${this.cache.revision}); please try again`, {
        retryAfterSeconds: 1,
      });
  }
}
