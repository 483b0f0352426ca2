/**
 * New objects go only into namespaces that exist and are not being deleted (Kubernetes'
 * NamespaceLifecycle admission): 404 for a namespace that does not exist, 403 for one that is
 * terminating, so that deleting a namespace can finish (the controller-manager's namespace controller).
 * Validating, so an object that is not valid is refused for that first.
 */
import { ApiError, notFound, type KindInfo } from '@shoal/api';
import type { ObjectStore } from '../storage/object-store.js';
import type { WatchCache } from '../storage/watch-cache.js';
import { objectKeyPath } from '../storage/keys.js';
import type { AdmissionAttributes, AdmissionPass, ValidatingAdmission } from './admission.js';

export class NamespaceAdmission implements ValidatingAdmission {
  readonly name = 'NamespaceLifecycle';

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: WatchCache,
    private readonly namespaceKind: KindInfo,
  ) {}

  validate({ operation, kind, namespace }: AdmissionAttributes): AdmissionPass | undefined {
    if (operation !== 'create' || !kind.namespaced || !namespace) return undefined;
    return async () => {
      await this.checkOpen(kind, namespace);
      // Not guarded: a namespace deleted while an object goes in has its contents deleted after it.
      return [];
    };
  }

  private async checkOpen(kind: KindInfo, namespace: string): Promise<void> {
    // A namespace created a moment ago may not be in the cache yet: etcd decides before a 404.
    const ns =
      this.cache.getObject(this.namespaceKind, undefined, namespace) ?? (await this.store.get(objectKeyPath(this.namespaceKind, undefined, namespace)))?.object;
    if (!ns) throw notFound({ kind: 'Namespace', name: namespace });
    if (ns.metadata.deletionTimestamp)
      throw new ApiError(
        403,
        'Forbidden',
        `${kind.plural} "…" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
      );
  }
}
